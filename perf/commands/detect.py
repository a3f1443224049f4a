"""`python -m perf detect --inject 0.05 PATTERN... [pytest options]`: the detection experiment.

Slows every benchmark whose key matches a glob PATTERN by the fraction given with real work of its own kind
(an extra matmul or copy, calibrated ABAB in the same process: perf/measure/slowdown.py), runs the selected
suite against the stored baseline, and prints for each slowed benchmark the slowdown asked for, the slowdown
injected, the change the suite measured and its verdict; then the false alarms among the rest.

    --inject FRACTION        the slowdown to inject (default 0.05)
    --from-results FILE      print the table of a results file from an earlier detection run instead
    --json FILE              also write the table's data (caught, false alarms, rows) to FILE

Exit status 0 when every injected benchmark was caught and nothing else was flagged, 1 otherwise, 2 on bad
input. Any other argument goes to pytest (e.g. -k, --model, --baseline-dir, --gpu).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from perf.commands.suite_process import run_folder, run_suite, select
from perf.report import detection
from perf.verdict import results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf detect", add_help=False)
    parser.add_argument("patterns", nargs="*")
    parser.add_argument("--inject", type=float, default=0.05)
    parser.add_argument("--from-results", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def main(argv: list[str]) -> int:
    ours, pytest_args = _parser().parse_known_args(argv)
    if ours.help:
        print(__doc__.strip())
        return 0
    if not ours.from_results and not ours.patterns:
        print("perf detect: error: name the benchmarks to slow (glob patterns of keys, e.g. 'gemm/*:mlp_up:*')",
              file=sys.stderr)
        return 2
    if not 0 < ours.inject < 10:
        print(f"perf detect: error: --inject: expected a fraction such as 0.05, got {ours.inject}", file=sys.stderr)
        return 2
    try:
        if ours.from_results:
            doc = results.read(ours.from_results)
        else:
            injections = [a for p in ours.patterns for a in ("--perf-inject-slowdown", f"{p}={ours.inject!r}")]
            selection = select([*injections, *pytest_args])  # options and files checked before measuring
            if selection.error:
                print(f"perf detect: error: {selection.error}", file=sys.stderr)
                return 2
            with run_folder("perf-detect") as tmp:  # a killed detect's folder goes with the next
                code, doc = run_suite(Path(tmp) / "detect.json", [*injections, *pytest_args])
                if code not in (0, 1) or doc is None:
                    print(f"perf detect: error: the run stopped (exit {code})", file=sys.stderr)
                    return 2
    except results.ResultsError as exc:
        print(f"perf detect: error: {exc}", file=sys.stderr)
        return 2
    found = detection.split(doc["results"])
    if not found.injected:
        print("perf detect: error: no benchmark was slowed: no key matched the patterns", file=sys.stderr)
        return 2
    for line in detection.lines(found):
        print(line)
    if ours.json:
        ours.json.write_text(json.dumps({
            "caught": len(found.caught), "injected": len(found.injected), "false_alarms": len(found.false_alarms),
            "untouched": len(found.untouched), "unreliable": len(found.unreliable),
            "rows": [{k: r.get(k) for k in ("key", "injected", "change", "tolerance", "verdict", "reason")}
                     for r in found.injected + found.false_alarms]}, indent=1) + "\n")
    return 0 if len(found.caught) == len(found.injected) and not found.false_alarms else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
