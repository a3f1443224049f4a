"""What the claims' rules read (perf/shape/claims.py loads claims, perf/shape/claim_rules.py decides them; both import
this, neither imports the other back): the run's records as Evidence, a claim's missing benchmarks, the error of an
unusable claim, and the helpers the rules share (median, throughput, pattern expansion).
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping, Sequence

from perf.gpus import GpuSpec


class ClaimError(ValueError):
    """A claims file that cannot be used: names the file, the claim and the field."""


class Missing(Exception):
    """Benchmarks a claim reads that the run did not measure (their patterns)."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = sorted(set(patterns))
        super().__init__(", ".join(self.patterns))


class Evidence:
    """The measurements claims read: result records by key, the measured copy bandwidth, the GPU."""

    def __init__(self, records: Iterable[Mapping], *, copy_gbs: float | None = None, gpu: GpuSpec | None = None):
        self.records = [r for r in records if _median(r) is not None]
        self.copy_gbs = copy_gbs
        self.gpu = gpu

    def matching(self, pattern: str) -> list[Mapping]:
        return [r for r in self.records if fnmatch.fnmatchcase(str(r.get("key")), pattern)]

    def one(self, pattern: str) -> Mapping:
        """The record a pattern names. Missing when none; ClaimError when several (say, two dtypes in one file)."""
        found = self.matching(pattern)
        if not found:
            raise Missing([pattern])
        if len(found) > 1:
            keys = ", ".join(sorted(str(r["key"]) for r in found)[:4])
            raise ClaimError(f"pattern {pattern!r} matches {len(found)} records ({keys}): evaluate one dtype at a time")
        return found[0]

    def records_of(self, patterns: Sequence[str]) -> list[Mapping]:
        """One record per pattern; Missing names every pattern without one."""
        found, missing = [], []
        for pattern in patterns:
            try:
                found.append(self.one(pattern))
            except Missing:
                missing.append(pattern)
        if missing:
            raise Missing(missing)
        return found


def _median(record: Mapping) -> float | None:
    value = (record.get("summary") or {}).get("median_ms")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def median_ms(record: Mapping) -> float:
    return _median(record)  # Evidence keeps only records that have one


def tflops(records: Sequence[Mapping]) -> float:
    """Throughput of records run one after another: their FLOPs over their summed time, in TFLOP/s."""
    return sum(r["flops"] for r in records) / sum(median_ms(r) for r in records) / 1e9


def expand(pattern: str, **names) -> list[str]:
    """A pattern with {each} (a list) and other {name} placeholders filled in: one pattern per entry of each."""
    each = names.pop("each", None)
    if "{each}" in pattern:
        if not each:
            raise ClaimError(f"pattern {pattern!r} has {{each}} but the claim gives no 'each' list")
        return [pattern.replace("{each}", str(e)).format(**names) for e in each]
    return [pattern.format(**names)]
