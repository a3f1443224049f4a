"""Pure functions from two summaries to a verdict: a measurement against its baseline, and the confirmation.

Noise is the half-width of a distribution-free 95% confidence interval of the median (order statistics),
relative to the median. A change counts only when it exceeds both the threshold and the noise of both
measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from perf.measure.summary import Summary


class Verdict(str, Enum):
    PASS = "pass"
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NEW = "new"
    UNRELIABLE = "unreliable"


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    change: float | None  # now / baseline - 1 (positive is slower)
    noise: float | None  # combined relative noise of both medians
    threshold: float
    reason: str = ""


def compare(
    current: Summary, baseline: Summary | None, threshold: float, *, throttled: bool = False
) -> Comparison:
    """The verdict of `current` against `baseline` (lower time is better)."""
    if baseline is None:
        return Comparison(Verdict.NEW, None, None, threshold, "no baseline entry")
    change = current.median_ms / baseline.median_ms - 1.0
    noise = current.rel_noise + baseline.rel_noise
    if change > threshold:
        if throttled:
            return Comparison(Verdict.UNRELIABLE, change, noise, threshold, "the GPU throttled while measuring")
        if change > noise:
            return Comparison(Verdict.REGRESSION, change, noise, threshold, "slower beyond threshold and noise")
        return Comparison(Verdict.UNRELIABLE, change, noise, threshold, "slower, but within the measurements' noise")
    if change < -threshold and -change > noise:
        return Comparison(Verdict.IMPROVEMENT, change, noise, threshold, "faster beyond threshold and noise")
    return Comparison(Verdict.PASS, change, noise, threshold, "")


def confirm(first: Comparison, second: Comparison) -> Comparison:
    """A regression stands only if the re-measure regresses too; otherwise the pair is unreliable."""
    if first.verdict is not Verdict.REGRESSION:
        return first
    if second.verdict is Verdict.REGRESSION:
        return Comparison(Verdict.REGRESSION, second.change, second.noise, second.threshold,
                          f"slower beyond threshold and noise, confirmed by a re-measure ({first.change:+.1%} then "
                          f"{second.change:+.1%})")
    return Comparison(Verdict.UNRELIABLE, second.change, second.noise, second.threshold,
                      f"regressed by {first.change:+.1%}, but the re-measure gave {second.change:+.1%}")
