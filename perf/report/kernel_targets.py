"""The speed targets of our kernels (docs/kernels.md), decided from a run's side-by-side pairs (perf_pairs): each
target covers the pairs of one kernel in a range of tokens (or every decode attention shape) and the ratio to the
reference they must reach. A run reports each target as met or missed, naming its lowest pair; a target none of whose
pairs ran is "not measured". Ratios timed apart (separate benchmarks) never decide a target: see perf.measure.paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"


@dataclass(frozen=True)
class KernelTarget:
    name: str
    kernel: str  # the "kernel" parameter of the pairs it covers, or "decode attention"
    at_least: float  # ratio = reference time / ours
    fewest_tokens: int | None = None  # matmul's M, the row kernels' tokens
    most_tokens: int | None = None

    def covers(self, params: Mapping) -> bool:
        if self.kernel == "decode attention":
            return params.get("op") == "attention" and "L" in params
        if params.get("kernel") != self.kernel:
            return False
        tokens = params.get("tokens")
        return (self.fewest_tokens is None or tokens >= self.fewest_tokens) and (
            self.most_tokens is None or tokens <= self.most_tokens)


TARGETS = (
    KernelTarget("matmul >= 0.95x cuBLAS at M >= 1024", "matmul", 0.95, fewest_tokens=1024),
    KernelTarget("matmul >= 0.8x cuBLAS at M <= 64", "matmul", 0.8, most_tokens=64),
    KernelTarget("decode attention >= 1.0x SDPA on every shape", "decode attention", 1.0),
    KernelTarget("rms_norm faster than torch from 1024 tokens", "rms_norm", 1.0, fewest_tokens=1024),
    KernelTarget("log_softmax faster than torch from 1024 tokens", "log_softmax", 1.0, fewest_tokens=1024),
    KernelTarget("mean faster than torch from 1024 tokens", "mean", 1.0, fewest_tokens=1024),
)
HEADER = ("target", "verdict", "pairs", "below", "lowest")


def evaluate(pairs: Sequence[Mapping], targets: Sequence[KernelTarget] = TARGETS) -> list[dict]:
    """One verdict per target: its pairs, how many fall below its ratio, and the lowest."""
    out = []
    for target in targets:
        covered = [p for p in pairs if target.covers(p.get("params") or {})]
        if not covered:
            out.append({"target": target.name, "verdict": NOT_MEASURED, "pairs": 0, "below": 0, "lowest": None,
                        "lowest_ratio": None})
            continue
        lowest = min(covered, key=lambda p: p["ratio"])
        below = sum(p["ratio"] < target.at_least for p in covered)
        out.append({"target": target.name, "verdict": MISSED if below else MET, "pairs": len(covered),
                    "below": below, "lowest": lowest["id"], "lowest_ratio": lowest["ratio"]})
    return out


def decided(pairs: Sequence[Mapping]) -> list[dict]:
    """Every target's verdict where the pairs decide at least one target (a table worth showing), else []."""
    verdicts = evaluate(pairs)
    return verdicts if any(v["verdict"] != NOT_MEASURED for v in verdicts) else []


def rows(verdicts: Sequence[Mapping]) -> list[tuple[str, ...]]:
    return [(v["target"], v["verdict"], str(v["pairs"]), str(v["below"]),
             f"{v['lowest_ratio']:.3f}x {v['lowest']}" if v["lowest"] else "-") for v in verdicts]
