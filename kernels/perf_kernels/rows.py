"""How the row kernels (rms_norm, log_softmax, mean) lay out their work: one program per row.

The block size and warp count are functions of the row length alone, never of the number of rows,
so the order in which a row's elements are reduced is fixed by its length. Rows up to
`SINGLE_BLOCK_MAX` elements are reduced as one block held in registers; longer rows are walked in
`LOOP_BLOCK`-sized chunks from the start, accumulating lane-wise, and the lanes are combined once
at the end (a fixed tree over the block).
"""

from __future__ import annotations

from dataclasses import dataclass

import triton

SINGLE_BLOCK_MAX = 16384
LOOP_BLOCK = 4096


@dataclass(frozen=True)
class RowConfig:
    block: int  # elements per block
    single: bool  # the whole row is one block
    num_warps: int


def row_config(n: int) -> RowConfig:
    """The launch config for rows of `n` elements (a function of n only)."""
    if n <= SINGLE_BLOCK_MAX:
        block = max(16, triton.next_power_of_2(n))
        return RowConfig(block=block, single=True, num_warps=min(16, max(1, block // 512)))
    return RowConfig(block=LOOP_BLOCK, single=False, num_warps=8)


def as_rows(x, dim: int):
    """x with `dim` moved last, as a contiguous (rows, n) matrix, and the shape to give the result back."""
    moved = x.movedim(dim, -1).contiguous()
    return moved.reshape(-1, moved.shape[-1]), moved.shape
