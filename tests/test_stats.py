"""Statistics over samples and the verdict against a baseline."""

import math

import pytest

from perf.measure.summary import Summary, converged, median_ci, quantile, summarize
from perf.verdict.stats import Verdict, compare, confirm


def summary(median, noise=0.0, n=50):
    return Summary(median_ms=median, ci_low_ms=median * (1 - noise), ci_high_ms=median * (1 + noise),
                   q1_ms=median, q3_ms=median, min_ms=median, max_ms=median, n=n)


def test_summarize_matches_hand_computed_quantiles():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median_ms, s.q1_ms, s.q3_ms, s.min_ms, s.max_ms, s.n) == (3.0, 2.0, 4.0, 1.0, 5.0, 5)
    assert quantile([1.0, 2.0], 0.5) == 1.5


def test_median_ci_is_distribution_free_and_narrows_with_n():
    values = sorted(float(i) for i in range(100))
    lo, hi = median_ci(values)
    # n=100: ranks 40 and 61 (1-based), i.e. values 39 and 60.
    assert (lo, hi) == (39.0, 60.0)
    small = sorted(float(i) for i in range(5))
    assert median_ci(small) == (0.0, 4.0)
    wide = summarize([float(i) for i in range(20)]).rel_noise
    narrow = summarize([float(i) for i in range(2000)]).rel_noise
    assert narrow < wide


def test_converged_needs_min_samples_and_noise():
    steady = [1.0] * 9
    assert not converged(steady, 0.01, min_samples=10)
    assert converged(steady + [1.0], 0.01, min_samples=10)
    assert not converged([1.0, 2.0] * 10, 0.01, min_samples=10)


def test_no_baseline_is_new():
    assert compare(summary(1.0), None, 0.05).verdict is Verdict.NEW


def test_within_threshold_passes():
    c = compare(summary(1.04), summary(1.0), 0.05)
    assert c.verdict is Verdict.PASS and c.change == pytest.approx(0.04)


def test_beyond_threshold_and_noise_is_a_regression():
    c = compare(summary(1.10, 0.01), summary(1.0, 0.01), 0.05)
    assert c.verdict is Verdict.REGRESSION
    assert c.noise == pytest.approx(0.02)


def test_beyond_threshold_but_within_noise_is_unreliable():
    c = compare(summary(1.10, 0.08), summary(1.0, 0.05), 0.05)
    assert c.verdict is Verdict.UNRELIABLE


def test_throttled_slowdown_is_unreliable_not_regressed():
    c = compare(summary(1.5), summary(1.0), 0.05, throttled=True)
    assert c.verdict is Verdict.UNRELIABLE and "throttled" in c.reason


def test_faster_beyond_noise_is_an_improvement():
    assert compare(summary(0.8, 0.01), summary(1.0, 0.01), 0.05).verdict is Verdict.IMPROVEMENT
    assert compare(summary(0.9, 0.1), summary(1.0, 0.1), 0.05).verdict is Verdict.PASS


def test_per_benchmark_threshold_changes_the_verdict():
    assert compare(summary(1.08), summary(1.0), 0.10).verdict is Verdict.PASS
    assert compare(summary(1.08), summary(1.0), 0.05).verdict is Verdict.REGRESSION


def test_regression_stands_only_when_the_remeasure_agrees():
    first = compare(summary(1.2), summary(1.0), 0.05)
    again = confirm(first, compare(summary(1.21), summary(1.0), 0.05))
    assert again.verdict is Verdict.REGRESSION and "confirmed" in again.reason
    flaky = confirm(first, compare(summary(1.01), summary(1.0), 0.05))
    assert flaky.verdict is Verdict.UNRELIABLE and "re-measure" in flaky.reason


def test_summary_roundtrip_and_zero_median_noise():
    s = summarize([1.0, 2.0, 3.0])
    assert Summary.from_dict(s.to_dict()) == s
    assert math.isinf(summary(0.0).rel_noise)
