"""Batch-invariant log-softmax and softmax along one dimension, one kernel with a switch:

    log_softmax(x) = x - max(x) - log(sum(exp(x - max(x))))
    softmax(x)     = exp(x - max(x)) / sum(exp(x - max(x)))

Why it is batch-invariant: one program per row; the row's max and sum of exponentials are reduced in
an order fixed by the row length alone (see perf_kernels.rows), in fp32, and nothing is shared between
rows. Long rows use lane-wise online (max, sum) accumulators combined once at the end.
"""

from __future__ import annotations

import triton
import triton.language as tl

from perf_kernels.dtypes import element_bytes
from perf_kernels.rows import as_rows, row_config


def flops(tokens: int, hidden: int) -> int:
    """Per element: max compare, subtract, exp, add to the sum, subtract the log-sum (or divide by the sum)."""
    return 5 * tokens * hidden


def bytes(tokens: int, hidden: int, dtype="bf16") -> int:  # noqa: A001 (the spec's field name)
    """Fewest bytes moved: read x and write y once (tokens*hidden each)."""
    return 2 * tokens * hidden * element_bytes(dtype)


@triton.jit
def _log_softmax_kernel(x_ptr, y_ptr, N, LOG: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    y_row = y_ptr + row * N
    cols = tl.arange(0, BLOCK)
    if SINGLE:
        mask = cols < N
        x = tl.load(x_row + cols, mask=mask, other=-float("inf")).to(tl.float32)
        row_max = tl.max(x, axis=0)
        shifted = x - row_max
        e = tl.where(mask, tl.exp(shifted), 0.0)
        if LOG:
            y = shifted - tl.log(tl.sum(e, axis=0))
        else:
            y = e / tl.sum(e, axis=0)
        tl.store(y_row + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        m_lane = tl.full((BLOCK,), -float("inf"), tl.float32)
        s_lane = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=-float("inf")).to(tl.float32)
            new_m = tl.maximum(m_lane, x)
            safe_m = tl.where(new_m == -float("inf"), 0.0, new_m)
            s_lane = s_lane * tl.exp(m_lane - safe_m) + tl.exp(x - safe_m)
            m_lane = new_m
        row_max = tl.max(m_lane, axis=0)
        safe_max = tl.where(row_max == -float("inf"), 0.0, row_max)
        total = tl.sum(s_lane * tl.exp(m_lane - safe_max), axis=0)
        log_sum = tl.log(total)
        for start in range(0, N, BLOCK):
            mask = start + cols < N
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            if LOG:
                y = x - row_max - log_sum
            else:
                y = tl.exp(x - row_max) / total
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def log_softmax(x, dim: int = -1, *, out_dtype=None, out=None):
    """log_softmax of x along `dim`; the output has x's dtype unless `out_dtype` says otherwise."""
    return _run(x, dim, out_dtype, out, log=True)


def softmax(x, dim: int = -1, *, out_dtype=None, out=None):
    """softmax of x along `dim`; the output has x's dtype unless `out_dtype` says otherwise."""
    return _run(x, dim, out_dtype, out, log=False)


def _run(x, dim, out_dtype, out, *, log: bool):
    import torch

    name = "log_softmax" if log else "softmax"
    if x.dim() == 0:
        return _run(x.reshape(1), 0, out_dtype, None, log=log).reshape(())
    rows, shape = as_rows(x, dim)
    want = out_dtype or x.dtype
    if out is not None and (out.shape != x.shape or out.dtype != want or not out.is_contiguous() or dim % x.dim() != x.dim() - 1):
        raise ValueError(
            f"perf_kernels.{name}: out must be contiguous {tuple(x.shape)} {want} with dim the last one, "
            f"got {tuple(out.shape)} {out.dtype} and dim {dim}"
        )
    y = torch.empty(rows.shape, device=x.device, dtype=want) if out is None else out.view(rows.shape)
    if rows.numel():
        cfg = row_config(rows.shape[1])
        _log_softmax_kernel[(rows.shape[0],)](
            rows, y, rows.shape[1], LOG=log, SINGLE=cfg.single, BLOCK=cfg.block, num_warps=cfg.num_warps
        )
    return y.reshape(shape).movedim(-1, dim)


def reference(x, dim: int = -1):
    """log_softmax computed in float64, returned in float64."""
    import torch

    return torch.log_softmax(x.double(), dim=dim)


def softmax_reference(x, dim: int = -1):
    """softmax computed in float64, returned in float64."""
    import torch

    return torch.softmax(x.double(), dim=dim)
