"""`python -m perf compare A B [-o DIR] [--threshold T] [--no-fail]`: B's results against A's as its baseline
(perf/report/compare.py), the report of the pair written as `python -m perf report` writes one, each regression of B
named; exit 1 on one unless --no-fail, 2 on bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from perf.options import COMPARE_THRESHOLD, OptionError, threshold
from perf.report.cells import counts_line, verdict_counts
from perf.report.compare import pair, title_suffix
from perf.report.files import write_report
from perf.report.results_check import load
from perf.verdict import destination, stats
from perf.verdict.results import ResultsError

DEFAULT_DIR = Path("perf-compare")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m perf compare",
                                description="Compare two results files: B against A as its baseline.")
    p.add_argument("a", type=Path, metavar="A", help="results file taken as the baseline")
    p.add_argument("b", type=Path, metavar="B", help="results file compared with A")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_DIR, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_DIR})")
    p.add_argument("--threshold", default=None, metavar="FRACTION",
                   help="regression threshold for every pair, a fraction up to 1 or a percentage: 0.05 or 5%% "
                        f"(default: each B record's own, else {COMPARE_THRESHOLD * 100:.0f}%%)")
    p.add_argument("--no-fail", action="store_true",
                   help="only report: exit 0 even when B regressed (default: exit 1 on a regression, as the suite)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        threshold_value = threshold(args.threshold, "--threshold") if args.threshold is not None else None
    except OptionError as exc:
        print(f"perf compare: error: {exc}", file=sys.stderr)
        return 2
    problem = destination.not_a_folder(args.out, "-o", "a folder for the comparison's report")
    if problem:
        print(f"perf compare: error: {problem}", file=sys.stderr)
        return 2
    try:
        a, b = load(args.a), load(args.b)
        doc = pair(a, b, a_path=str(args.a), b_path=str(args.b), threshold=threshold_value, fallback=COMPARE_THRESHOLD)
        paths = write_report(doc, args.out, title_suffix=title_suffix(a, b, str(args.a), str(args.b)),
                             baseline_label=f"A ({args.a.name})", source=f"{args.b} compared with {args.a}")
    except ResultsError as exc:
        print(f"perf compare: error: {exc}", file=sys.stderr)
        return 2
    c = doc["comparison"]
    print(f"perf compare: {c['matched']} matched, {len(c['only_in_b'])} only in B, {len(c['only_in_a'])} only in A; "
          + counts_line(verdict_counts(doc["results"])))
    regressions = [r for r in doc["results"] if r["verdict"] == stats.Verdict.REGRESSION.value]
    for r in regressions:
        print(f"perf compare: regression: {r['key']}: {r['baseline']['median_ms']:.4g} ms in A, "
              f"{r['summary']['median_ms']:.4g} ms in B ({r['change']:+.1%}, beyond the {r['threshold']:.1%} threshold)")
    print(f"perf compare: wrote {len(paths)} files to {args.out}/ (open {args.out / 'index.html'})")
    if regressions and not args.no_fail:
        print(f"perf compare: {len(regressions)} regressions in B (exit 1; --no-fail only reports)", file=sys.stderr)
        return 1
    return 0
