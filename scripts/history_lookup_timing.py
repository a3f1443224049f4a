"""Time the history lookup a suite run makes before measuring (perf/history/reference.py: every benchmark's
reference from this runner's own recent runs), on a database of a year of nights, on this machine.

The database is SYNTHETIC, made only to time the lookup: NIGHTS runs of KEYS benchmarks of one runner (host and GPU
UUID) in one environment, plus as many runs of a second runner, written to a temporary SQLite file (or the --db URL)
and deleted afterwards. Nothing here is a measurement of a GPU.

    python scripts/history_lookup_timing.py [--nights 365] [--keys 600] [--db URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from perf.history import reference, schema, store

TIMING = {"min_time_s": 0.5, "max_time_s": 2.0, "warmup_ms": 50.0}
ENV = {"driver": "580.1", "cuda": "13.0", "torch": "2.11.0", "triton": "3.6.0", "timing": TIMING}


def fill(db: store.Database, nights: int, keys: int) -> None:
    rng = random.Random(7)
    start = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)
    families = ("gemm", "kernel", "decode", "sweep")
    names = [f"{families[i % 4]}/bench{i}:bf16" for i in range(keys)]
    with db.begin() as conn:
        for night in range(nights):
            for host, uuid in (("runner-1", "GPU-aaaa"), ("runner-2", "GPU-bbbb")):
                date = start + dt.timedelta(days=night, minutes=1 if host == "runner-2" else 0)
                run = {"uid": f"{host}-{night}", "date": date, "commit": f"{night:040x}", "gpu": "H100-SXM",
                       "device": "NVIDIA H100", "environment": {}, "options": {"timing": TIMING},
                       "source": "synthetic", **{k: ENV[k] for k in ("driver", "cuda", "torch", "triton")}}
                rows = [{"key": name, "family": name.split("/")[0], "dtype": "bf16", "params": {},
                         "median_ms": 1.0 + rng.gauss(0, 0.005), "summary": {}, "verdict": "pass",
                         "rel_noise": 0.002, "throttled": False, "method": "cuda-events", "host": host,
                         "gpu_uuid": uuid, "reference": "history: 5 runs"} for name in names]
                store.insert_run(conn, run, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--keys", type=int, default=600)
    parser.add_argument("--db", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="perf-lookup-") as tmp:
        db = store.open_database(args.db or f"sqlite:///{Path(tmp) / 'history.db'}")
        t0 = time.perf_counter()
        fill(db, args.nights, args.keys)
        filled = time.perf_counter() - t0
        runner = reference.Runner(host="runner-1", gpu_uuid="GPU-aaaa", gpu="H100-SXM")
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            found = reference.references(db, runner, ENV)
            times.append(time.perf_counter() - t0)
        with db.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(schema.results)).scalar()
        db.engine.dispose()
    print(f"{args.nights} nights x {args.keys} benchmarks x 2 runners ({rows} results) written in {filled:.1f} s; "
          f"lookup of {len(found)} references: "
          + ", ".join(f"{t:.2f} s" for t in times))


if __name__ == "__main__":
    main()
