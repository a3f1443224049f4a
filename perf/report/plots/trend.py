"""One benchmark over the stored runs: its median per run with the 95% interval band, the baseline level of the
latest run, and the change points found in the history (a vertical line at the first run after each)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from perf.report.plots.figure import _figure, _legend, _save


def trend(series, change_points: Sequence, path: Path, *, title: str) -> Path:
    """series: the rows of one (gpu, key) from the history, oldest first (date, median_ms, ci_low_ms, ci_high_ms,
    baseline_ms); change_points: objects with index, change, date."""
    fig, (ax,) = _figure(width=9.0, height=3.6)
    x = list(range(len(series)))
    median = series["median_ms"].to_numpy(dtype=float)
    low = series["ci_low_ms"].fillna(series["median_ms"]).to_numpy(dtype=float)
    high = series["ci_high_ms"].fillna(series["median_ms"]).to_numpy(dtype=float)
    ax.fill_between(x, low, high, color="#1f77b4", alpha=0.2, linewidth=0, label="95% interval")
    ax.plot(x, median, marker="o", markersize=3, color="#1f77b4", linewidth=1, label="median")
    baseline = series["baseline_ms"].dropna()
    if len(baseline):
        ax.axhline(float(baseline.iloc[-1]), color="#7f7f7f", linestyle="--", linewidth=1, label="baseline")
    for i, cp in enumerate(change_points):
        colour = "#d62728" if cp.change > 0 else "#2ca02c"
        ax.axvline(cp.index - 0.5, color=colour, linewidth=1.5,
                   label=f"change {cp.change:+.1%} at {cp.date[:10]}" if i < 6 else None)
    labels = run_labels(series)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    ax.set_xlabel("run (UTC" + (", commit)" if "commit" in series and series["commit"].nunique() > 1 else ")"))
    ax.set_ylabel("median time (ms)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=7, loc="best")
    return _save(fig, path)


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
