"""Tables of the verdict experiment (the last thing scripts/verdict_session.sh prints).

    python3 scripts/verdict_summary.py refresh RUN.json...   between-run sigma per family, quality flags
    python3 scripts/verdict_summary.py check RESULTS.json... verdicts per GPU, detection, false alarms, and the
                                                             noise model on the data: z = change / (sigma x
                                                             sqrt(1 + 1/runs)) per family, tolerance quantiles
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

from perf.report import detection
from perf.verdict import baselines, noise


def _q(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else float("nan")


def refresh(paths: list[Path]) -> None:
    runs = [json.loads(p.read_text())["results"] for p in paths]
    by_key: dict[str, list[float]] = {}
    for run in runs:
        for r in run:
            by_key.setdefault(r["key"], []).append(r["summary"]["median_ms"])
    print(f"{len(runs)} runs, {len(by_key)} benchmarks")
    print(f"{'family':<8} {'n':>4} {'sigma p50':>9} {'p90':>7} {'max':>7}  worst")
    for family in sorted({k.split('/')[0] for k in by_key}):
        sig = {k: noise.between_run_sigma(v) for k, v in by_key.items() if k.startswith(family + "/") and len(v) > 1}
        vals = [s for s in sig.values() if s is not None]
        worst = max(sig, key=lambda k: sig[k] or 0)
        print(f"{family:<8} {len(vals):>4} {_q(vals, .5):>9.2%} {_q(vals, .9):>7.2%} {max(vals):>7.2%}  {worst}")


def check(paths: list[Path]) -> None:
    base = baselines.load(Path("baselines"), json.loads(paths[0].read_text())["gpu"])
    print(f"{'run':<12} {'results':>7}  verdicts")
    everything = []
    for p in paths:
        doc = json.loads(p.read_text())
        counts: dict[str, int] = {}
        for r in doc["results"]:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        print(f"{p.stem:<12} {len(doc['results']):>7}  " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
        everything += doc["results"]
    found = detection.split(everything)
    for line in detection.lines(found):
        print(line)
    print(f"{'family':<8} {'clean':>5} {'tol p50':>7} {'p90':>6} {'old p50':>7} {'|z| p99':>7} {'max':>6}  "
          f"{'unrel':>5}  (tolerance = smallest slowdown flagged; old = max(5%, window noise))")
    for family in sorted({r["family"] for r in found.untouched}):
        rs = [r for r in found.untouched if r["family"] == family and r.get("change") is not None]
        tol = [r["tolerance"] for r in rs if r.get("tolerance") is not None]
        old = [max(0.05, r["noise"] or 0.0) for r in rs]
        z = []
        for r in rs:
            ref = base.reference(r["key"])
            if ref:
                z.append(abs(r["change"]) / max(ref.sigma * math.sqrt(1 + 1 / ref.runs), 1e-9))
        unrel = sum(r["verdict"] == "unreliable" for r in rs)
        print(f"{family:<8} {len(rs):>5} {_q(tol, .5):>7.1%} {_q(tol, .9):>6.1%} {_q(old, .5):>7.1%} "
              f"{_q(z, .99):>7.2f} {max(z) if z else 0:>6.2f}  {unrel:>5}")
    changes = [r["change"] for r in found.untouched if r.get("change") is not None]
    print(f"untouched: {len(changes)} verdicts, median change {statistics.median(changes):+.2%}, "
          f"range {min(changes):+.1%} .. {max(changes):+.1%}")


if __name__ == "__main__":
    {"refresh": refresh, "check": check}[sys.argv[1]]([Path(a) for a in sys.argv[2:]])
