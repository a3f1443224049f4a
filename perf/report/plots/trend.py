"""One series over the stored runs: a benchmark's median per run with its 95% interval band and the baseline level of
the latest run, or a side-by-side pair's ratio per run with its rounds' range and a line at 1 (equal times); the
change points found in the history as a vertical line at the first run after each (red slower, green faster)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from perf.report.plots.figure import _figure, _legend, _save


@dataclass(frozen=True)
class Values:
    """What a trend plot draws from a history frame: the value column and its band's columns, their names, the level
    the values are read against (the latest run's value of `level_column`, or the fixed `level`), and which way is
    slower."""

    column: str
    low: str
    high: str
    name: str  # the line's legend label
    band: str  # the band's legend label
    ylabel: str
    higher_is_slower: bool
    level_label: str
    level_column: str | None = None
    level: float | None = None


MEDIAN_MS = Values("median_ms", "ci_low_ms", "ci_high_ms", "median", "95% interval", "median time (ms)",
                   higher_is_slower=True, level_label="baseline", level_column="baseline_ms")
RATIO = Values("ratio", "ratio_low", "ratio_high", "ratio", "rounds' range", "ratio (reference time / ours)",
               higher_is_slower=False, level_label="1: equal times", level=1.0)
VALUES = {v.column: v for v in (MEDIAN_MS, RATIO)}


def values_of(column: str) -> Values:
    """The plot of a frame's value column: median_ms (a benchmark's) or ratio (a pair's)."""
    if column not in VALUES:
        raise ValueError(f"trend plot: value column {column!r}: expected one of {sorted(VALUES)}")
    return VALUES[column]


def is_slower(change: float, values: Values) -> bool:
    """Whether a change of the values (after / before - 1) means ours got slower."""
    return (change > 0) == values.higher_is_slower


def trend(series, change_points: Sequence, path: Path, *, title: str, values: Values = MEDIAN_MS) -> Path:
    """series: the rows of one (gpu, key) from the history, oldest first (date and the columns `values` names);
    change_points: objects with index, change, date."""
    fig, (ax,) = _figure(width=9.0, height=3.6)
    x = list(range(len(series)))
    middle = series[values.column]
    low = series[values.low].fillna(middle).to_numpy(dtype=float)
    high = series[values.high].fillna(middle).to_numpy(dtype=float)
    ax.fill_between(x, low, high, color="#1f77b4", alpha=0.2, linewidth=0, label=values.band)
    ax.plot(x, middle.to_numpy(dtype=float), marker="o", markersize=3, color="#1f77b4", linewidth=1, label=values.name)
    if values.level_column and values.level_column in series and "tolerance" in series:
        reference = series[values.level_column].to_numpy(dtype=float)
        tolerance = series["tolerance"].to_numpy(dtype=float)
        ax.fill_between(x, reference * (1 - tolerance), reference * (1 + tolerance), step="mid", color="#9467bd",
                        alpha=0.12, linewidth=0, label="reference ± the tolerance that decided")
    level = reference_level(series, values)
    if level is not None:
        ax.axhline(level, color="#7f7f7f", linestyle="--", linewidth=1, label=values.level_label)
    for i, cp in enumerate(change_points):
        colour = "#d62728" if is_slower(cp.change, values) else "#2ca02c"
        ax.axvline(cp.index - 0.5, color=colour, linewidth=1.5,
                   label=f"change {cp.change:+.1%} at {cp.date[:10]}" if i < 6 else None)
    labels = run_labels(series)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    ax.set_xlabel("run (UTC" + (", commit)" if "commit" in series and series["commit"].nunique() > 1 else ")"))
    ax.set_ylabel(values.ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=7, loc="best")
    return _save(fig, path)


def reference_level(series, values: Values) -> float | None:
    """The dashed line: the fixed level, or the latest run's value of the level column (None when it has none)."""
    if values.level is not None:
        return values.level
    known = series[values.level_column].dropna() if values.level_column else ()
    return float(known.iloc[-1]) if len(known) else None


def run_labels(series) -> list[str]:
    """A label per run that tells the runs apart: the date, with the time when a date has several runs (a night's
    reruns, a day of A/B rounds), and the short commit when the commits differ."""
    dates = list(series["date"])
    days = [d.strftime("%m-%d") for d in dates]
    labels = [d.strftime("%m-%d %H:%M") if days.count(day) > 1 else day for d, day in zip(dates, days)]
    if "commit" in series and series["commit"].nunique() > 1:
        commits = series["commit"].fillna("-")
        labels = [f"{label} {str(c)[:7]}" for label, c in zip(labels, commits)]
    return labels
