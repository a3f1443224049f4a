"""Batch-invariant RMSNorm: y = x * rsqrt(mean(x^2) + eps) * weight over the last dimension.

Why it is batch-invariant: one program per row; the sum of squares of a row is reduced in an order
fixed by the hidden size alone (see perf_kernels.rows), in fp32, and nothing is shared between rows.
"""

from __future__ import annotations

import triton
import triton.language as tl

from perf_kernels.dtypes import element_bytes
from perf_kernels.rows import as_rows, row_config


def flops(tokens: int, hidden: int) -> int:
    """Per element: square, add to the sum, scale by rstd, scale by weight (per-row terms ignored)."""
    return 4 * tokens * hidden


def bytes(tokens: int, hidden: int, dtype="bf16") -> int:  # noqa: A001 (the spec's field name)
    """Fewest bytes moved: read x, write y (tokens*hidden each), read the weight once (hidden)."""
    return (2 * tokens * hidden + hidden) * element_bytes(dtype)


@triton.jit
def _rms_norm_kernel(
    x_ptr, w_ptr, y_ptr, rstd_ptr,
    N, eps,
    HAS_WEIGHT: tl.constexpr, STORE_RSTD: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    y_row = y_ptr + row * N
    cols = tl.arange(0, BLOCK)
    if SINGLE:
        mask = cols < N
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + eps)
        y = x * rstd
        if HAS_WEIGHT:
            y = y * tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            acc += x * x
        rstd = 1.0 / tl.sqrt(tl.sum(acc, axis=0) / N + eps)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            y = x * rstd
            if HAS_WEIGHT:
                y = y * tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    if STORE_RSTD:
        tl.store(rstd_ptr + row, rstd)


def rms_norm(x, weight=None, eps: float = 1e-6, *, return_rstd: bool = False, out=None):
    """RMSNorm over the last dimension of x; the output has x's dtype (rstd, if asked, is fp32 per row)."""
    import torch

    n = x.shape[-1]
    if weight is not None and weight.shape != (n,):
        raise ValueError(f"perf_kernels.rms_norm: weight shape {tuple(weight.shape)}; expected ({n},)")
    rows, shape = as_rows(x, -1)
    if out is not None and (out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous()):
        raise ValueError(f"perf_kernels.rms_norm: out must be contiguous {tuple(x.shape)} {x.dtype}, got {tuple(out.shape)} {out.dtype}")
    y = torch.empty_like(rows) if out is None else out.view(rows.shape)
    rstd = torch.empty(rows.shape[0], device=x.device, dtype=torch.float32) if return_rstd else y
    if rows.numel():
        cfg = row_config(n)
        _rms_norm_kernel[(rows.shape[0],)](
            rows, weight.contiguous() if weight is not None else rows, y, rstd,
            n, float(eps),
            HAS_WEIGHT=weight is not None, STORE_RSTD=return_rstd, SINGLE=cfg.single, BLOCK=cfg.block,
            num_warps=cfg.num_warps,
        )
    y = y.reshape(shape)
    if return_rstd:
        return y, rstd.reshape(*shape[:-1], 1)
    return y


def reference(x, weight=None, eps: float = 1e-6):
    """RMSNorm computed in float64, returned in float64."""
    import torch

    xd = x.double()
    y = xd * torch.rsqrt(xd.pow(2).mean(dim=-1, keepdim=True) + eps)
    return y * weight.double() if weight is not None else y
