"""The one formatter of results for people: verdict order and counts, number formats, and the cells of a result's
table row. The terminal summary, the report files, the refresh table and `perf ab` all read these."""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

VERDICT_ORDER = ("regression", "unreliable", "improvement", "new", "pass")
_RANK = {v: i for i, v in enumerate(VERDICT_ORDER)}


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: object, spec: str, missing: str = "-") -> str:
    """`value` formatted by `spec` ('.4g', '+.1%', ...), or `missing` where it is no finite number."""
    return format(value, spec) if is_number(value) else missing


def verdict_rank(verdict: str) -> int:
    """Where a verdict sorts: regressions first, passes last, unknown verdicts after them."""
    return _RANK.get(verdict, len(_RANK))


def sorted_records(records: Iterable[Mapping]) -> list:
    """Records in verdict order, by key within a verdict."""
    return sorted(records, key=lambda r: (verdict_rank(r["verdict"]), r["key"]))


def verdict_counts(records: Iterable[Mapping]) -> dict[str, int]:
    """How many records have each verdict, in verdict order."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (verdict_rank(kv[0]), kv[0])))


def counts_line(counts: Mapping[str, int]) -> str:
    """'2 regression, 10 pass'."""
    return ", ".join(f"{n} {v}" for v, n in counts.items())


def roof_pct(record: Mapping) -> float | None:
    """% of the attainable roofline: against the measured ceilings where the run measured them, else the spec's."""
    points = record.get("roofline") or {}
    for source in ("measured", "spec"):
        point = points.get(source) or {}
        value = point.get("pct_of_roofline")
        if value is None and record.get("flops") == 0:
            value = point.get("pct_of_bandwidth")
        if value is not None:
            return value
    return None


def verdict_cell(record: Mapping) -> str:
    """The verdict, starred where the result was re-measured."""
    return record["verdict"] + ("*" if record.get("remeasured") else "")


def reference_label(record: Mapping) -> str:
    """The reference column: "history N" (N runs of this runner) or "baseline"."""
    reference = record.get("reference") or {}
    if reference.get("source") == "history":
        return f"history {reference.get('runs', '')}".strip()
    return reference.get("source") or "-"


# A result's cells by column header: every table of results picks its columns from these.
CELLS: dict[str, Callable[[Mapping], str]] = {
    "benchmark": lambda r: r["key"],
    "reference ms": lambda r: fmt((r.get("baseline") or {}).get("median_ms"), ".4g"),  # the baseline or the history
    "now ms": lambda r: fmt(r["summary"]["median_ms"], ".4g"),
    "change": lambda r: fmt(r.get("change"), "+.1%"),
    "noise": lambda r: fmt(r.get("noise"), ".1%"),
    "threshold": lambda r: fmt(r.get("threshold"), ".0%"),
    # the change that counts, and which term of the noise model set it: what decided the verdict
    "tolerance": lambda r: "±" + fmt(r["tolerance"], ".1%") if is_number(r.get("tolerance")) else "-",
    "set by": lambda r: str(r.get("tolerance_source") or "-"),
    "TFLOP/s": lambda r: fmt(r.get("tflops"), ".3g"),
    "% peak": lambda r: fmt(r.get("peak_pct"), ".0f"),
    "GB/s": lambda r: fmt(r.get("gbs"), ".3g"),
    "% roof": lambda r: fmt(roof_pct(r), ".0f"),
    "verdict": verdict_cell,
    "reason": lambda r: str(r.get("reason") or ""),
    "reference": reference_label,
    "decided by": lambda r: str((r.get("reference") or {}).get("text") or "-"),
}
TERMINAL_COLUMNS = ("benchmark", "reference ms", "now ms", "change", "tolerance", "TFLOP/s", "% peak", "GB/s", "% roof",
                    "verdict", "reference")
# Left out of the terminal's table in this order where the terminal is too narrow for all (the report keeps them;
# the "references:" line under the table says what decided).
TERMINAL_OPTIONAL = ("% roof", "GB/s", "% peak", "TFLOP/s", "reference ms", "reference")
REPORT_COLUMNS = ("benchmark", "reference ms", "now ms", "change", "tolerance", "set by", "noise", "TFLOP/s", "% peak",
                  "GB/s", "verdict", "decided by", "reason")


def row(record: Mapping, columns: Sequence[str]) -> tuple[str, ...]:
    """The record's cells under `columns` (headers of CELLS)."""
    return tuple(CELLS[c](record) for c in columns)


def value_text(value: object) -> str:
    """An environment value as a cell: floats to 4 significant digits, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".4g")
    return str(value)


def difference_text(name: str, then: object, now: object) -> str:
    """What changed in one environment field: "max_time_s 0.1 -> 2.0"; of a mapping (the timing settings) only the
    keys that differ, each as "field.key then -> now"."""
    if isinstance(then, Mapping) and isinstance(now, Mapping):
        keys = [k for k in dict.fromkeys([*then, *now]) if then.get(k) != now.get(k)]
        return "; ".join(f"{name}.{k} {value_text(then.get(k)) or '-'} -> {value_text(now.get(k)) or '-'}"
                         for k in keys)
    return f"{name} {value_text(then) or '-'} -> {value_text(now) or '-'}"
