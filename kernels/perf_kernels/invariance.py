"""The batch-invariance check: is a row's result bitwise the same alone and inside any batch?

For an operator `op` mapping a batch (B, ...) to a batch of results (B, ...) and one row (...):
compute the row alone (B = 1), then for each batch size B place the row at a few positions among
B - 1 other random rows, run `op` on the batch, and compare the row's result with `torch.equal`.
The result says which batch size / position failed first and by how much, not just yes or no.
Used by the CPU tests (kernels under the interpreter) and by the GPU suite (kernels and vendor ops).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence


@dataclass(frozen=True)
class SizeOutcome:
    size: int  # batch size B
    equal: bool  # the row's result equals the row alone, bitwise, at every position tried
    max_abs_diff: float  # largest |batched - alone| over the positions tried (0.0 when equal)
    first_position: int | None = None  # the first position where it differed


@dataclass(frozen=True)
class InvarianceResult:
    op: str
    max_batch: int  # the largest batch size tested
    sizes_tested: int
    first_failure: tuple[int, int] | None  # (batch size, position) of the first difference, in test order
    max_abs_diff: float  # over every size and position
    by_size: tuple[SizeOutcome, ...] = field(default=(), repr=False)

    @property
    def invariant(self) -> bool:
        return self.first_failure is None

    def summary(self) -> str:
        if self.invariant:
            return f"{self.op}: bitwise batch-invariant over {self.sizes_tested} batch sizes up to {self.max_batch}"
        size, pos = self.first_failure
        failing = sum(1 for o in self.by_size if not o.equal)
        return (
            f"{self.op}: NOT batch-invariant: first difference at batch size {size}, position {pos}; "
            f"{failing} of {self.sizes_tested} sizes differ; max |diff| {self.max_abs_diff:.3e}"
        )


def bitwise_equal(a, b) -> bool:
    """Same shape, dtype and bits (NaNs with the same payload compare equal; -0.0 and 0.0 do not)."""
    import torch

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
    size = a.element_size()
    if a.is_floating_point() and size in ints:
        return torch.equal(a.contiguous().view(ints[size]), b.contiguous().view(ints[size]))
    return torch.equal(a, b)


def every_size(max_batch: int) -> list[int]:
    return list(range(1, max_batch + 1))


def edge_sizes(max_batch: int, edges: Iterable[int] = (), dense_up_to: int = 16) -> list[int]:
    """Every size up to `dense_up_to`, then 2^k - 1, 2^k, 2^k + 1 and e - 1, e, e + 1 for each edge e."""
    sizes = set(range(1, min(dense_up_to, max_batch) + 1))
    p = 1
    while p <= max_batch:
        sizes.update((p - 1, p, p + 1))
        p *= 2
    for e in edges:
        sizes.update((e - 1, e, e + 1))
    sizes.add(max_batch)
    return sorted(s for s in sizes if 1 <= s <= max_batch)


def positions_for(size: int) -> tuple[int, ...]:
    """Where the row sits in a batch of `size`: first, middle, last."""
    return tuple(sorted({0, size // 2, size - 1}))


def check_batch_invariance(
    op: Callable,
    row,
    *,
    max_batch: int,
    sizes: Sequence[int] | None = None,
    name: str = "op",
    seed: int = 0,
    others=None,
) -> InvarianceResult:
    """Compare the bits of `op(batch)[pos]` with `op(row[None])[0]` for each batch size and position.

    `row` has the shape of one row (no batch dimension). `others`, if given, is a (max_batch, ...)
    tensor of filler rows; otherwise filler rows are drawn from a normal distribution (seeded) on
    the row's device and dtype. `sizes` defaults to every size 1..max_batch.
    """
    import torch

    sizes = list(sizes) if sizes is not None else every_size(max_batch)
    if not sizes or max(sizes) > max_batch or min(sizes) < 1:
        raise ValueError(f"check_batch_invariance({name}): sizes must lie in 1..{max_batch}, got {sizes[:5]}...")
    if others is None:
        gen = torch.Generator(device=row.device).manual_seed(seed)
        others = torch.randn((max_batch, *row.shape), generator=gen, device=row.device, dtype=torch.float32)
        others = (others * row.float().std().clamp_min(1e-3) + row.float().mean()).to(row.dtype)
    elif others.shape[0] < max_batch or others.shape[1:] != row.shape:
        raise ValueError(f"check_batch_invariance({name}): others is {tuple(others.shape)}; expected ({max_batch}, *{tuple(row.shape)})")

    alone = op(row.unsqueeze(0))[0]
    outcomes: list[SizeOutcome] = []
    first_failure = None
    worst = 0.0
    for size in sizes:
        size_worst = 0.0
        size_first = None
        for pos in positions_for(size):
            batch = others[:size].clone()
            batch[pos] = row
            got = op(batch)[pos]
            if not bitwise_equal(got, alone):
                diff = (got.double() - alone.double()).abs().max().item()
                diff = diff if diff == diff else float("inf")  # a NaN on one side only
                size_worst = max(size_worst, diff)
                if size_first is None:
                    size_first = pos
                if first_failure is None:
                    first_failure = (size, pos)
        worst = max(worst, size_worst)
        outcomes.append(SizeOutcome(size, size_first is None, size_worst, size_first))
    return InvarianceResult(
        op=name,
        max_batch=max(sizes),
        sizes_tested=len(sizes),
        first_failure=first_failure,
        max_abs_diff=worst,
        by_size=tuple(outcomes),
    )
