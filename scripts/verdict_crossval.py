"""Leave-one-host-out check of the verdict's noise rule on stored results files (no GPU needed).

    python3 scripts/verdict_crossval.py HOSTDIR HOSTDIR HOSTDIR...

Each HOSTDIR holds the results files (check*.json) of one machine. For each host in turn, a baseline is merged
from the clean runs of the other hosts (`baselines.merge`, as `perf refresh --from-results` does), and every
clean result of the held-out host is judged against it; the records slowed on purpose give the detection rate.
Printed: false regressions and caught injections per rule (k, a sibling-GPU sigma added in quadrature, the
threshold), so that a rule is chosen on data it was not fitted to.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

from perf.measure.summary import Summary
from perf.verdict import baselines, noise


def load(host: Path) -> list[list[dict]]:
    return [json.loads(p.read_text())["results"] for p in sorted(host.glob("check*.json"))]


def fold(train: list[list[dict]]) -> baselines.Baselines:
    clean = [[r for r in run if not r.get("injected")] for run in train]
    empty = baselines.Baselines(path=Path("crossval.json"), gpu="H200")
    return baselines.merge(empty, clean, {"fold": "crossval"})[0]


def flagged(record: dict, base: baselines.Baselines, k: float, threshold: float) -> bool | None:
    ref = base.reference(record["key"])
    if ref is None or record.get("method") != ref.method:
        return None
    now = Summary.from_dict(record["summary"])
    change = now.median_ms / ref.summary.median_ms - 1.0
    tol = max(threshold, k * ref.sigma * math.sqrt(1 + 1 / ref.runs), now.rel_noise + ref.summary.rel_noise)
    return change > tol


def main(hosts: list[Path]) -> None:
    data = {h: load(h) for h in hosts}
    folds = {h: fold([run for g, runs in data.items() if g != h for run in runs]) for h in hosts}
    rules = list(itertools.product((4.5, 6.0), (0.0, 0.005, 0.006, 0.007, 0.0075, 0.01), (0.03,)))
    print(f"{'k':>4} {'sibling':>7} {'thr':>4}  {'false/clean':>12}  {'caught/injected':>15}  {'at 5%':>6} {'at 3%':>6}  "
          f"false alarms per family")
    for k, sib, thr in rules:
        noise.SIBLING_SPREAD["gpu"] = sib
        false = clean = caught = injected = 0
        by_level: dict[float, list[int]] = {}
        per_family: dict[str, int] = {}
        for h in hosts:
            for run in data[h]:
                for r in run:
                    hit = flagged(r, folds[h], k, thr)  # sibling spread: set above
                    if hit is None:
                        continue
                    if r.get("injected"):
                        injected += 1
                        caught += hit
                        level = by_level.setdefault(round(r["injected"]["asked"], 3), [0, 0])
                        level[0] += hit
                        level[1] += 1
                    else:
                        clean += 1
                        false += hit
                        if hit:
                            per_family[r["family"]] = per_family.get(r["family"], 0) + 1
        fams = ", ".join(f"{f} {n}" for f, n in sorted(per_family.items()))
        lv = {a: f"{c}/{n}" for a, (c, n) in by_level.items()}
        print(f"{k:>4} {sib:>7.2%} {thr:>4.0%}  {false:>5}/{clean:<6}  {caught:>7}/{injected:<7}  "
              f"{lv.get(0.05, '-'):>6} {lv.get(0.03, '-'):>6}  {fams}")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
