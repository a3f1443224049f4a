"""What a benchmark is, as data: a frozen spec that the suite lists and pytest parametrizes.

A spec names the operation, its shape parameters, dtype, FLOPs and the fewest bytes it must move,
and how to build it. `build(target)` allocates the inputs (outside any timed region) and returns a
`Prepared`: a zero-argument closure to time and a check against the reference, run before timing.
The spec's `id` is readable and stable: it is the pytest id, and `family/id` is the baseline key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from perf.measure.target import Target


# The benchmark families of the suite: the first part of every baseline key, and what a family threshold names.
FAMILIES = ("gemm", "kernel", "decode", "sweep")


@dataclass(frozen=True)
class Prepared:
    fn: Callable[[], Any]  # the timed work; allocates nothing
    verify: Callable[[], None] | None = None  # raises AssertionError naming the mismatch
    # Optional: input sets to rotate between samples instead of flushing L2 (fn_for(i) -> closure).
    rotations: tuple[Callable[[], Any], ...] = ()


@dataclass(frozen=True)
class BenchSpec:
    family: str  # "gemm", "kernel", "decode", "sweep", ...
    id: str  # readable, stable pytest id; also the baseline key below
    dtype: str  # "bf16", "fp16", "fp32", ...
    flops: int  # floating-point operations of one call (0 for pure data movement)
    bytes: int  # fewest bytes one call must move through device memory
    build: Callable[["Target"], Prepared] = field(compare=False, repr=False)
    group: str = ""  # plot/report group, e.g. "gemm/gpt3-2.7b" or "kernel/rms_norm"
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)  # model, gemm, tokens, m, n, k, provider...
    threshold: float | None = None  # regression threshold for this benchmark (fraction); None: the family's/run's
    cold_l2: bool = True  # flush L2 before each sample
    requires: tuple[str, ...] = ()  # names from perf.measure.requirements.REQUIREMENTS
    # How a GPU times it, always (a label of perf.measure.timing.METHOD_LABELS); None: chosen from a first estimate,
    # or the baseline entry's. "cuda-profiler" times a workload whose wall time the host's CPU sets (an eager model
    # generation launches thousands of small kernels) by the device's own work, the sum of its kernels' durations.
    method: str | None = None

    @property
    def key(self) -> str:
        return f"{self.family}/{self.id}"

    @property
    def intensity(self) -> float | None:
        """Arithmetic intensity in FLOP/byte (None when the spec moves no bytes)."""
        return self.flops / self.bytes if self.bytes else None


@dataclass(frozen=True)
class BenchPair:
    """Two benchmarks of one shape, ours and the reference it is compared with, to time side by side: their ratio
    (perf.measure.paired) is what a speed target reads. `key` is ours' key without its provider."""

    ours: BenchSpec
    reference: BenchSpec
    id: str

    @property
    def key(self) -> str:
        return f"{self.ours.family}/{self.id}"
