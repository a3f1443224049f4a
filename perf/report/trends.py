"""The history site (`python -m perf history report -o DIR`): static pages a team publishes from the nightly.

    index.html          the open regressions (benchmarks whose latest night is a regression), the latest change
                        points of the benchmarks' medians and of the side-by-side pairs' ratios (accepted ones
                        marked, each with the commit range of its step), then every series browsable by family with
                        a search box, and the PNG trend plots of the series with change points (every series with
                        --all; perf/report/plots/trend.py)
    series/*.html       one page per series: its nights as an inline SVG (perf/report/trend_svg.py) with the
                        reference and tolerance band that decided each night and the environment changes marked, its
                        change points, and a table of its nights
    plots/*.png         the trend plots

No page needs a network or a server: styles and the search box's script are inline."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from perf.report.cells import fmt
from perf.report.html_page import CSS
from perf.report.plots.trend import is_slower, trend, values_of
from perf.report.table import Html, Table
from perf.report.trend_series_page import SeriesPage, commit_range, environment_marks

CHANGE_POINTS = {"benchmark": "change points", "pair": "ratio change points"}  # what a measure's are called
NOTES = {"pair": "ratio = reference time / ours: above 1, ours is faster; a rise is ours getting faster."}
METHOD = "ruptures PELT with a noise-calibrated penalty, each change tested with Mann-Whitney U"

# Filters the tables of series as the user types (every word must appear in the row's text).
SEARCH_JS = """<script>
function filterSeries(){var words=document.getElementById('search').value.toLowerCase().split(/\\s+/).filter(Boolean);
document.querySelectorAll('tr.series').forEach(function(row){var text=row.getAttribute('data-search');
row.style.display=words.every(function(w){return text.indexOf(w)>=0;})?'':'none';});
document.querySelectorAll('details.family').forEach(function(d){
var shown=d.querySelectorAll('tr.series:not([style*="none"])').length;d.style.display=shown?'':'none';if(words.length){d.open=true;}});}
</script>"""


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


def slug(kind: str, gpu: str, key: str) -> str:
    """A series' file name stem, unique per (kind, GPU, key)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}_{gpu}_{key}")[:80]
    return f"{readable}-{hashlib.sha1(f'{kind}|{gpu}|{key}'.encode()).hexdigest()[:8]}"


def family_of(key: str) -> str:
    """The family a series is browsed under: its key up to the first ':' ("gemm/torch", "kernel/rms")."""
    return key.split(":", 1)[0]


def write_plots(section: Section, out_dir: Path, every_series: bool) -> dict[tuple, Path]:
    """A PNG per series with change points (every series with every_series): {(kind, gpu, key): its path}."""
    by_series = _by_series(section.change_points)
    kind, values = section.measure.kind, values_of(section.measure.column)
    plots: dict[tuple, Path] = {}
    for (gpu, key), series in section.frame.groupby(["gpu", "key"], sort=True):
        if not (every_series or (gpu, key) in by_series):
            continue
        rows = series.reset_index(drop=True)
        plots[(kind, gpu, key)] = trend(
            rows, by_series.get((gpu, key), []), out_dir / "plots" / f"{slug(kind, gpu, key)}.png", values=values,
            title=f"{key}\n{gpu} · {len(rows)} runs, {rows['date'].iloc[0]:%Y-%m-%d} to {rows['date'].iloc[-1]:%Y-%m-%d}")
    return plots


def _by_series(change_points: Sequence) -> dict[tuple, list]:
    out: dict[tuple, list] = {}
    for cp in change_points:
        out.setdefault((cp.gpu, cp.key), []).append(cp)
    return out


def acceptance_of(cp, acceptances) -> str:
    """"accepted DATE by WHO: REASON" where someone accepted the series' step at or after the change point."""
    if acceptances is None or acceptances.empty:
        return ""
    import pandas as pd

    when = pd.Timestamp(cp.date)
    when = when.tz_localize("UTC") if when.tzinfo is None else when
    for row in acceptances.itertuples():
        at = pd.Timestamp(row.accepted_at)
        at = at.tz_localize("UTC") if at.tzinfo is None else at
        if row.gpu == cp.gpu and row.key == cp.key and at >= when:
            return f"accepted {at:%Y-%m-%d} by {row.by}: {row.reason}"
    return ""


