"""The A/B statistics on their own: the balanced order, the exact signed-rank interval, the verdict rule and the
pairing of two sides' rounds."""

import itertools
import math
import random

import pytest

from perf.verdict import ab
from perf.verdict.stats import Verdict


def test_order_is_thue_morse_and_balanced():
    assert ab.order_text(8) == "ABBA BAAB BAAB ABBA"
    sides = ab.order(16)
    assert sum(1 for s in sides if s == ("A", "B")) == 8  # each side first in half the rounds


@pytest.mark.parametrize("rounds", [4, 8, 16])
def test_linear_drift_cancels_in_the_paired_estimate(rounds):
    # The GPU slows down steadily (1% per process): a side that runs later looks slower. With AB BA BA AB the
    # per-round log-ratios are +c, -c, -c, +c, ... and the estimate of an unchanged HEAD is exactly no change.
    position = 0
    base, head = [], []
    for order in ab.order(rounds):
        for side in order:
            (base if side == "A" else head).append(math.exp(0.01 * position))
            position += 1
    assert ab.paired_change(base, head).change == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", range(1, 9))
def test_signed_rank_counts_match_every_sign_pattern(n):
    brute = [0] * (n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        brute[sum(rank for rank, positive in zip(range(1, n + 1), signs) if positive)] += 1
    assert ab.signed_rank_counts(n) == brute


@pytest.mark.parametrize("n, k", [(6, 1), (7, 3), (8, 4), (10, 9), (12, 14)])
def test_interval_rank_matches_the_published_critical_values(n, k):
    # Two-sided 5% critical values of the signed-rank statistic (n=6: 0, 7: 2, 8: 3, 10: 8, 12: 13); k = T + 1.
    rank, confidence = ab.interval_rank(n)
    assert rank == k and confidence >= 0.95


def test_few_rounds_give_the_range_at_its_true_confidence():
    assert ab.interval_rank(3) == (1, 0.75)
    interval = ab.paired_change([1.0, 1.0, 1.0], [1.1, 1.3, 1.2])
    assert interval.low == pytest.approx(0.1) and interval.high == pytest.approx(0.3)
    assert interval.confidence == 0.75 and interval.change == pytest.approx(0.2, abs=0.01)


def test_a_constant_ratio_is_the_change_with_no_width():
    interval = ab.paired_change([1.0, 2.0, 0.5, 4.0, 3.0, 1.5], [1.05, 2.1, 0.525, 4.2, 3.15, 1.575])
    assert interval.change == pytest.approx(0.05) and interval.low == pytest.approx(0.05)
    assert interval.high == pytest.approx(0.05)


def test_the_interval_covers_no_change_at_its_stated_rate():
    rng = random.Random(7)
    trials, covered = 2000, 0
    for _ in range(trials):
        base = [math.exp(rng.gauss(0, 0.01)) for _ in range(8)]
        head = [math.exp(rng.gauss(0, 0.01)) for _ in range(8)]
        interval = ab.paired_change(base, head)
        covered += interval.low <= 0 <= interval.high
    assert covered / trials >= ab.interval_rank(8)[1] - 0.015


def test_one_disturbed_round_does_not_make_a_regression():
    base = [1.0] * 6
    head = [1.0, 1.001, 0.999, 1.002, 0.998, 1.6]  # a load spike in the last HEAD process
    paired = ab.compare_rounds(base, head, 0.02)
    assert paired.verdict is not Verdict.REGRESSION
    assert abs(paired.interval.change) < 0.01


def _interval(change, low, high):
    return ab.Interval(change, low, high, 0.96875, 6)


@pytest.mark.parametrize("low, high, verdict", [
    (0.025, 0.10, Verdict.REGRESSION),   # whole interval beyond the threshold, however wide
    (0.012, 0.028, Verdict.REGRESSION),  # excludes no change, reaches the threshold, narrow
    (0.005, 0.015, Verdict.PASS),        # slower, but the interval keeps it under the threshold
    (-0.008, 0.008, Verdict.PASS),       # no change
    (-0.01, 0.03, Verdict.UNRELIABLE),   # too wide to tell a 2% change from none
    (0.001, 0.05, Verdict.UNRELIABLE),   # slower, but too wide to say by how much
    (-0.028, -0.012, Verdict.IMPROVEMENT),
    (-0.10, -0.025, Verdict.IMPROVEMENT),
])
def test_the_verdict_rule(low, high, verdict):
    got, reason = ab.decide(_interval((low + high) / 2, low, high), 0.02)
    assert got is verdict, reason
    assert "2.0%" in reason and "6 rounds" in reason


def _record(median, method="host", throttled=False):
    return {"summary": {"median_ms": median}, "method": method, "throttled": throttled, "nodeid": "n"}


def test_sides_pair_by_round_and_list_what_one_side_lacks():
    base = [{"x": _record(1.0), "gone": _record(2.0)}, {"x": _record(1.0, throttled=True), "gone": _record(2.0)},
            {"x": _record(1.0), "gone": _record(2.0)}]
    head = [{"x": _record(1.5), "new": _record(3.0)}, {"x": _record(9.0), "new": _record(3.0)},
            {"x": _record(1.5), "new": _record(3.0)}]
    sides = ab.compare_sides(base, head, 0.02)
    assert sides.added == ["new"] and sides.removed == ["gone"]
    (row,) = sides.rows
    assert row.paired.dropped == (1,) and "rounds 2 left out" in row.paired.reason  # throttled on BASE
    assert row.paired.interval.change == pytest.approx(0.5)
    assert row.paired.verdict is Verdict.REGRESSION


def test_sides_timed_differently_are_unreliable():
    base = [{"x": _record(1.0, "cuda-events")}, {"x": _record(1.0, "cuda-events")}]
    head = [{"x": _record(2.0, "cuda-profiler")}, {"x": _record(2.0, "cuda-profiler")}]
    (row,) = ab.compare_sides(base, head, 0.02).rows
    assert row.paired.verdict is Verdict.UNRELIABLE and "not comparable" in row.paired.reason


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        ab.paired_change([1.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        ab.paired_change([1.0, 0.0], [1.0, 1.0])
