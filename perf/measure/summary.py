"""Pure functions over one set of timing samples: the summary (median, quartiles, extremes) and the
distribution-free 95% confidence interval of the median from order statistics, and when sampling has converged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Summary:
    median_ms: float
    ci_low_ms: float  # 95% confidence interval of the median
    ci_high_ms: float
    q1_ms: float
    q3_ms: float
    min_ms: float
    max_ms: float
    n: int

    @property
    def rel_noise(self) -> float:
        """Half-width of the median's confidence interval relative to the median."""
        if self.median_ms <= 0:
            return math.inf
        return max(self.ci_high_ms - self.median_ms, self.median_ms - self.ci_low_ms) / self.median_ms

    @property
    def rel_iqr(self) -> float:
        return (self.q3_ms - self.q1_ms) / self.median_ms if self.median_ms > 0 else math.inf

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "Summary":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of no samples")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def median_ci(sorted_values: Sequence[float], z: float = Z95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics (normal approximation
    to the binomial). With fewer than 6 samples the interval is the whole range."""
    n = len(sorted_values)
    if n < 6:
        return sorted_values[0], sorted_values[-1]
    half = z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2 + half))
    return sorted_values[lo], sorted_values[hi]


def summarize(samples_ms: Sequence[float]) -> Summary:
    if not samples_ms:
        raise ValueError("cannot summarize an empty list of samples")
    s = sorted(samples_ms)
    lo, hi = median_ci(s)
    return Summary(
        median_ms=quantile(s, 0.5),
        ci_low_ms=lo,
        ci_high_ms=hi,
        q1_ms=quantile(s, 0.25),
        q3_ms=quantile(s, 0.75),
        min_ms=s[0],
        max_ms=s[-1],
        n=len(s),
    )


def converged(samples_ms: Sequence[float], noise_target: float, min_samples: int) -> bool:
    """Enough samples for a median whose relative confidence half-width is at most noise_target."""
    return len(samples_ms) >= min_samples and summarize(samples_ms).rel_noise <= noise_target
