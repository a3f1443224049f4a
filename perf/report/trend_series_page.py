"""One series' page of the history site: its nights drawn (perf/report/trend_svg.py, and the PNG where one was
drawn), its change points with the commit range of each step and whether it was accepted, and a table of its nights
with the reference and tolerance that decided each."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from perf.report.cells import fmt, is_number
from perf.report.plots.trend import is_slower, run_labels, values_of
from perf.report.table import Html, Table
from perf.report.trend_svg import series_svg


def environment_marks(series, fields: Sequence[str]) -> list[tuple[int, str]]:
    """(index of the first run after, "torch 2.11 -> 2.12; cuda ...") where a run's environment differs from the
    run before it."""
    marks = []
    present = [f for f in fields if f in series]
    for i in range(1, len(series)):
        then, now = series.iloc[i - 1], series.iloc[i]
        changed = [f"{f} {then[f]} -> {now[f]}" for f in present if then[f] != now[f] and not (
            then[f] is None and now[f] is None)]
        if changed:
            marks.append((i, "; ".join(changed)))
    return marks


def commit_range(series, index: int, commit_url: str | None, *, as_html: bool = False) -> str:
    """The commits of a step at `index`: the run before's commit .. the first run after's, linked through
    commit_url (a template with {before} and {after}) where one is given."""
    before = str(series["commit"].iloc[index - 1] or "") if index > 0 and "commit" in series else ""
    after = str(series["commit"].iloc[index] or "") if "commit" in series else ""
    text = f"{before[:7] or '?'}..{after[:7] or '?'}"
    if not as_html:
        return text
    if commit_url and before and after:
        url = commit_url.format(before=before.removesuffix("-dirty"), after=after.removesuffix("-dirty"))
        return f"<a href='{html.escape(url)}'>{html.escape(text)}</a>"
    return f"<code>{html.escape(text)}</code>"


@dataclass(frozen=True)
class SeriesPage:
    measure: object  # perf.history.changes.Measure: kind, column, unit
    gpu: str
    key: str
    series: object  # the rows of this (gpu, key), oldest first
    change_points: Sequence
    environment: Sequence[tuple[int, str]]
    accepted: Sequence[str]  # per change point: "accepted ... by ...: reason" or ""

    def nights_table(self) -> Table:
        s, unit = self.series, self.measure.unit
        labels = run_labels(s)
        marks = dict(self.environment)
        benchmark = self.measure.kind == "benchmark"
        header = ("run", "commit", unit, "low", "high",
                  *(("reference ms", "tolerance", "verdict", "decided by") if benchmark else ()), "environment change")
        values = values_of(self.measure.column)
        rows, classes = [], []
        for i in range(len(s)):
            r = s.iloc[i]
            row = [labels[i], str(r.get("commit") or "")[:12], fmt(r[values.column], ".4g"), fmt(r[values.low], ".4g"),
                   fmt(r[values.high], ".4g")]
            if benchmark:
                tolerance = r.get("tolerance")
                row += [fmt(r.get("baseline_ms"), ".4g"), "±" + fmt(tolerance, ".1%") if is_number(tolerance) else "-",
                        str(r.get("verdict") or ""), str(r.get("reference") or "-")]
            rows.append(tuple(row + [marks.get(i, "")]))
            classes.append(str(r.get("verdict") or "") if benchmark else "")
        return Table(header, tuple(reversed(rows)), tuple(reversed(classes)))  # newest first

    def html(self, css: str, commit_url: str | None, png: str | None) -> str:
        kind, s = self.measure.kind, self.series
        title = f"{self.key} on {self.gpu}"
        parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                 f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{html.escape(title)}"
                 f"</title><style>{css}</style></head><body><p><a href='../index.html'>Performance history</a></p>",
                 f"<h1>{html.escape(title)}</h1>",
                 f"<p class='note'>{len(s)} runs of this {kind} series, {s['date'].iloc[0]:%Y-%m-%d} to "
                 f"{s['date'].iloc[-1]:%Y-%m-%d}; {len(self.change_points)} change points; "
                 f"{len(self.environment)} environment changes.</p>",
                 series_svg(s, self.change_points, self.environment, values_of(self.measure.column))]
        parts.append("<h2>Change points</h2>")
        if self.change_points:
            values = values_of(self.measure.column)
            rows = tuple((cp.date[:16].replace("T", " "),
                          Html(commit_range(s, cp.index, commit_url, as_html=True), commit_range(s, cp.index, None)),
                          fmt(cp.before, ".4g"),
                          fmt(cp.after, ".4g"), f"{cp.change:+.1%}", fmt(cp.p_value, ".2g"),
                          "; ".join(cp.environment), accepted)
                         for cp, accepted in zip(self.change_points, self.accepted))
            classes = tuple("accepted" if a else ("regression" if is_slower(cp.change, values) else "improvement")
                            for cp, a in zip(self.change_points, self.accepted))
            text = Table(("first run after", "commits", f"before {self.measure.unit}", f"after {self.measure.unit}",
                          "change", "p-value", "environment at that run", "accepted"), rows, classes).html()
            parts.append(text)
        else:
            parts.append("<p class='hint'>None: the series stays within its own noise.</p>")
        if png:
            parts.append(f"<figure><img alt='{html.escape(self.key)}' src='{html.escape(png)}'>"
                         "<figcaption>The same series, drawn for the index page.</figcaption></figure>")
        parts += ["<h2>Nights</h2>", "<p class='note'>Newest first; the reference and tolerance are those that decided "
                  "the night's verdict.</p>", self.nights_table().html(), "</body></html>"]
        return "\n".join(parts)
