"""summary.md: the report's sections (perf/report/sections.py) as markdown, long tables folded in <details> (GitHub's
job page shows the summary inline), and every result at the end."""

from __future__ import annotations

from typing import Mapping

from perf.report.plots.figure import RunInfo
from perf.report.sections import results_table, sections, sorted_records

FOLD_ROWS = 30  # summary.md folds longer tables


def title(doc: Mapping, title_suffix: str) -> str:
    return f"Performance report: {RunInfo.of(doc).gpu}{title_suffix}"


def summary_markdown(doc: Mapping, *, title_suffix: str = "") -> str:
    env = doc.get("environment") or {}
    info = RunInfo.of(doc)
    lines = [f"# {title(doc, title_suffix)}", "",
             f"Run of {info.date}, commit `{env.get('commit') or 'unknown'}`, {len(doc['results'])} benchmarks.", ""]
    for heading, table, note in sections(doc):
        lines += [f"## {heading}", ""]
        if note:
            lines += [note, ""]
        if table is not None and len(table.rows) > FOLD_ROWS:
            lines += [f"<details><summary>{len(table.rows)} rows</summary>", "", table.markdown(), "", "</details>", ""]
        elif table is not None:
            lines += [table.markdown(), ""]
    records = sorted_records(doc)
    if records:
        lines += ["## All results", "", f"<details><summary>{len(records)} benchmarks</summary>", "",
                  results_table(records).markdown(), "", "</details>", "",
                  "Times are medians in ms; change = now / baseline - 1 (positive is slower); noise = both medians' "
                  "95% CI half-widths combined; tolerance = the change that counts (set by the largest term of the "
                  "noise model); * = re-measured.", ""]
    return "\n".join(lines)
