"""Side by side: our kernel and its reference timed in alternation, in one process, for their ratio.

A benchmark's time depends on the GPU's power and thermal state, which the work before it sets: under a power cap a
large GEMM measured right after other large GEMMs runs at a lower clock than the same GEMM measured in a fresh process
on a cool GPU (seen on an H200: cuBLAS at M 8192, N 14336 read 1.37-1.40 ms inside a whole-suite run at 1530-1590 MHz,
1.20-1.22 ms in its fresh-process re-measure at 1980 MHz). A ratio of two benchmarks timed at different moments mixes
those states into the comparison. Here the two sides are timed in rounds, the order flipped each round (ours first,
then the reference first: ABBA), each with the suite's own timer and both sides with one timing method (the plugin
pins ours' baseline method, as the benchmarks do), and each round gives one ratio from two neighbouring windows that
shared the GPU's state. The ratio is the median of the rounds' ratios; their smallest and largest say how
far one round can move it.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Callable

from perf.measure import timing
from perf.measure.timing import Samples

ROUNDS = 4  # ABBA rounds: a linear drift of the GPU's state cancels over each pair of rounds
NUMBERS = ("ours_ms", "reference_ms", "ratio", "ratio_low", "ratio_high")  # a pair record's numbers, all positive

# measure(side, method) -> the samples of one window of that side ("ours" or "reference"), timed with `method` (None:
# the timer chooses from a first estimate). The first window's method is then pinned for every other window.
MeasureSide = Callable[[str, "str | None"], Samples]


@dataclass(frozen=True)
class PairRound:
    first: str  # "ours" or "reference": which side this round timed first
    ours_ms: float  # median of ours' window
    reference_ms: float  # median of the reference's window
    ours_sm_mhz: float | None  # mean SM clock of the readings before and after each window (None: NVML unavailable)
    reference_sm_mhz: float | None

    @property
    def ratio(self) -> float:
        """Ours' speed as a multiple of the reference's in this round (above 1: ours is faster)."""
        return self.reference_ms / self.ours_ms


@dataclass(frozen=True)
class PairedRatio:
    method: str  # the timer both sides were timed with (pinned after the first window)
    rounds: tuple[PairRound, ...]

    @property
    def ratio(self) -> float:
        return statistics.median(r.ratio for r in self.rounds)

    @property
    def ratio_low(self) -> float:
        return min(r.ratio for r in self.rounds)

    @property
    def ratio_high(self) -> float:
        return max(r.ratio for r in self.rounds)

    @property
    def ours_ms(self) -> float:
        return statistics.median(r.ours_ms for r in self.rounds)

    @property
    def reference_ms(self) -> float:
        return statistics.median(r.reference_ms for r in self.rounds)

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "ratio_low": self.ratio_low, "ratio_high": self.ratio_high,
                "ours_ms": self.ours_ms, "reference_ms": self.reference_ms, "method": self.method,
                "rounds": [{"first": r.first, "ours_ms": r.ours_ms, "reference_ms": r.reference_ms, "ratio": r.ratio,
                            "ours_sm_mhz": r.ours_sm_mhz, "reference_sm_mhz": r.reference_sm_mhz}
                           for r in self.rounds]}


def sm_mhz(samples: Samples) -> float | None:
    """The mean SM clock of a window's readings (before and after it), or None where none was read."""
    readings = [c["sm_mhz"] for c in (samples.clocks_before, samples.clocks_after) if c and c.get("sm_mhz")]
    return sum(readings) / len(readings) if readings else None


def measure(measure_side: MeasureSide, rounds: int = ROUNDS, method: str | None = None) -> PairedRatio:
    """`rounds` rounds of one window of each side, ours first in even rounds and the reference first in odd ones."""
    if rounds < 1:
        raise ValueError(f"paired.measure: rounds must be at least 1, got {rounds}")
    done: list[PairRound] = []
    for index in range(rounds):
        order = ("ours", "reference") if index % 2 == 0 else ("reference", "ours")
        windows: dict[str, Samples] = {}
        for side in order:
            windows[side] = measure_side(side, method)
            method = method or windows[side].method
        ours, reference = windows["ours"], windows["reference"]
        done.append(PairRound(first=order[0], ours_ms=ours.summary().median_ms,
                              reference_ms=reference.summary().median_ms,
                              ours_sm_mhz=sm_mhz(ours), reference_sm_mhz=sm_mhz(reference)))
    return PairedRatio(method=method or "", rounds=tuple(done))


PAIR_NEXT_WARMUP_MS = 50.0  # a side's windows after its first: compiled, allocated and at the pair's power state


def measure_pair(pair, target, settings, method: str | None, placement) -> dict:
    """A pair's record (perf.spec.BenchPair): ours and the reference of one shape, each checked, then timed in
    alternation with `settings` (perf.measure.timing.TimingSettings) and `method` (ours' pinned method: both sides are
    timed as its benchmark is; None: the first window chooses)."""
    sides = {"ours": pair.ours, "reference": pair.reference}
    prepared = {side: spec.build(target) for side, spec in sides.items()}
    for ready in prepared.values():
        if ready.verify is not None:
            ready.verify()  # a wrong result fails here and is never timed
    later = dataclasses.replace(settings, warmup_ms=min(settings.warmup_ms, PAIR_NEXT_WARMUP_MS))
    windows = {"ours": 0, "reference": 0}

    def measure_side(side: str, side_method: str | None) -> Samples:
        chosen = settings if windows[side] == 0 else later  # warm after its first window
        windows[side] += 1
        return timing.measure(prepared[side], target, chosen, cold_l2=sides[side].cold_l2,
                              method=None if target.is_cpu else side_method)

    result = measure(measure_side, method=method)
    return {"id": pair.id, "key": pair.key, "ours": pair.ours.key, "reference": pair.reference.key,
            "group": pair.ours.group, "dtype": pair.ours.dtype,
            "params": {k: v for k, v in pair.ours.params.items() if k != "provider"},
            "placement": placement, **result.to_dict()}
