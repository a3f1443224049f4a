"""Batch-invariant LayerNorm: y = (x - mean(x)) * rsqrt(var(x) + eps) * weight + bias over the last dimension.

Why it is batch-invariant: one program per row; the row's mean and then its variance (the mean of
squared deviations, a second pass) are reduced in an order fixed by the hidden size alone (see
perf_kernels.rows), in fp32, and nothing is shared between rows.
"""

from __future__ import annotations

import triton
import triton.language as tl

from perf_kernels.dtypes import element_bytes
from perf_kernels.rows import as_rows, row_config


def flops(tokens: int, hidden: int) -> int:
    """Per element: add to the sum, subtract the mean, square and add, scale by rstd, weight, bias."""
    return 7 * tokens * hidden


def bytes(tokens: int, hidden: int, dtype="bf16") -> int:  # noqa: A001 (the spec's field name)
    """Fewest bytes moved: read x, write y (tokens*hidden each), read the weight and bias once (hidden each)."""
    return (2 * tokens * hidden + 2 * hidden) * element_bytes(dtype)


@triton.jit
def _layer_norm_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr, mean_ptr, rstd_ptr,
    N, eps,
    HAS_WEIGHT: tl.constexpr, HAS_BIAS: tl.constexpr, STORE_STATS: tl.constexpr,
    SINGLE: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    y_row = y_ptr + row * N
    cols = tl.arange(0, BLOCK)
    if SINGLE:
        mask = cols < N
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        mu = tl.sum(x, axis=0) / N
        d = tl.where(mask, x - mu, 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / N + eps)
        y = d * rstd
        if HAS_WEIGHT:
            y = y * tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        if HAS_BIAS:
            y = y + tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, N, BLOCK):
            acc += tl.load(x_row + start + cols, mask=start + cols < N, other=0.0).to(tl.float32)
        mu = tl.sum(acc, axis=0) / N
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            d = tl.where(mask, x - mu, 0.0)
            acc += d * d
        rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / N + eps)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            y = (x - mu) * rstd
            if HAS_WEIGHT:
                y = y * tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            if HAS_BIAS:
                y = y + tl.load(b_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    if STORE_STATS:
        tl.store(mean_ptr + row, mu)
        tl.store(rstd_ptr + row, rstd)


def layer_norm(x, weight=None, bias=None, eps: float = 1e-5, *, return_stats: bool = False):
    """LayerNorm over the last dimension of x; the output has x's dtype. With `return_stats`, also the fp32
    mean and rstd of each row, shaped (..., 1)."""
    import torch

    n = x.shape[-1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (n,):
            raise ValueError(f"perf_kernels.layer_norm: {name} shape {tuple(t.shape)}; expected ({n},)")
    rows, shape = as_rows(x, -1)
    y = torch.empty_like(rows)
    mu = torch.empty(rows.shape[0], device=x.device, dtype=torch.float32)
    rstd = torch.empty_like(mu)
    if rows.numel():
        cfg = row_config(n)
        _layer_norm_kernel[(rows.shape[0],)](
            rows,
            weight.contiguous() if weight is not None else rows,
            bias.contiguous() if bias is not None else rows,
            y, mu, rstd,
            n, float(eps),
            HAS_WEIGHT=weight is not None, HAS_BIAS=bias is not None, STORE_STATS=return_stats,
            SINGLE=cfg.single, BLOCK=cfg.block, num_warps=cfg.num_warps,
        )
    y = y.reshape(shape)
    if return_stats:
        return y, mu.reshape(*shape[:-1], 1), rstd.reshape(*shape[:-1], 1)
    return y


def reference(x, weight=None, bias=None, eps: float = 1e-5):
    """LayerNorm computed in float64, returned in float64."""
    import torch

    xd = x.double()
    var, mu = torch.var_mean(xd, dim=-1, keepdim=True, correction=0)
    y = (xd - mu) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.double()
    return y + bias.double() if bias is not None else y
