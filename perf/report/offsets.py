"""How far a run's GPU sits from its baseline entries, family by family: the median change (now / entry - 1) of the
benchmarks compared, per physical GPU and per family and provider (gemm/torch, decode/triton, ...).

A host's offset is a property of the host and of the kind of work, not one number: one H200 host ran the model GEMMs
1.4-1.6% slower than their entries in two processes while decode attention read within 0.2% (docs/measurements.md,
"Host offsets per family"). A regression in a family reads larger by its offset on a slower GPU and smaller on a
faster one, where a 5% slowdown may pass (two H200s 1.6% fast caught 2 of 16); `perf ab` compares two commits on one
GPU.
The offsets are reported, never subtracted: a change that slows a whole family looks the same as a slower GPU.
Where this runner's history decided a verdict, the offset is still taken against the committed entry (noted in the
record's reference), not against the history: it is the host's place among the hosts behind the entries.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

from perf.report.per_gpu import label, place_of, place_order

MIN_COMPARED = 10  # fewer and a family's median says little about the GPU (its standard error passes 0.4%)
NOTABLE = 0.01  # a family's median this far from its entries is told in words (2.5 standard errors at 10 compared)
HEADER = ("GPU", "family", "compared", "median change", "q1", "q3")
NOTE = ("Offset = the median change of a family's benchmarks against their entries on one GPU (positive: slower). "
        "Where nothing in the family changed, it is the GPU: a regression there reads larger by it on a slower GPU "
        "and smaller on a faster one. Reported, not subtracted: a change that slows a whole family looks the same.")


@dataclass(frozen=True)
class Offset:
    place: str  # the GPU, as the per-GPU table names it
    family: str  # family/provider, e.g. "gemm/torch"
    compared: int
    median: float
    q1: float
    q3: float

    @property
    def notable(self) -> bool:
        return abs(self.median) >= NOTABLE

    def row(self) -> tuple[str, ...]:
        return (self.place, self.family, str(self.compared), f"{self.median:+.2%}", f"{self.q1:+.2%}",
                f"{self.q3:+.2%}")

    def sentence(self) -> str:
        head = (f"{self.family} on {self.place} runs {abs(self.median):.1%} "
                f"{'slower' if self.median > 0 else 'faster'} than its entries (median of {self.compared} compared)")
        if self.median > 0:
            return f"{head}: if nothing in it changed, that is the GPU, and a regression in it reads that much larger"
        return (f"{head}: a regression in it reads that much smaller, so a small one may pass; "
                f"`python -m perf ab` compares two commits on one GPU")


def family_of(record: Mapping) -> str:
    params = record.get("params") or {}
    return f"{record.get('family') or record['key'].split('/', 1)[0]}/{params.get('provider') or '-'}"


def entry_change(record: Mapping) -> float | None:
    """The record's change against its committed entry: its verdict's change where the entry decided; where this
    runner's history decided, its median over the entry's median that the run noted beside it (None without one)."""
    reference = record.get("reference") or {}
    if reference.get("source") != "history":
        return record.get("change")
    entry_ms, median_ms = reference.get("entry_ms"), (record.get("summary") or {}).get("median_ms")
    return median_ms / entry_ms - 1 if entry_ms and median_ms else None


def offsets(records: Sequence[Mapping]) -> list[Offset]:
    """Each GPU's offset per family with at least MIN_COMPARED benchmarks compared, in GPU and family order."""
    groups: dict[tuple, list[float]] = {}
    placements: dict[tuple, Mapping] = {}
    for r in records:
        change = entry_change(r)
        if change is None:
            continue
        place = place_of(r) or ("", "")
        placements.setdefault(place, r.get("placement") or {})
        groups.setdefault((place, family_of(r)), []).append(change)
    hosts = len({host for host, _ in placements})
    out = []
    for (place, family), changes in sorted(groups.items(), key=lambda kv: (place_order(kv[0][0]), kv[0][1])):
        if len(changes) < MIN_COMPARED:
            continue
        q1, _, q3 = statistics.quantiles(changes, n=4)
        where = label(placements[place], hosts) if placements[place] else "this GPU"
        out.append(Offset(where, family, len(changes), statistics.median(changes), q1, q3))
    return out
