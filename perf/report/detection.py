"""The detection experiment's table: for each benchmark slowed on purpose, the slowdown asked for, the slowdown
injected (measured ABAB in the same process), the change against the baseline and the verdict; then the false
alarms among the benchmarks left alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from perf.report.text_table import format_table

FLAGGED = ("regression",)


@dataclass(frozen=True)
class Detection:
    injected: list[dict]  # records of the slowed benchmarks
    untouched: list[dict]  # records of the rest

    @property
    def caught(self) -> list[dict]:
        return [r for r in self.injected if r["verdict"] in FLAGGED]

    @property
    def false_alarms(self) -> list[dict]:
        return [r for r in self.untouched if r["verdict"] in FLAGGED]

    @property
    def unreliable(self) -> list[dict]:
        return [r for r in self.untouched if r["verdict"] == "unreliable"]


def split(records: Sequence[Mapping]) -> Detection:
    injected = [dict(r) for r in records if r.get("injected")]
    untouched = [dict(r) for r in records if not r.get("injected")]
    return Detection(injected, untouched)


def _pct(value) -> str:
    return "-" if value is None else f"{value:+.1%}"


def lines(detection: Detection) -> list[str]:
    rows = [(r["key"], _pct(r["injected"]["asked"]), _pct(r["injected"]["measured"]), _pct(r.get("change")),
             "-" if r.get("tolerance") is None else f"{r['tolerance']:.1%}", r["verdict"], r["injected"]["work"])
            for r in detection.injected]
    out = format_table(("injected benchmark", "asked", "injected", "change", "tolerance", "verdict", "extra work"),
                       rows, numbers_right=False)
    n, caught = len(detection.injected), len(detection.caught)
    out.append(f"caught {caught} of {n} injected; false alarms {len(detection.false_alarms)} of "
               f"{len(detection.untouched)} untouched ({len(detection.unreliable)} unreliable)")
    for r in detection.false_alarms:
        out.append(f"  false alarm: {r['key']} {_pct(r.get('change'))} ({r.get('reason', '')})")
    return out
