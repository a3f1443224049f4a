"""The noise model: how far a benchmark may move before its change counts.

A benchmark moves between processes, days and sibling GPUs far more than inside one sampling window (3-6%
against 0.1-1% on an H200). So the tolerance of a verdict is the largest of

    threshold                      the change a user cares about (per run, family or benchmark)
    k x between-run spread         learned from a baseline taken in several independent runs
    within-run noise of both sides the 95% intervals of the two medians
    timer floor                    a few ticks of the timer, relative to the baseline's median

The between-run spread of one entry comes from few runs (3 by default), so it is shrunk towards the typical
spread of its family in the same baseline file (a pooled estimate: `shrunk`, towards the family's upper
quartile). Where the entry has a single run, the family's spread (or the device kind's documented default)
stands in for it, and the reason says so. A GPU the baseline never ran on adds an offset of its own (a sibling
of the same kind, another host): `with_sibling` adds that spread in quadrature (docs/measurements.md, "The
tolerance rule").
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

# d2(n): the expected range of n standard normal values; range / d2 estimates sigma from a few runs.
_D2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078, 11: 3.173,
       12: 3.258, 13: 3.336, 14: 3.407, 15: 3.472, 16: 3.532, 17: 3.588, 18: 3.640, 19: 3.689, 20: 3.735}

K_BETWEEN_RUNS = 4.5  # tolerance in multiples of the between-run sigma (no false alarm on H200s of three hosts)
PRIOR_QUANTILE = 0.75  # the family's prior sigma: this quantile of its entries' sigmas (the median let modes through)
PRIOR_RUNS = 4.0  # weight of the family's spread, in runs, when shrinking one entry's estimate
DEFAULT_SPREAD = {"gpu": 0.01, "cpu": 0.10}  # sigma when nothing is known
# sigma of a GPU the baseline's runs never saw: 0.6% was the smallest value with no false regression in a
# leave-one-host-out check over three hosts (6,388 verdicts); 0.75% leaves a margin (H200s, docs/measurements.md)
SIBLING_SPREAD = {"gpu": 0.0075, "cpu": 0.0}
FLOOR_TICKS = 3  # the timer floor, in ticks
BLIND = 1.0  # a tolerance at or above this would hide a 2x slowdown


def between_run_sigma(run_medians: Sequence[float]) -> float | None:
    """Relative between-run sigma from the medians of independent runs, over their median: range / d2(n) for
    up to 20 runs, the sample standard deviation beyond; None for fewer than two runs."""
    values = [float(v) for v in run_medians]
    if len(values) < 2:
        return None
    center = statistics.median(values)
    if center <= 0:
        return None
    d2 = _D2.get(len(values))
    spread = (max(values) - min(values)) / d2 if d2 else statistics.stdev(values)
    return spread / center


def family_sigma(sigmas: Iterable[float | None], default: float) -> float:
    """The prior between-run sigma of a family: the PRIOR_QUANTILE of its entries' estimates (three runs can
    miss a second mode of a benchmark, so the prior leans high), else the default."""
    known = sorted(s for s in sigmas if s is not None)
    if not known:
        return default
    pos = PRIOR_QUANTILE * (len(known) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(known) - 1)
    return known[lo] + (known[hi] - known[lo]) * (pos - lo)


def shrunk(sigma: float | None, runs: int, prior: float) -> float:
    """One entry's sigma pooled with its family's: (n-1) degrees of freedom of its own, PRIOR_RUNS of the prior."""
    if sigma is None or runs < 2:
        return prior
    own = runs - 1
    return math.sqrt((own * sigma**2 + PRIOR_RUNS * prior**2) / (own + PRIOR_RUNS))


def with_sibling(sigma: float, device_kind: str) -> float:
    """The between-run sigma of a new run on any GPU of the kind: the baseline's own, and the sibling spread."""
    return math.sqrt(sigma**2 + SIBLING_SPREAD[device_kind] ** 2)


@dataclass(frozen=True)
class Tolerance:
    value: float  # the change that counts, as a fraction of the baseline median
    source: str  # which term sets it: "threshold", "between-run spread", "within-run noise", "timer floor"
    sigma: float  # the between-run sigma used
    sigma_known: bool  # False: the baseline had one run, the family's or default sigma stood in
    noise: float  # the largest term other than the threshold: what the measurements themselves allow


def tolerance(*, threshold: float, sigma: float, sigma_known: bool, runs: int, noise_now: float,
              noise_base: float, tick_ms: float, base_median_ms: float, k: float = K_BETWEEN_RUNS) -> Tolerance:
    """The tolerance of one comparison. The between-run term covers a new run against the mean of `runs`
    baseline runs: k x sigma x sqrt(1 + 1/runs)."""
    terms = {
        "threshold": threshold,
        "between-run spread": k * sigma * math.sqrt(1.0 + 1.0 / max(runs, 1)),
        "within-run noise": noise_now + noise_base,
        "timer floor": FLOOR_TICKS * tick_ms / base_median_ms if base_median_ms > 0 else math.inf,
    }
    source = max(terms, key=terms.get)
    return Tolerance(value=terms[source], source=source, sigma=sigma, sigma_known=sigma_known,
                     noise=max(v for k, v in terms.items() if k != "threshold"))
