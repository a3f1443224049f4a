"""`python -m perf report RESULTS [-o DIR] [--title TEXT]`: summary.md, index.html, results.csv and the plots of a
results file (perf/report/files.py) in DIR (default ./perf-report). A missing or malformed results file is an error
that names the file and the field, and exit status 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from perf.report.files import write_report
from perf.report.results_check import load
from perf.verdict import destination
from perf.verdict.results import ResultsError

DEFAULT_DIR = Path("perf-report")


def parser(prog: str = "python -m perf report") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Tables and plots from a results file "
                                                       "(pytest perf/ --perf-json RESULTS).")
    p.add_argument("results", type=Path, metavar="RESULTS", help="results file written by --perf-json")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_DIR, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_DIR})")
    p.add_argument("--title", default="", help="text appended to the report's title")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    problem = destination.not_a_folder(args.out, "-o", "a folder for summary.md, index.html, results.csv and the plots")
    if problem:
        print(f"perf report: error: {problem}", file=sys.stderr)
        return 2
    try:
        doc = load(args.results)
        paths = write_report(doc, args.out, title_suffix=f" {args.title}" if args.title else "",
                             source=str(args.results))
    except ResultsError as exc:
        print(f"perf report: error: {exc}", file=sys.stderr)
        return 2
    print(f"perf report: wrote {len(paths)} files to {args.out}/ (open {args.out / 'index.html'})")
    return 0
