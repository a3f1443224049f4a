"""Statistics over samples, the noise model, and the verdict against a baseline (one case per defect the
verdict issue found: the sample cap before the minimum time, mixed methods, a throttled first measurement,
comparisons across methods, and the timer floor)."""

import math
import time

import pytest

from perf.measure.summary import Summary, converged, median_ci, quantile, summarize
from perf.measure.timing import (MAX_NAMED_KERNELS, Samples, TimingSettings, _done, busy_us, collect,
                                 kernel_durations, split_calls)
from perf.verdict import noise
from perf.verdict.stats import Reference, Verdict, compare, confirms_in_process, decide, needs_remeasure


def summary(median, noise=0.0, n=50):
    return Summary(median_ms=median, ci_low_ms=median * (1 - noise), ci_high_ms=median * (1 + noise),
                   q1_ms=median, q3_ms=median, min_ms=median, max_ms=median, n=n)


def ref(median, noise=0.0, **kw):
    """A baseline entry with no between-run spread unless given (sigma=...)."""
    return Reference(summary(median, noise), **kw)


def confirm(first, second):
    return decide([first, second])[0]


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
    c = compare(summary(1.04), ref(1.0), 0.05)
    assert c.verdict is Verdict.PASS and c.change == pytest.approx(0.04)


def test_beyond_threshold_and_noise_is_a_regression():
    c = compare(summary(1.10, 0.01), ref(1.0, 0.01), 0.05)
    assert c.verdict is Verdict.REGRESSION
    assert c.noise == pytest.approx(0.02)


def test_beyond_threshold_but_within_noise_is_unreliable():
    c = compare(summary(1.10, 0.08), ref(1.0, 0.05), 0.05)
    assert c.verdict is Verdict.UNRELIABLE


def test_throttled_slowdown_is_unreliable_not_regressed():
    c = compare(summary(1.5), ref(1.0), 0.05, throttled=True)
    assert c.verdict is Verdict.UNRELIABLE and "throttled" in c.reason


def test_faster_beyond_noise_is_an_improvement():
    assert compare(summary(0.8, 0.01), ref(1.0, 0.01), 0.05).verdict is Verdict.IMPROVEMENT
    assert compare(summary(0.9, 0.1), ref(1.0, 0.1), 0.05).verdict is Verdict.PASS


def test_per_benchmark_threshold_changes_the_verdict():
    assert compare(summary(1.08), ref(1.0), 0.10).verdict is Verdict.PASS
    assert compare(summary(1.08), ref(1.0), 0.05).verdict is Verdict.REGRESSION


def test_regression_stands_only_when_the_remeasure_agrees():
    first = compare(summary(1.2), ref(1.0), 0.05)
    again = confirm(first, compare(summary(1.21), ref(1.0), 0.05))
    assert again.verdict is Verdict.REGRESSION and "confirmed" in again.reason
    flaky = confirm(first, compare(summary(1.01), ref(1.0), 0.05))
    assert flaky.verdict is Verdict.UNRELIABLE and "re-measure" in flaky.reason


def test_summary_roundtrip_and_zero_median_noise():
    s = summarize([1.0, 2.0, 3.0])
    assert Summary.from_dict(s.to_dict()) == s
    assert math.isinf(summary(0.0).rel_noise)


# ------------------------------------------------------------------------------------------- the noise model

def test_between_run_spread_keeps_a_noisy_benchmark_green_and_a_larger_slowdown_red():
    # sigma 2% from three runs: the tolerance is k x 2% x sqrt(1 + 1/3) ~ 9% at k = 4
    noisy = ref(1.0, runs=3, sigma=0.02, sigma_known=True)
    within = compare(summary(1.06), noisy, 0.03)
    assert within.verdict is Verdict.PASS and within.tolerance_source == "between-run spread"
    assert "between-run spread" in within.reason
    beyond = compare(summary(1.15), noisy, 0.03)
    assert beyond.verdict is Verdict.REGRESSION and beyond.tolerance == pytest.approx(
        noise.K_BETWEEN_RUNS * 0.02 * math.sqrt(4 / 3))


def test_one_run_baseline_says_that_a_stand_in_sigma_was_used():
    c = compare(summary(1.02), ref(1.0, runs=1, sigma=0.01, sigma_known=False), 0.03)
    assert "one-run baseline" in c.reason


def test_between_run_sigma_and_shrinkage():
    assert noise.between_run_sigma([1.0]) is None
    assert noise.between_run_sigma([1.0, 1.0, 1.0]) == 0.0
    assert noise.between_run_sigma([0.98, 1.0, 1.02]) == pytest.approx(0.04 / 1.693)
    # three runs that happen to agree do not make a benchmark infinitely sensitive: the family's sigma pulls
    prior = 0.01
    assert 0.0 < noise.shrunk(0.0, 3, prior) < prior
    assert noise.shrunk(None, 1, prior) == prior
    assert noise.family_sigma([None, 0.01, 0.03, 0.02], 0.5) == pytest.approx(0.025)  # the upper quartile
    assert noise.family_sigma([None], 0.5) == 0.5


