"""Time `python -m perf history import` of a year of nightly results files of the full suite, and `history
changes` over them, on this machine.

The files are SYNTHETIC, made only to time the import: each is a copy of the shape of one real results file
(its records, samples and pytest-benchmark block; a whole-suite GPU file gives files of a real night's size), renamed to the 544 keys of
baselines/H200.json, with medians drawn around those entries' medians with their between-run sigmas, a torch
upgrade on night 200 and a 4% step in ten benchmarks from night 250. They are written to a temporary folder
named synthetic-results and deleted afterwards; nothing here is a measurement of a GPU.

    PYTHONPATH=.:kernels python3 scripts/history_import_timing.py RESULTS.json [--nights 365] [--db URL]

RESULTS.json: a whole-suite results file of a GPU run (15-19 MB), or of the CPU suite, e.g.
`pytest perf/suite --perf-measure-only --perf-max-time 0.05 --perf-json cpu.json`.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_files(template: dict, entries: dict, nights: int, out: Path) -> list[Path]:
    rng = np.random.default_rng(7)
    keys = sorted(entries)
    stepped = set(keys[:: max(1, len(keys) // 10)][:10])
    records, benchmarks = template["results"], template["benchmarks"]
    start = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)
    paths = []
    for night in range(nights):
        doc = copy.deepcopy({k: v for k, v in template.items() if k not in ("results", "benchmarks")})
        doc["synthetic"] = "made by scripts/history_import_timing.py to time the import; not a measurement"
        doc["gpu"] = "H200"
        env = doc["environment"]
        env.update(gpu="H200", device="NVIDIA H200 (synthetic)", driver="580.159.04", cuda="13.0",
                   torch="2.11.0" if night < 200 else "2.12.0", commit=f"{night:040x}",
                   date=(start + dt.timedelta(days=night)).isoformat())
        doc["results"], doc["benchmarks"] = [], []
        for i, key in enumerate(keys):
            e = entries[key]
            r = copy.deepcopy(records[i % len(records)])
            factor = 1.0 + float(e.get("between_run_sigma") or 0.005) * rng.standard_normal()
            if key in stepped and night >= 250:
                factor *= 1.04
            median = float(e["median_ms"]) * factor
            scale = median / r["summary"]["median_ms"]
            r.update(key=key, family=key.split("/")[0], id=key.split("/", 1)[-1], dtype=e.get("dtype"),
                     samples_ms=[x * scale for x in r["samples_ms"]],
                     summary={k: (v * scale if k.endswith("_ms") else v) for k, v in r["summary"].items()},
                     baseline={"median_ms": e["median_ms"]}, verdict="pass", change=factor - 1)
            doc["results"].append(r)
            doc["benchmarks"].append(copy.deepcopy(benchmarks[i % len(benchmarks)]))
        path = out / f"results-{night:03d}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True))
        paths.append(path)
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("template", type=Path)
    p.add_argument("--nights", type=int, default=365)
    p.add_argument("--db", help="database URL (default: an SQLite file in the temporary folder)")
    args = p.parse_args()
    template = json.loads(args.template.read_text())
    entries = json.loads((ROOT / "baselines" / "H200.json").read_text())["entries"]
    with tempfile.TemporaryDirectory(prefix="synthetic-results-") as tmp:
        out = Path(tmp) / "synthetic-results"
        out.mkdir()
        paths = synthetic_files(template, entries, args.nights, out)
        size = sum(p.stat().st_size for p in paths) / 2**20
        db = args.db or f"sqlite:///{tmp}/history.db"
        timings = {}
        for name, command in (("import", ["import", *map(str, paths)]), ("changes", ["changes"])):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "perf", "history", command[0], "--db", db, *command[1:]],
                                  cwd=ROOT, capture_output=True, text=True)
            timings[name] = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            print(done.stdout.strip().splitlines()[-1])
        print(f"synthetic files: {len(paths)} x {len(entries)} results ({size:.0f} MiB of JSON)")
        print(f"history import: {timings['import']:.1f} s   history changes: {timings['changes']:.1f} s "
              f"(wall, including Python start-up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
