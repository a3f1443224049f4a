"""The trend report of the results history: one HTML page with the latest change points (linking to their
plots) and one PNG per benchmark series (perf/report/plots/trend.py)."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from typing import Sequence

from perf.report.files import CSS, Table, fmt
from perf.report.plots.trend import trend

CHANGE_HEADER = ("GPU", "benchmark", "first run after", "commit", "before ms", "after ms", "change", "p-value",
                 "environment at that run")


def _png_name(gpu: str, key: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{gpu}_{key}")[:80]
    return f"{slug}-{hashlib.sha1(f'{gpu}|{key}'.encode()).hexdigest()[:8]}.png"


def change_table(change_points: Sequence) -> Table:
    rows = tuple((cp.gpu, cp.key, cp.date[:16].replace("T", " "), (cp.commit or "")[:12], fmt(cp.before, ".4g"),
                  fmt(cp.after, ".4g"), f"{cp.change:+.1%}", fmt(cp.p_value, ".2g"), "; ".join(cp.environment))
                 for cp in change_points)
    return Table(CHANGE_HEADER, rows, tuple("regression" if cp.change > 0 else "improvement" for cp in change_points))


def write(frame, change_points: Sequence, out_dir: Path, *, every_series: bool = False, latest: int = 50) -> list[Path]:
    """index.html and the PNGs: series with change points, or every series of the frame with every_series."""
    out_dir = Path(out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    by_series: dict[tuple, list] = {}
    for cp in change_points:
        by_series.setdefault((cp.gpu, cp.key), []).append(cp)
    written: list[Path] = []
    links: dict[tuple, str] = {}
    for (gpu, key), series in frame.groupby(["gpu", "key"], sort=True):
        if not (every_series or (gpu, key) in by_series):
            continue
        name = f"plots/{_png_name(gpu, key)}"
        rows = series.reset_index(drop=True)
        written.append(trend(rows, by_series.get((gpu, key), []), out_dir / name,
                             title=f"{key}\n{gpu} · {len(rows)} runs, {rows['date'].iloc[0]:%Y-%m-%d} to "
                                   f"{rows['date'].iloc[-1]:%Y-%m-%d}"))
        links[(gpu, key)] = name
    newest = sorted(change_points, key=lambda cp: cp.date, reverse=True)[:latest]
    table = change_table(newest).html()
    for cp in newest:  # the benchmark cell links to its plot
        cell = f"<td>{html.escape(cp.key)}</td>"
        table = table.replace(cell, f"<td><a href='#{html.escape(links[(cp.gpu, cp.key)])}'>{html.escape(cp.key)}</a></td>", 1)
    runs = frame.drop_duplicates("run_id")
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Performance history</title>"
             f"<style>{CSS}</style></head><body><h1>Performance history</h1>",
             f"<p class='note'>{len(runs)} runs, {frame.groupby(['gpu', 'key']).ngroups} benchmark series, "
             f"{len(change_points)} change points (ruptures PELT with a noise-calibrated penalty, each change tested "
             f"with Mann-Whitney U).</p>",
             f"<h2>Latest change points ({len(newest)})</h2>", f"<div class='wide'>{table}</div>", "<h2>Trends</h2>"]
    for (gpu, key), name in links.items():
        parts.append(f"<figure id='{html.escape(name)}'><img alt='{html.escape(key)}' src='{html.escape(name)}'>"
                     f"<figcaption>{html.escape(gpu)} · {html.escape(key)}</figcaption></figure>")
    parts.append("</body></html>")
    index = out_dir / "index.html"
    index.write_text("\n".join(parts))
    return [index, *written]