def test_a_benchmark_blind_to_a_2x_slowdown_is_unreliable_not_green():
    c = compare(summary(1.0), ref(1.0, runs=3, sigma=0.3, sigma_known=True), 0.03)
    assert c.verdict is Verdict.UNRELIABLE and "blind" in c.reason


# ------------------------------------------------------------------------------------------- the defects

def test_defect1_sample_cap_does_not_cut_the_minimum_sampling_time():
    settings = TimingSettings(max_samples=300, min_samples=10)
    capped = [1.0] * 400  # past the cap, perfectly converged
    now = time.perf_counter()
    assert not _done(capped, settings, deadline=now + 100, not_before=now + 100)
    assert _done(capped, settings, deadline=now + 100, not_before=now - 1)
    assert _done([1.0, 2.0, 3.0], settings, deadline=now - 1, not_before=now + 100)  # the time cap still wins


def test_defect2_a_failing_profiler_never_mixes_methods_in_one_sample_set():
    calls = {"cupti": 0}

    def profiler():
        calls["cupti"] += 1
        return [1.0, 2.0] * 25 if calls["cupti"] == 1 else None  # fails on its second batch

    notes: list[str] = []
    settings = TimingSettings(min_time_s=0.0, max_samples=300, min_samples=10, noise_target=0.01)
    samples, method = collect({"cupti": profiler, "events": lambda: [3.7] * 10}, "cupti", settings, notes)
    assert method == "events" and set(samples) == {3.7}
    assert "50 samples discarded" in notes[0]


def test_a_call_is_timed_by_the_union_of_its_kernels_not_their_sum():
    # kernels in stream order: the union is the sum of the durations, the gap between them excluded
    assert busy_us([(0.0, 5.0), (7.0, 9.0)]) == 7.0
    # a dependent kernel launched early overlaps its predecessor's tail: the overlap counts once
    assert busy_us([(0.0, 5.0), (4.0, 6.5)]) == 6.5
    # one kernel inside another's interval adds nothing; records come in any order
    assert busy_us([(2.0, 3.0), (0.0, 10.0), (12.0, 13.0)]) == 11.0
    assert busy_us([]) == 0.0


FILL = "void at::native::vectorized_elementwise_kernel<4, FillFunctor<signed char>>(int, FillFunctor<signed char>)"


def test_a_profiled_batch_is_cut_into_calls_and_each_kernel_keeps_its_own_time():
    split = "_decode_split_kernel"
    reduce = "void cudnn::fusion::lean_reduction_kernel<false, false, false>(void*, float*, unsigned int)"
    records = [(split, -9.0, -1.0),  # before the first boundary: no call's
               (FILL, 0.0, 30.0), (split, 40.0, 48.0), (reduce, 47.0, 50.0),
               (FILL, 60.0, 90.0), (split, 95.0, 104.0), (reduce, 103.0, 105.0), (reduce, 106.0, 107.0)]
    calls = split_calls(records, FILL)
    assert [len(c) for c in calls] == [2, 3]
    times = kernel_durations(calls)
    # names without their parameter lists, in launch order; a kernel launched twice in a call sums; a dependent
    # kernel started early (47 < 48) counts what it runs past its predecessor: the shares add up to the call's time
    assert list(times) == [split, "void cudnn::fusion::lean_reduction_kernel<false, false, false>"]
    assert times[split] == pytest.approx([0.008, 0.009])
    assert list(times.values())[1] == pytest.approx([0.002, 0.002])
    for i, call in enumerate(calls):
        assert sum(t[i] for t in times.values()) == pytest.approx(busy_us([(s, e) for _, s, e in call]) / 1e3)
    # calls that do not run the same kernels, or too many kernels to name: no breakdown
    assert kernel_durations([calls[0], [(split, 0.0, 1.0)]]) == {}
    many = [[(f"k{i}", float(i), i + 0.5) for i in range(MAX_NAMED_KERNELS + 1)]]
    assert kernel_durations(many) == {}
    assert kernel_durations([]) == {}


def test_the_kernel_breakdown_travels_with_a_measurement_made_in_another_process():
    record = {"samples_ms": [1.0], "method": "cuda-profiler", "cold_l2": True, "warmup_calls": 3,
              "kernel_ms": {"_decode_split_kernel": 0.0081, "_decode_combine_kernel": 0.0019}}
    assert Samples.from_record(record).kernel_ms == record["kernel_ms"]
    assert Samples.from_record({**record, "kernel_ms": None}).kernel_ms == {}


