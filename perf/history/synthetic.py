"""Synthetic nightly series for the change-point targets: noise drawn from the between-run sigmas measured on a
GPU (a baseline file's `between_run_sigma`), a step of a given size at a random night, and the rates at which
`changes.splits` finds the step and reports change points in flat series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perf.history import changes


def measured_sigmas(baseline_file: Path) -> np.ndarray:
    """The positive between-run sigmas of a baseline file's entries (read only)."""
    entries = json.loads(Path(baseline_file).read_text())["entries"]
    sigmas = [e.get("between_run_sigma") for e in entries.values()]
    return np.array([s for s in sigmas if isinstance(s, (int, float)) and s > 0], dtype=float)


def series(rng: np.random.Generator, sigma: float, nights: int, step: float = 0.0, at: int | None = None) -> np.ndarray:
    """Nightly medians of about 1 ms with relative noise sigma; from night `at` on, slower by `step`."""
    values = 1.0 + sigma * rng.standard_normal(nights)
    if at is not None:
        values[at:] *= 1.0 + step
    return np.clip(values, 1e-3, None)


@dataclass(frozen=True)
class Rates:
    series: int
    found_offline: int  # the whole series: a change point within `within` runs of the step
    found_online: int  # only the nights up to `within` runs after the step: it is reported by then
    false_points: int  # change points in flat series
    flat_series: int

    def lines(self, step: float, within: int, nights: int) -> list[str]:
        return [
            f"{self.series} series of {nights} nights with a {step:.0%} step: found within {within} runs of the step "
            f"in {self.found_offline}/{self.series} (whole series), and already by {within} runs after it in "
            f"{self.found_online}/{self.series} (series cut there)",
            f"{self.flat_series} flat series of {nights} nights: {self.false_points} false change points "
            f"({100 * self.false_points / self.flat_series:.2f} per 100 series)",
        ]


def measure_rates(sigmas: np.ndarray, *, n_series: int, n_flat: int, nights: int = 60, step: float = 0.03,
                  within: int = 5, seed: int = 0) -> Rates:
    rng = np.random.default_rng(seed)
    offline = online = 0
    for _ in range(n_series):
        sigma = float(rng.choice(sigmas))
        at = int(rng.integers(nights // 4, nights - within - changes.MIN_SIZE))
        values = series(rng, sigma, nights, step, at)
        if any(abs(s.index - at) <= within for s in changes.splits(values)):
            offline += 1
        if any(abs(s.index - at) <= within for s in changes.splits(values[:at + within])):
            online += 1
    false_points = sum(len(changes.splits(series(rng, float(rng.choice(sigmas)), nights))) for _ in range(n_flat))
    return Rates(n_series, offline, online, false_points, n_flat)
