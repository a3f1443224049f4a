"""Where a suite process's time goes (perf/measure/process_time.py): the parts are read from real clocks, add up,
and reach the results file of a run."""

import json
import time

from perf.measure import process_time


def test_the_process_start_is_read_and_the_parts_add_up():
    age = process_time.since_process_start()
    assert age is not None and 0 < age < 3600  # this test process started within the hour (Linux /proc)
    clock = process_time.ProcessTime()
    time.sleep(0.05)
    clock.benchmark_started()
    time.sleep(0.1)
    clock.benchmark_ended()
    clock.benchmark_started()
    time.sleep(0.05)
    clock.benchmark_ended()
    clock.benchmark_ended()  # an end without a start adds nothing
    times = clock.as_dict()
    assert 0.04 <= times["setup_s"] <= 1.0 and 0.14 <= times["benchmarks_s"] <= 1.0
    assert times["start_s"] >= age - 0.01
    assert times["total_s"] >= times["start_s"] + times["setup_s"] + times["benchmarks_s"] - 0.02
    assert process_time.phrase(times).startswith(f"start {times['start_s']:.1f} s, setup ")
    assert process_time.phrase(None) == ""
    assert process_time.ProcessTime().as_dict()["setup_s"] is None  # no benchmark yet


def test_a_run_writes_where_its_process_spent_its_time(pytester, tmp_path):
    from pathlib import Path

    suite = str(Path(__file__).resolve().parents[1] / "perf" / "suite")
    out = tmp_path / "r.json"
    done = pytester.runpytest_subprocess(suite, "-k", "test_kernels and rms_norm and tok64", "--perf-max-time", "0.1",
                                         "--baseline-dir", str(tmp_path / "bl"), "-p", "no:cacheprovider",
                                         "--perf-json", str(out))
    assert done.ret == 0, done.stdout.str()
    times = json.loads(out.read_text())["process"]
    assert times["start_s"] > 0.1 and times["setup_s"] >= 0 and times["benchmarks_s"] > 0  # python and torch start
    assert times["total_s"] >= times["start_s"] + times["setup_s"] + times["benchmarks_s"] - 0.02
