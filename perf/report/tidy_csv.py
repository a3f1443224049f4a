"""results.csv: the tidy table of a results document, one row per benchmark and statistic (key, family, group, dtype,
statistic, value, unit); rows with no value are left out."""

from __future__ import annotations

from typing import Mapping

from perf.report.cells import is_number

SUMMARY_STATISTICS = ("median_ms", "ci_low_ms", "ci_high_ms", "q1_ms", "q3_ms", "min_ms", "max_ms")

# (statistic, unit, how to read it off a record) for the tidy CSV; rows with no value are left out.
STATISTICS: tuple[tuple[str, str, str], ...] = (
    *((name, "ms", f"summary.{name}") for name in SUMMARY_STATISTICS),
    ("samples", "count", "summary.n"),
    ("rel_noise", "fraction", "rel_noise"),
    ("tflops", "TFLOP/s", "tflops"),
    ("gbs", "GB/s", "gbs"),
    ("intensity", "FLOP/byte", "intensity"),
    ("peak_pct", "%", "peak_pct"),
    ("bandwidth_pct", "%", "bandwidth_pct"),
    ("flops", "FLOP", "flops"),
    ("bytes", "byte", "bytes"),
    *((f"baseline_{name}", "ms", f"baseline.{name}") for name in SUMMARY_STATISTICS),
    ("change", "fraction", "change"),
    ("noise", "fraction", "noise"),
    ("threshold", "fraction", "threshold"),
)
CSV_COLUMNS = ("key", "family", "group", "dtype", "statistic", "value", "unit")


def tidy_frame(doc: Mapping):
    """One row per benchmark and statistic: key, family, group, dtype, statistic, value, unit."""
    import pandas as pd

    rows = []
    for r in doc["results"]:
        ids = (r["key"], r["family"], r.get("group") or "", r.get("dtype") or "")
        for statistic, unit, path in STATISTICS:
            value = _get(r, path)
            if is_number(value):
                rows.append((*ids, statistic, float(value), unit))
        for statistic, value in _flatten(r.get("roofline"), "roofline"):
            rows.append((*ids, statistic, value, _unit_of(statistic)))
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def _flatten(value: object, prefix: str) -> list[tuple[str, float]]:
    """Numeric leaves of a nested block as (dotted.name, value)."""
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in _flatten(v, f"{prefix}.{k}")]
    return [(prefix, float(value))] if is_number(value) else []


def _unit_of(name: str) -> str:
    leaf = name.rsplit(".", 1)[-1]
    for needle, unit in (("pct", "%"), ("tflops", "TFLOP/s"), ("gbs", "GB/s"), ("intensity", "FLOP/byte"),
                         ("ridge", "FLOP/byte"), ("_ms", "ms")):
        if needle in leaf:
            return unit
    return ""


def _get(record: Mapping, path: str):
    value: object = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
