"""Results per physical GPU (or CPU worker) of a run spread over workers: how many benchmarks each measured, their
median change against the baseline, and the regressions found on it alone (the sibling check), so that a sibling GPU
slower than the others shows."""

from __future__ import annotations

import statistics
from typing import Mapping, Sequence

HEADER = ("GPU", "UUID", "worker", "benchmarks", "compared", "median change", "largest change", "regressions",
          "slow here only")


def place_of(record: Mapping) -> tuple:
    """(host, GPU index or worker) of a record's placement; None where the record has none."""
    p = record.get("placement") or {}
    if not p:
        return None
    return (p.get("host") or "", p.get("gpu_index") if p.get("gpu_index") is not None else p.get("worker") or "")


def place_order(place: tuple) -> tuple:
    """Sort key of a place_of tuple: by host, then GPU index as a number (GPU 10 after GPU 9)."""
    return place[0], str(place[1]).zfill(6)


def label(p: Mapping, hosts: int) -> str:
    """A placement's name in a table: its GPU index (or CPU), with the host where a run spans several."""
    where = f"GPU {p['gpu_index']}" if p.get("gpu_index") is not None else "CPU"
    return f"{p.get('host')} {where}" if hosts > 1 else where


def rows(records: Sequence[Mapping]) -> list[tuple[str, ...]]:
    """One row per physical GPU (CPU worker on the CPU device), in host and index order; [] when the records
    come from fewer than two places (nothing to compare)."""
    groups: dict[tuple, list[Mapping]] = {}
    for r in records:
        place = place_of(r)
        if place is not None:
            groups.setdefault(place, []).append(r)
    if len(groups) < 2:
        return []
    hosts = len({host for host, _ in groups})
    out = []
    for place in sorted(groups, key=place_order):
        group = groups[place]
        p = group[0]["placement"]
        changes = [r["change"] for r in group if r.get("change") is not None]
        out.append((
            label(p, hosts),
            (p.get("gpu_uuid") or "-")[:12],
            ", ".join(sorted({r["placement"].get("worker") or "" for r in group})),
            str(len(group)),
            str(len(changes)),
            f"{statistics.median(changes):+.2%}" if changes else "-",
            f"{max(changes, key=abs):+.1%}" if changes else "-",
            str(sum(1 for r in group if r.get("verdict") == "regression")),
            str(sum(1 for r in group if (r.get("sibling_check") or {}).get("slow_here_only"))),
        ))
    return out


NOTE = ("Change = now / baseline - 1 (positive is slower), per physical GPU. Siblings of one kind should agree "
        "within their between-run sigma; one whose median stands apart is slower (or faster) than its siblings. "
        "Slow here only: regressions confirmed on this GPU that a sibling GPU did not show (unreliable: the GPU is "
        "the suspect, not the code).")
