"""Batch-invariant mean (and sum) over one or more dimensions: y = sum(x) / n, accumulated in fp32.

Why it is batch-invariant: one program per output element (a row of the reduced dimension); the
row is summed in an order fixed by its length alone (see perf_kernels.rows), and nothing is shared
between rows.
"""

from __future__ import annotations

import math

import triton
import triton.language as tl

from perf_kernels.dtypes import element_bytes
from perf_kernels.rows import row_config

# The eviction policy of the loads of x. Each line is read once, so "evict_first" lets mean's own lines be the ones
# that leave L2 as it streams, not the lines other kernels left there (measured on an H200:
# 76% -> 86% of a same-size copy at 4096 tokens, 79% -> 89% at 8192, on the suite's timer, whose cold L2 is full of
# dirty lines that the default policy writes back during the call). A speed choice only: the arithmetic is the same.
LOAD_EVICT = "evict_first"


def flops(tokens: int, hidden: int) -> int:
    """hidden - 1 additions and one division per row: tokens * hidden."""
    return tokens * hidden


def bytes(tokens: int, hidden: int, dtype="bf16") -> int:  # noqa: A001 (the spec's field name)
    """Fewest bytes moved: read x once (tokens*hidden), write one value per row (tokens)."""
    return (tokens * hidden + tokens) * element_bytes(dtype)


@triton.jit
def _mean_kernel(x_ptr, y_ptr, N, DIVIDE: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr,
                 EVICT: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * N
    cols = tl.arange(0, BLOCK)
    if SINGLE:
        total = tl.sum(tl.load(x_row + cols, mask=cols < N, other=0.0, eviction_policy=EVICT).to(tl.float32),
                       axis=0)
    else:
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for start in range(0, N, BLOCK):
            acc += tl.load(x_row + start + cols, mask=start + cols < N, other=0.0, eviction_policy=EVICT).to(tl.float32)
        total = tl.sum(acc, axis=0)
    if DIVIDE:
        total = total / N
    tl.store(y_ptr + row, total.to(y_ptr.dtype.element_ty))


def mean(x, dim=-1, keepdim: bool = False, *, out_dtype=None, out=None):
    """Mean of x over `dim` (an int, or a sequence of dims); the output has x's dtype unless `out_dtype`."""
    return _reduce(x, dim, keepdim, out_dtype, out, divide=True)


def row_sum(x, dim=-1, keepdim: bool = False, *, out_dtype=None, out=None):
    """Sum of x over `dim` (an int, or a sequence of dims), in the same order as `mean`; an empty dim sums to 0."""
    return _reduce(x, dim, keepdim, out_dtype, out, divide=False)


def _reduce(x, dim, keepdim, out_dtype, out, *, divide: bool):
    import torch

    dims = sorted({d % x.dim() for d in ((dim,) if isinstance(dim, int) else tuple(dim))}) if x.dim() else []
    kept = [d for d in range(x.dim()) if d not in dims]
    moved = x.permute(*kept, *dims).contiguous() if x.dim() else x.reshape(1)
    n = 1
    for d in dims:
        n *= x.shape[d]
    rows = moved.reshape(math.prod(x.shape[d] for d in kept), n)  # not (-1, n): ambiguous when n is 0
    out_shape = [1 if d in dims else s for d, s in enumerate(x.shape)] if keepdim else [x.shape[d] for d in kept]
    want = out_dtype or x.dtype
    if out is not None and (list(out.shape) != out_shape or out.dtype != want or not out.is_contiguous()):
        raise ValueError(f"perf_kernels.mean: out must be contiguous {tuple(out_shape)} {want}, got {tuple(out.shape)} {out.dtype}")
    y = torch.empty(rows.shape[0], device=x.device, dtype=want) if out is None else out.view(rows.shape[0])
    if y.numel():
        if n == 0:
            y.fill_(float("nan") if divide else 0.0)
        else:
            cfg = row_config(n)
            _mean_kernel[(rows.shape[0],)](rows, y, n, DIVIDE=divide, SINGLE=cfg.single, BLOCK=cfg.block,
                                           EVICT=LOAD_EVICT, num_warps=cfg.num_warps)
    return y.reshape(out_shape)


def reference(x, dim=-1, keepdim: bool = False):
    """The mean computed in float64, returned in float64."""
    return x.double().mean(dim=dim, keepdim=keepdim)


def sum_reference(x, dim=-1, keepdim: bool = False):
    """The sum computed in float64, returned in float64."""
    return x.double().sum(dim=dim, keepdim=keepdim)
