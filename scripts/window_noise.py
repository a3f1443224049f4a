"""Would a shorter sampling window keep the verdicts? An offline answer from two runs' raw samples.

    python3 scripts/window_noise.py RUN_A.json RUN_B.json [--fractions 1,0.5,0.25,0.1]

Each result keeps its samples in the order they were taken. Keeping only the first fraction of them is what
the same run would have measured with a window that much shorter (after the same warm-up). Per timing method
and fraction it prints:
- the spread between the two runs: |log(median A / median B)| in percent (median, p90, p99), on the results
  both runs timed with the same method;
- the verdicts the truncated medians would get against each run's baseline entry: how many changes exceed
  the tolerance the run applied (before any re-measure). Nothing was injected, so each one is a false alarm.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path


def _records(path: str) -> dict[str, dict]:
    try:
        return {r["id"]: r for r in json.loads(Path(path).read_text())["results"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"window_noise: {path}: not a results file with 'results' records ({exc})")


def _head_median(samples: list[float], fraction: float) -> float:
    return statistics.median(samples[: max(10, int(len(samples) * fraction))])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else math.nan


def table(a: dict[str, dict], b: dict[str, dict], fractions: list[float]) -> list[str]:
    lines = [f"{'method':<14} {'window':>6} {'pairs':>5} {'between runs |d| %: median':>27} {'p90':>6} {'p99':>6} "
             f"{'over tolerance (both runs)':>27}"]
    methods = sorted({r["method"] for r in a.values()})
    for method in methods:
        for fraction in fractions:
            spread = [abs(math.log(_head_median(a[k]["samples_ms"], fraction)
                                   / _head_median(b[k]["samples_ms"], fraction))) * 100
                      for k in a if k in b and a[k]["method"] == b[k]["method"] == method
                      and a[k]["family"] != "model"]
            over = 0
            for run in (a, b):
                for r in run.values():
                    if r["method"] != method or not r.get("baseline") or not r.get("tolerance"):
                        continue
                    change = _head_median(r["samples_ms"], fraction) / r["baseline"]["median_ms"] - 1
                    over += change > r["tolerance"]
            lines.append(f"{method:<14} {fraction:>6.2f} {len(spread):>5} {_pct(spread, 0.5):>27.2f} "
                         f"{_pct(spread, 0.9):>6.2f} {_pct(spread, 0.99):>6.2f} {over:>27}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--fractions", default="1,0.5,0.25,0.1")
    args = parser.parse_args(argv)
    try:
        fractions = [float(f) for f in args.fractions.split(",")]
    except ValueError:
        parser.error(f"--fractions: {args.fractions!r}; expected comma-separated numbers in (0, 1]")
    if any(not 0 < f <= 1 for f in fractions):
        parser.error(f"--fractions: {args.fractions!r}; expected numbers in (0, 1]")
    print("\n".join(table(_records(args.run_a), _records(args.run_b), fractions)))


if __name__ == "__main__":
    main()
