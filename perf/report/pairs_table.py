"""The side-by-side pairs of a run (perf_pairs records) as a table: ours against the reference, timed in alternation,
and per comparison kind (the pair id's first field with its shape group) the lowest and median ratio."""

from __future__ import annotations

import statistics
from typing import Mapping, Sequence

HEADER = ("pair", "ours ms", "reference ms", "ours vs reference", "rounds' range", "SM MHz ours / ref")


def _mhz(pair: Mapping, side: str) -> str:
    clocks = [r[f"{side}_sm_mhz"] for r in pair.get("rounds", ()) if r.get(f"{side}_sm_mhz")]
    return f"{statistics.mean(clocks):.0f}" if clocks else "-"


def rows(pairs: Sequence[Mapping]) -> list[tuple[str, ...]]:
    """One row per pair, in run order."""
    return [(p["id"], f"{p['ours_ms']:.4g}", f"{p['reference_ms']:.4g}", f"{p['ratio']:.3f}x",
             f"{p['ratio_low']:.3f}-{p['ratio_high']:.3f}", f"{_mhz(p, 'ours')} / {_mhz(p, 'reference')}")
            for p in pairs]


def summary_lines(pairs: Sequence[Mapping]) -> list[str]:
    """Per kind of comparison (the pair's group): how many pairs, the lowest and the median ratio, and how many
    reach the reference (ratio >= 1)."""
    groups: dict[str, list[Mapping]] = {}
    for p in pairs:
        groups.setdefault(p.get("group") or p["id"].split(":")[0], []).append(p)
    lines = []
    for group, found in groups.items():
        ratios = sorted(p["ratio"] for p in found)
        lowest = min(found, key=lambda p: p["ratio"])
        lines.append(f"{group}: {len(found)} pairs, lowest {ratios[0]:.3f}x ({lowest['id']}), median "
                     f"{statistics.median(ratios):.3f}x, at or above the reference on {sum(r >= 1.0 for r in ratios)}")
    return lines
