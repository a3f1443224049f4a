"""The model generations timed three ways in one process: the device's work, events, and the host's wall clock.

    OUT=out PYTHONPATH=. python3 scripts/host_bound_gpu.py [--rounds 3]

An eager generation of 64 prompts launches thousands of small kernels, and its events and wall times follow the
host's CPU (docs/perf-notes.md sections 32 and 34). This script measures each generation of the suite
(perf.suite.model_invariance_specs) with the suite's own timer, pinned to the profiler ("cuda-profiler": the sum of
its kernels' durations) and to events ("cuda-events": from the first kernel to the last, host gaps included), and
the wall clock of 3 calls, in `--rounds` alternating rounds. Run it on two hosts of one GPU kind: the device's work
should agree between them where the events and wall times do not.

Writes $OUT/host_bound.json (every round's medians, the host's CPU and core count); prints a table last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf import gpus  # noqa: E402
from perf.measure import environment, timing  # noqa: E402
from perf.measure.target import Target  # noqa: E402
from perf.suite.model_invariance_specs import model_specs  # noqa: E402

METHODS = ("cuda-profiler", "cuda-events")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    settings = timing.TimingSettings()
    rows = []
    for spec in model_specs(target):
        prepared = spec.build(target)
        prepared.verify()
        for r in range(args.rounds):
            row = {"id": spec.id, "round": r}
            for method in METHODS:
                samples = timing.measure(prepared, target, settings, cold_l2=spec.cold_l2, method=method)
                row[method] = samples.summary().median_ms
                row[method + ":method"] = samples.method  # the method really used (a failed profiler says events)
            row["wall"] = statistics.median(timing.wall_ms(prepared.fn))
            rows.append(row)
            print(f"{spec.id} round {r}: " + ", ".join(f"{m} {row[m]:.2f} ms" for m in (*METHODS, "wall")), flush=True)
        del prepared
    host = {"cpu": environment.host_cpu(), "cores": environment.host_cores(), "device": present.name}
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "host_bound.json").write_text(json.dumps({"host": host, "rows": rows}, indent=1))
    print(f"\n{host['device']} on {host['cpu']} ({host['cores']} cores): median of {args.rounds} rounds, ms "
          f"(spread over rounds, %)")
    print(f"{'generation':<42} {'device work':>18} {'events':>18} {'wall':>18}")
    for spec_id in dict.fromkeys(r["id"] for r in rows):
        cells = []
        for key in (*METHODS, "wall"):
            values = [r[key] for r in rows if r["id"] == spec_id]
            mid = statistics.median(values)
            cells.append(f"{mid:9.2f} ({100 * (max(values) - min(values)) / mid:4.1f}%)")
        print(f"{spec_id:<42} " + " ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
