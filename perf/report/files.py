"""The report of a run: what a person reads of a results file (`pytest perf/ --perf-json RESULTS`), written by
`python -m perf report` (perf/commands/report.py), the plugin's --perf-report, compare and ab into a folder:

    summary.md     verdict counts; regressions, improvements and unreliable results first; shape-rule
                   violations; the paper's claims with their verdicts on this run (perf/shape/claims.toml);
                   the kernels timed side by side with their references (--perf-pairs);
                   the environment beside the baseline's, differing fields first; every result
                   (perf/report/markdown.py, from the sections of perf/report/sections.py)
    index.html     one self-contained page: the same sections, linked, and every plot (PNGs inline as data URIs)
                   (perf/report/html_page.py)
    results.csv    tidy: one row per benchmark and statistic (perf/report/tidy_csv.py)
    *.png          the plots of perf/report/plots/ that the results support

When GITHUB_STEP_SUMMARY is set, summary.md is appended to that file too. A missing or malformed results file
is a ResultsError that names the file and the field (perf/report/results_check.py: check, load).
"""

from __future__ import annotations

import os
from pathlib import Path

from perf.report import plots
from perf.report.html_page import index_html
from perf.report.markdown import summary_markdown
from perf.report.results_check import check
from perf.report.tidy_csv import tidy_frame
from perf.verdict import file_writes


def write_report(doc: dict, out_dir: Path, *, title_suffix: str = "", baseline_label: str = "baseline",
                 source: str = "results", step_summary: bool = True) -> list[Path]:
    """Write summary.md, index.html, results.csv and the plots into out_dir; return the paths written.
    Raises ResultsError (naming `source` and the field) when the document cannot be reported. With
    step_summary, summary.md is appended to GITHUB_STEP_SUMMARY when that is set."""
    check(doc, source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = plots.draw_all(doc, out_dir, suffix=title_suffix, baseline_label=baseline_label)
    summary = summary_markdown(doc, title_suffix=title_suffix)
    summary_path = out_dir / "summary.md"
    file_writes.write_text(summary_path, summary)  # each file atomic: WriteError names it on a full disk
    csv_path = out_dir / "results.csv"
    file_writes.write_text(csv_path, tidy_frame(doc).to_csv(index=False))
    html_path = out_dir / "index.html"
    file_writes.write_text(html_path, index_html(doc, pngs, title_suffix=title_suffix))
    step_summary_path = os.environ.get("GITHUB_STEP_SUMMARY") if step_summary else None
    if step_summary_path:
        with open(step_summary_path, "a", encoding="utf-8") as fh:
            fh.write(summary + "\n")
    return [summary_path, html_path, csv_path, *pngs]
