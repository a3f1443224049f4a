"""The trend report of the results history: one HTML page with the latest change points of the benchmarks' medians
and of the side-by-side pairs' ratios (each linking to its plot), and one PNG per series
(perf/report/plots/trend.py)."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from perf.report.cells import fmt
from perf.report.html_page import CSS
from perf.report.table import Table
from perf.report.plots.trend import is_slower, trend, values_of

CHANGE_POINTS = {"benchmark": "change points", "pair": "ratio change points"}  # what a measure's are called
NOTES = {"pair": "ratio = reference time / ours: above 1, ours is faster; a rise is ours getting faster."}
METHOD = "ruptures PELT with a noise-calibrated penalty, each change tested with Mann-Whitney U"


@dataclass(frozen=True)
class Section:
    """One measure's series and change points: measure names its kind ("benchmark" or "pair"), value column
    (median_ms or ratio) and unit (ms or ratio), as perf.history.changes.Measure does; frame is the history's
    rows ordered by (gpu, key, date)."""

    measure: object
    frame: object
    change_points: Sequence


def change_header(measure) -> tuple[str, ...]:
    unit = measure.unit
    return ("GPU", measure.kind, "first run after", "commit", f"before {unit}", f"after {unit}", "change", "p-value",
            "environment at that run")


def change_table(change_points: Sequence, measure) -> Table:
    """The change points of one measure, before and after in its unit, each row a regression or an improvement."""
    values = values_of(measure.column)
    rows = tuple((cp.gpu, cp.key, cp.date[:16].replace("T", " "), (cp.commit or "")[:12], fmt(cp.before, ".4g"),
                  fmt(cp.after, ".4g"), f"{cp.change:+.1%}", fmt(cp.p_value, ".2g"), "; ".join(cp.environment))
                 for cp in change_points)
    classes = tuple("regression" if is_slower(cp.change, values) else "improvement" for cp in change_points)
    return Table(change_header(measure), rows, classes)


def _png_name(kind: str, gpu: str, key: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}_{gpu}_{key}")[:80]
    return f"{slug}-{hashlib.sha1(f'{kind}|{gpu}|{key}'.encode()).hexdigest()[:8]}.png"


def write_plots(section: Section, out_dir: Path, every_series: bool) -> dict[tuple, Path]:
    """A PNG per series with change points (every series with every_series): {(kind, gpu, key): its path}."""
    by_series: dict[tuple, list] = {}
    for cp in section.change_points:
        by_series.setdefault((cp.gpu, cp.key), []).append(cp)
    kind, values = section.measure.kind, values_of(section.measure.column)
    plots: dict[tuple, Path] = {}
    for (gpu, key), series in section.frame.groupby(["gpu", "key"], sort=True):
        if not (every_series or (gpu, key) in by_series):
            continue
        rows = series.reset_index(drop=True)
        plots[(kind, gpu, key)] = trend(
            rows, by_series.get((gpu, key), []), out_dir / "plots" / _png_name(kind, gpu, key), values=values,
            title=f"{key}\n{gpu} · {len(rows)} runs, {rows['date'].iloc[0]:%Y-%m-%d} to {rows['date'].iloc[-1]:%Y-%m-%d}")
    return plots


def latest_changes_html(section: Section, links: dict[tuple, str], latest: int) -> list[str]:
    """The heading, note and table of a measure's newest change points, each key linking to its plot."""
    newest = sorted(section.change_points, key=lambda cp: cp.date, reverse=True)[:latest]
    table = change_table(newest, section.measure).html()
    for cp in newest:
        cell = f"<td>{html.escape(cp.key)}</td>"
        link = html.escape(links[(section.measure.kind, cp.gpu, cp.key)])
        table = table.replace(cell, f"<td><a href='#{link}'>{html.escape(cp.key)}</a></td>", 1)
    note = NOTES.get(section.measure.kind)
    return [f"<h2>Latest {CHANGE_POINTS[section.measure.kind]} ({len(newest)})</h2>",
            *([f"<p class='note'>{html.escape(note)}</p>"] if note else []), f"<div class='wide'>{table}</div>"]


def counts_note(sections: Sequence[Section]) -> str:
    runs = set().union(*(set(s.frame["run_id"]) for s in sections))
    counted = [f"{s.frame.groupby(['gpu', 'key']).ngroups} {s.measure.kind} series, {len(s.change_points)} "
               f"{CHANGE_POINTS[s.measure.kind]}" for s in sections]
    return f"{len(runs)} runs, {', '.join(counted)} ({METHOD})."


def write(sections: Sequence[Section], out_dir: Path, *, every_series: bool = False, latest: int = 50) -> list[Path]:
    """index.html and the PNGs of each section (the benchmarks', then the pairs'): series with change points, or
    every series of the frames with every_series. A section whose frame is empty is left out (a history without
    pairs), except the first."""
    out_dir = Path(out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    shown = [s for i, s in enumerate(sections) if i == 0 or not s.frame.empty]
    plots: dict[tuple, Path] = {}
    for section in shown:
        plots.update(write_plots(section, out_dir, every_series))
    links = {series: path.relative_to(out_dir).as_posix() for series, path in plots.items()}
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Performance history</title>"
             f"<style>{CSS}</style></head><body><h1>Performance history</h1>",
             f"<p class='note'>{html.escape(counts_note(shown))}</p>"]
    for section in shown:
        parts += latest_changes_html(section, links, latest)
    parts.append("<h2>Trends</h2>")
    for (kind, gpu, key), name in links.items():
        parts.append(f"<figure id='{html.escape(name)}'><img alt='{html.escape(key)}' src='{html.escape(name)}'>"
                     f"<figcaption>{html.escape(gpu)} · {html.escape(kind)} · {html.escape(key)}</figcaption></figure>")
    parts.append("</body></html>")
    index = out_dir / "index.html"
    index.write_text("\n".join(parts))
    return [index, *plots.values()]
