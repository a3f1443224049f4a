"""Change points on synthetic nightly series whose noise is drawn from the between-run sigmas measured on H200s
(baselines/H200.json): a 3% step is found within 5 runs, flat series give almost no false change points. And
the suite's own run, stored with --perf-history, names the drift that ends at it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

import forked
from perf.history import changes, importing, store, synthetic

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = synthetic.measured_sigmas(ROOT / "baselines" / "H200.json")


def test_the_sigmas_are_the_measured_ones():
    assert len(SIGMAS) > 500 and 0.002 < float(np.median(SIGMAS)) < 0.02


def test_a_3_percent_step_is_found_and_flat_series_stay_quiet():
    rates = synthetic.measure_rates(SIGMAS, n_series=60, n_flat=300, seed=11)
    assert rates.found_offline >= 0.9 * rates.series, rates
    assert rates.false_points <= 0.01 * rates.flat_series + 1, rates  # at most 1 per 100 series (+1: few series)


def test_the_penalty_follows_the_noise_of_each_series():
    """The same 3% step is a change point in a quiet series and not in one four times noisier than it."""
    rng = np.random.default_rng(5)
    quiet = synthetic.series(rng, 0.003, 60, 0.03, 30)
    (found,) = changes.splits(quiet)
    assert abs(found.index - 30) <= 1 and 0.02 < found.change < 0.04
    noisy = synthetic.series(np.random.default_rng(6), 0.03, 60, 0.03, 30)
    assert changes.splits(noisy) == []


def test_a_single_outlier_is_not_a_change_point():
    values = synthetic.series(np.random.default_rng(8), 0.005, 60)
    values[25] *= 1.5
    assert changes.splits(values) == []


def _pair_frame(ratios):
    """A frame shaped as store.pairs_frame gives it: one pair's ratio series on one GPU, one run a night."""
    import pandas as pd

    start = dt.datetime(2026, 1, 1, 2, tzinfo=dt.timezone.utc)
    nights = len(ratios)
    return pd.DataFrame({"run_id": range(1, nights + 1), "gpu": "H200", "key": "kernel/rms:m4096",
                         "date": [start + dt.timedelta(days=n) for n in range(nights)],
                         "commit": [f"{n:040x}" for n in range(nights)], "driver": "580.159.04", "cuda": "13.0",
                         "torch": "2.11.0", "triton": "3.6.0", "dtype": "bf16", "ratio": ratios})


def test_a_step_in_a_pairs_ratio_is_a_ratio_change_point():
    """A pair's ratio series (about 1.2, 0.5% noise) rising 4% at night 35: one change point of kind pair, its
    before and after in ratios; the same series without the step gives none."""
    stepped = 1.2 * synthetic.series(np.random.default_rng(21), 0.005, 60, 0.04, 35)
    (cp,) = changes.change_points(_pair_frame(stepped), changes.PAIR)
    assert cp.kind == "pair" and cp.key == "kernel/rms:m4096" and abs(cp.index - 35) <= 1
    assert cp.before == pytest.approx(1.2, rel=0.01) and cp.after == pytest.approx(1.248, rel=0.01)
    fields = cp.as_dict()
    assert fields["kind"] == "pair" and "before_ratio" in fields and "after_ratio" in fields and "before_ms" not in fields
    flat = 1.2 * synthetic.series(np.random.default_rng(22), 0.005, 60)
    assert changes.change_points(_pair_frame(flat), changes.PAIR) == []


def test_a_benchmarks_change_point_keeps_its_fields_in_ms():
    """The benchmarks' change points read median_ms and say so: before_ms and after_ms, kind benchmark."""
    frame = _pair_frame(1.2 * synthetic.series(np.random.default_rng(21), 0.005, 60, 0.04, 35))
    frame = frame.rename(columns={"ratio": "median_ms"})
    (cp,) = changes.change_points(frame)
    fields = cp.as_dict()
    assert fields["kind"] == "benchmark" and {"before_ms", "after_ms"} <= fields.keys() and "before_ratio" not in fields