def test_defect3_a_clean_remeasure_replaces_a_throttled_first_measurement():
    throttled = compare(summary(1.3), ref(1.0), 0.05, throttled=True)
    assert throttled.verdict is Verdict.UNRELIABLE and needs_remeasure([throttled])
    clean = compare(summary(1.01), ref(1.0), 0.05)
    final, index = decide([throttled, clean])
    assert final.verdict is Verdict.PASS and index == 1 and "throttled" in final.reason
    # a regression seen only after a throttled measurement needs its own confirmation
    slow = compare(summary(1.3), ref(1.0), 0.05)
    assert needs_remeasure([throttled, slow])
    final, index = decide([throttled, slow])
    assert final.verdict is Verdict.UNRELIABLE and "no clean re-measure" in final.reason
    final, index = decide([throttled, slow, compare(summary(1.31), ref(1.0), 0.05)])
    assert final.verdict is Verdict.REGRESSION and index == 2
    assert not needs_remeasure([throttled, slow, slow])  # at most three measurements


def test_defect4_no_silent_comparison_across_timing_methods():
    base = ref(1.0, method="cuda-profiler")
    c = compare(summary(1.5), base, 0.05, method="cuda-events")
    assert c.verdict is Verdict.UNRELIABLE and "cuda-events" in c.reason and "cuda-profiler" in c.reason
    assert compare(summary(1.5), base, 0.05, method="cuda-profiler").verdict is Verdict.REGRESSION


def test_defect6_timer_floor_on_a_kernel_of_a_few_ticks():
    # 1.4 us kernel, zero-width intervals, CUPTI ticks of 32 ns: 3 ticks are 6.9% of it
    c = compare(summary(1.4e-3 * 1.05), ref(1.4e-3), 0.03, tick_ms=32e-6)
    assert c.verdict is Verdict.PASS and c.tolerance_source == "timer floor"
    assert compare(summary(1.4e-3 * 1.5), ref(1.4e-3), 0.03, tick_ms=32e-6).verdict is Verdict.REGRESSION


def test_the_sibling_spread_widens_a_gpu_sigma_and_leaves_the_cpu_alone():
    # a GPU the baseline never saw: 0.4% of its own runs and the sibling spread, in quadrature
    assert noise.with_sibling(0.004, "gpu") == pytest.approx(math.hypot(0.004, noise.SIBLING_SPREAD["gpu"]))
    assert noise.with_sibling(0.004, "gpu") > 0.004
    assert noise.with_sibling(0.004, "cpu") == 0.004


def test_a_long_call_is_sampled_in_small_batches():
    from perf.measure.timing import events_per_batch

    settings = TimingSettings(max_time_s=2.0, batch=10, long_from_ms=100.0)
    assert events_per_batch(0.05, settings) == 10  # a kernel: the full batch
    assert events_per_batch(99.0, settings) == 10
    assert events_per_batch(500.0, settings) == 4  # four half-second calls fill the 2 s cap
    assert events_per_batch(2500.0, settings) == 3  # a generation: the three a median needs, not ten (25 s)


def test_a_long_call_pinned_to_the_profiler_is_profiled_in_small_batches():
    from perf.measure.timing import profiled_per_batch

    settings = TimingSettings(batch=10, max_time_s=2.0, short_below_ms=0.2, long_from_ms=100.0)
    assert profiled_per_batch(0.05, settings) == 50  # a short kernel: five batches' worth per profiler session
    assert profiled_per_batch(60.0, settings) == 10  # a generation of 60 ms: an event batch, not 50 calls
    assert profiled_per_batch(500.0, settings) == 4


def test_warm_up_of_a_long_call_stops_after_two_calls():
    import time

    from perf.measure.timing import _warm_up

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.06)

    assert _warm_up(slow, warmup_ms=50.0, sync=lambda: None, long_from_ms=50.0) == 2
    assert _warm_up(slow, warmup_ms=50.0, sync=lambda: None) == 3  # no long-call rule: at least three
    assert _warm_up(lambda: None, warmup_ms=20.0, sync=lambda: None, long_from_ms=50.0) >= 3
    assert _warm_up(slow, warmup_ms=300.0, sync=lambda: None, long_from_ms=50.0) >= 5  # the warm-up time still holds


def test_an_improvement_stands_only_when_a_second_measurement_shows_it():
    fast = compare(summary(0.94), ref(1.0), 0.03)
    assert fast.verdict is Verdict.IMPROVEMENT and needs_remeasure([fast])
    assert confirms_in_process([fast])  # a second window of the same process may confirm an improvement
    final, index = decide([fast, compare(summary(0.95), ref(1.0), 0.03)])
    assert final.verdict is Verdict.IMPROVEMENT and index == 1 and "confirmed by a second measurement" in final.reason
    final, index = decide([fast, compare(summary(0.99), ref(1.0), 0.03)])
    assert final.verdict is Verdict.PASS and index == 1 and "faster by -6.0% in one measurement" in final.reason
    assert not needs_remeasure([fast, compare(summary(0.95), ref(1.0), 0.03)])


def test_a_regression_is_still_confirmed_in_a_fresh_process_not_a_second_window():
    slow = compare(summary(1.06), ref(1.0), 0.03)
    assert needs_remeasure([slow]) and not confirms_in_process([slow])
    throttled = compare(summary(0.9), ref(1.0), 0.03, throttled=True)
    assert not confirms_in_process([throttled])