def latest_changes_html(section: Section, pages: dict[tuple, str], latest: int, acceptances,
                        commit_url: str | None) -> list[str]:
    """The heading, note and table of a measure's newest change points: each key links its series page, each
    commit range its commits, accepted steps marked."""
    newest = sorted(section.change_points, key=lambda cp: cp.date, reverse=True)[:latest]
    name = CHANGE_POINTS[section.measure.kind]
    heading = f"<h2 id='{section.measure.kind}-changes'>Latest {name} ({len(newest)})</h2>"
    if not newest:
        return [heading, f"<p class='hint'>No {CHANGE_POINTS[section.measure.kind]}: every {section.measure.kind} "
                         "series stays within its own noise. Each series' nights are on its page under Every series "
                         "below.</p>"]
    base = change_table(newest, section.measure)
    accepted = [acceptance_of(cp, acceptances) for cp in newest]
    series = {k: s.reset_index(drop=True) for k, s in section.frame.groupby(["gpu", "key"], sort=False)}
    rows = []
    for row, cp, a in zip(base.rows, newest, accepted):
        rows_of = series[(cp.gpu, cp.key)]
        page = html.escape(pages[(section.measure.kind, cp.gpu, cp.key)])
        key = Html(f"<a href='{page}'>{html.escape(cp.key)}</a>", cp.key)
        commits = Html(commit_range(rows_of, cp.index, commit_url, as_html=True), commit_range(rows_of, cp.index, None))
        rows.append((row[0], key, row[2], commits, *row[4:], a))
    table = Table((*base.header[:3], "commits", *base.header[4:], "accepted"), tuple(rows),
                  tuple("accepted" if a else c for a, c in zip(accepted, base.classes)))
    text = table.html()
    note = NOTES.get(section.measure.kind)
    return [heading, *([f"<p class='note'>{html.escape(note)}</p>"] if note else []), text]


def open_regressions(section: Section, acceptances) -> list[tuple]:
    """(gpu, key, since, nights, latest row) of each benchmark series whose latest night is a regression."""
    found = []
    if section.measure.kind != "benchmark" or section.frame.empty or "verdict" not in section.frame:
        return found
    for (gpu, key), series in section.frame.groupby(["gpu", "key"], sort=True):
        verdicts = list(series["verdict"])
        if verdicts[-1] != "regression":
            continue
        nights = len(verdicts) - next(i for i in range(len(verdicts) - 1, -1, -1) if verdicts[i] != "regression") - 1 \
            if any(v != "regression" for v in verdicts) else len(verdicts)
        since = series["date"].iloc[len(verdicts) - nights]
        found.append((gpu, key, since, nights, series.iloc[-1]))
    return found


def open_regressions_html(found: list[tuple], pages: dict[tuple, str]) -> list[str]:
    parts = [f"<h2 id='open-regressions'>Open regressions ({len(found)})</h2>"]
    if not found:
        return parts + ["<p class='hint'>None: no benchmark's latest night is a regression.</p>"]
    rows = tuple((key, gpu, f"{since:%Y-%m-%d}", str(nights), fmt(last["median_ms"], ".4g"),
                  fmt(last.get("baseline_ms"), ".4g"),
                  "±" + fmt(last.get("tolerance"), ".1%") if fmt(last.get("tolerance"), ".1%") != "-" else "-",
                  str(last.get("reference") or "-")) for gpu, key, since, nights, last in found)
    links = tuple(pages[("benchmark", gpu, key)] for gpu, key, *_ in found)
    table = Table(("benchmark", "GPU", "since", "nights", "latest ms", "reference ms", "tolerance", "decided by"),
                  rows, ("regression",) * len(rows), links=links)
    return parts + ["<p class='note'>Benchmarks whose latest night is a regression, and for how many nights in a "
                    "row; accept an intended step with <code>python -m perf history accept KEY --reason TEXT</code>."
                    "</p>", table.html()]


def browse_html(sections: Sequence[Section], pages: dict[tuple, str]) -> list[str]:
    """Every series by family, with a search box that filters them."""
    parts = ["<h2 id='browse'>Every series</h2>",
             "<p><input type='search' id='search' placeholder='filter: words of a benchmark, GPU, family, verdict' "
             "oninput='filterSeries()' aria-label='filter the series'></p>"]
    for section in sections:
        kind, column = section.measure.kind, section.measure.column
        families: dict[str, list] = {}
        for (gpu, key), series in section.frame.groupby(["gpu", "key"], sort=True):
            families.setdefault(family_of(key), []).append((gpu, key, series))
        points = {k: len(v) for k, v in _by_series(section.change_points).items()}
        for family, members in sorted(families.items()):
            rows = []
            for gpu, key, series in members:
                last = series.iloc[-1]
                verdict = str(last.get("verdict") or "") if kind == "benchmark" else ""
                cells = (key, gpu, str(len(series)), f"{last['date']:%Y-%m-%d}", fmt(last[column], ".4g"), verdict,
                         str(points.get((gpu, key), 0)))
                search = html.escape(" ".join((kind, family, *cells)).lower())
                rows.append(f"<tr class='series {html.escape(verdict)}' data-search='{search}'><td><a href='"
                            f"{html.escape(pages[(kind, gpu, key)])}'>{html.escape(key)}</a></td>"
                            + "".join(f"<td>{html.escape(c)}</td>" for c in cells[1:]) + "</tr>")
            head = "".join(f"<th>{h}</th>" for h in (kind, "GPU", "runs", "latest run",
                                                     f"latest {section.measure.unit}", "verdict", CHANGE_POINTS[kind]))
            parts.append(f"<details class='family' open><summary>{html.escape(family)} ({len(members)} "
                         f"{kind} series)</summary><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
                         "</tbody></table></details>")
    return parts


