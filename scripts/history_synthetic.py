"""The change-point targets on synthetic nightly series: noise drawn from the between-run sigmas measured on
H200s (baselines/H200.json, read only), a 3% step at a random night; and flat series. Prints the rates.

    PYTHONPATH=.:kernels python3 scripts/history_synthetic.py [--series 1000] [--flat 10000] [--nights 60]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from perf.history import changes, synthetic

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=1000, help="series with a step")
    p.add_argument("--flat", type=int, default=10000, help="flat series")
    p.add_argument("--nights", type=int, default=60)
    p.add_argument("--step", type=float, default=0.03)
    p.add_argument("--within", type=int, default=5)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()
    sigmas = synthetic.measured_sigmas(ROOT / "baselines" / "H200.json")
    print(f"between-run sigmas of baselines/H200.json: {len(sigmas)} entries, median {np.median(sigmas):.2%}, "
          f"90th percentile {np.percentile(sigmas, 90):.2%}, max {sigmas.max():.2%}")
    print(f"detector: ruptures PELT (l2), penalty {changes.PENALTY_PER_LOG_N:g} x log(n) in units of the robust "
          f"sigma, min size {changes.MIN_SIZE}, min change {changes.MIN_CHANGE:.0%}, Mann-Whitney p < {changes.ALPHA:g}")
    start = time.perf_counter()
    rates = synthetic.measure_rates(sigmas, n_series=args.series, n_flat=args.flat, nights=args.nights,
                                    step=args.step, within=args.within, seed=args.seed)
    for line in rates.lines(args.step, args.within, args.nights):
        print(line)
    print(f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