def test_a_pairs_trend_plot_reads_ratios_against_1_and_marks_a_rise_faster(tmp_path, monkeypatch):
    """The ratio series of a pair rising 4%: its plot's y axis names the ratio, a dashed line at 1 (equal times)
    where a benchmark's plot has its baseline, the ratios' band from the rounds' range, and the change point a green
    line (a rise of the ratio is ours getting faster)."""
    from perf.report.plots import trend

    ratios = 1.2 * synthetic.series(np.random.default_rng(21), 0.005, 60, 0.04, 35)
    frame = _pair_frame(ratios).assign(ratio_low=ratios * 0.99, ratio_high=ratios * 1.01)
    (cp,) = changes.change_points(frame, changes.PAIR)
    drawn = []
    monkeypatch.setattr(trend, "_save", lambda fig, path: drawn.append(fig) or path)
    trend.trend(frame, [cp], tmp_path / "pair.png", title="kernel/rms:m4096", values=trend.values_of(changes.PAIR.column))
    (ax,) = drawn[0].axes
    assert ax.get_ylabel() == "ratio (reference time / ours)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["1: equal times"].get_ydata()) == [1.0, 1.0]
    assert list(lines["ratio"].get_ydata()) == pytest.approx(list(ratios))
    (change,) = [line for label, line in lines.items() if label.startswith("change +")]
    assert change.get_color() == "#2ca02c" and list(change.get_xdata()) == [cp.index - 0.5] * 2


SUITE = str(ROOT / "perf" / "suite")
QKV = "gemm/pythia-70m:qkv:fp32:b1:s64:t1"
SELECT = ["--model", "pythia-70m", "-k", "test_gemm and qkv", "--perf-max-time", "0.2", "-p", "no:cacheprovider"]


@pytest.mark.perf_expected_s(13)
def test_the_suite_stores_its_run_and_reports_drift(pytester, tmp_path):
    """Thirty nights of history at half the speed measured now, then two nights at today's level: the run stored
    by --perf-history is the third night after the change, so the summary and the results file call it drift."""
    first = tmp_path / "first.json"
    done = forked.runpytest(pytester, SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "--perf-json", str(first))
    assert done.ret == 0, done.stdout.str()
    record = json.loads(first.read_text())
    now_ms = record["results"][0]["summary"]["median_ms"]
    url = f"sqlite:///{tmp_path / 'history.db'}"
    db = store.open_database(url)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)
    rng = np.random.default_rng(2)
    for night in range(32):
        doc = json.loads(first.read_text())
        doc["environment"]["date"] = (start + dt.timedelta(days=night)).isoformat()
        doc["results"][0]["summary"]["median_ms"] = now_ms * (2.0 if night < 30 else 1.0) * (1 + 0.003 * rng.standard_normal())
        importing.store_document(db, doc, f"night {night}")
    db.engine.dispose()
    out = tmp_path / "run.json"
    done = forked.runpytest(pytester, SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT,
                            "--perf-history", url, "--perf-json", str(out))
    assert done.ret == 0, done.stdout.str()
    text = done.stdout.str()
    assert "run 33 stored in" in text and "1 change points end at this run" in text
    assert f"drift: {QKV} -" in text  # faster than the nights before
    (drift,) = json.loads(out.read_text())["perf_history_drift"]
    assert drift["benchmark"] == QKV and drift["since"] == (start + dt.timedelta(days=30)).date().isoformat()


def test_a_bad_history_url_stops_the_run_before_timing(pytester, tmp_path):
    done = pytester.runpytest_inprocess(SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT,
                                         "--perf-history", "mysql://x@localhost/y")
    assert done.ret == pytest.ExitCode.USAGE_ERROR
    assert "--perf-history: mysql://x@localhost/y: backend 'mysql': expected sqlite or postgresql" in done.stderr.str()


def test_a_step_keeps_its_place_when_a_noise_cut_beside_it_is_merged_away():
    # Thirty runs at one level, three at half of it: the detector's first pass cuts at 27 (noise) and 30 (the step);
    # the cut at 30, with three runs after it, cannot pass its own test against runs 27-29, so it is merged away, and
    # the remaining cut must then move to the step, not stay at 27, three runs early (the drift window is five).
    rng = np.random.default_rng(2)
    values = np.r_[2.0 * (1 + 0.02 * rng.standard_normal(30)), 1.0 * (1 + 0.02 * rng.standard_normal(2)), 1.0]
    assert [s.index for s in changes.splits(values)] == [30]