def counts_note(sections: Sequence[Section]) -> str:
    runs = set().union(*(set(s.frame["run_id"]) for s in sections))
    counted = [f"{s.frame.groupby(['gpu', 'key']).ngroups} {s.measure.kind} series, {len(s.change_points)} "
               f"{CHANGE_POINTS[s.measure.kind]}" for s in sections]
    return f"{len(runs)} runs, {', '.join(counted)} ({METHOD})."


def write(sections: Sequence[Section], out_dir: Path, *, every_series: bool = False, latest: int = 50,
          acceptances=None, commit_url: str | None = None,
          environment_fields: Sequence[str] = ("driver", "cuda", "torch", "triton")) -> list[Path]:
    """index.html, a page per series and the PNGs of each section (the benchmarks', then the pairs'): series with
    change points, or every series with every_series. A section whose frame is empty is left out (a history
    without pairs), except the first. acceptances: reference.acceptances_frame's rows; commit_url: a template with
    {before} and {after} (a compare view of the repository) for the commit range of each step."""
    out_dir = Path(out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    (out_dir / "series").mkdir(parents=True, exist_ok=True)
    shown = [s for i, s in enumerate(sections) if i == 0 or not s.frame.empty]
    plots: dict[tuple, Path] = {}
    for section in shown:
        plots.update(write_plots(section, out_dir, every_series))
    written: list[Path] = []
    pages: dict[tuple, str] = {}
    for section in shown:
        by_series = _by_series(section.change_points)
        for (gpu, key), series in section.frame.groupby(["gpu", "key"], sort=True):
            series_key = (section.measure.kind, gpu, key)
            page = SeriesPage(section.measure, gpu, key, series.reset_index(drop=True), by_series.get((gpu, key), []),
                              environment_marks(series.reset_index(drop=True), environment_fields),
                              [acceptance_of(cp, acceptances) for cp in by_series.get((gpu, key), [])])
            path = out_dir / "series" / f"{slug(*series_key)}.html"
            png = plots.get(series_key)
            path.write_text(page.html(CSS, commit_url, f"../{png.relative_to(out_dir).as_posix()}" if png else None))
            pages[series_key] = path.relative_to(out_dir).as_posix()
            written.append(path)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>Performance history</title>"
             f"<style>{CSS}</style></head><body><h1>Performance history</h1>",
             f"<p class='note'>{html.escape(counts_note(shown))}</p>",
             "<nav><a href='#open-regressions'>Open regressions</a>"
             + "".join(f"<a href='#{s.measure.kind}-changes'>{CHANGE_POINTS[s.measure.kind].capitalize()}</a>"
                       for s in shown) + "<a href='#browse'>Every series</a><a href='#trends'>Trends</a></nav>"]
    parts += open_regressions_html(open_regressions(shown[0], acceptances), pages)
    for section in shown:
        parts += latest_changes_html(section, pages, latest, acceptances, commit_url)
    parts += browse_html(shown, pages)
    parts.append("<h2 id='trends'>Trends</h2>")
    if not plots:
        parts.append("<p class='hint'>No plots here: only series with change points are plotted on this page "
                     "(<code>python -m perf history report --all</code> plots every series). Every series has its "
                     "own page with its nights drawn, under Every series above.</p>")
    for (kind, gpu, key), png in plots.items():
        name = png.relative_to(out_dir).as_posix()
        parts.append(f"<figure id='{html.escape(name)}'><a href='{html.escape(pages[(kind, gpu, key)])}'>"
                     f"<img alt='{html.escape(key)}' src='{html.escape(name)}'></a>"
                     f"<figcaption>{html.escape(gpu)} · {html.escape(kind)} · {html.escape(key)}</figcaption></figure>")
    parts.append(SEARCH_JS)
    parts.append("</body></html>")
    index = out_dir / "index.html"
    index.write_text("\n".join(parts))
    return [index, *written, *plots.values()]
