"""Where a suite process's time goes (perf/measure/process_time.py): the process's age read from /proc, the parts
counted exactly on a stepped clock, and the block in the results file of a real run."""

import json

from perf.measure import process_time


def test_the_process_start_is_read_and_the_parts_add_up(monkeypatch):
    age = process_time.since_process_start()
    assert age is not None and 0 < age < 3600  # this test process started within the hour (Linux /proc)
    now = iter([100.0, 100.5, 101.5, 102.0, 102.25, 103.0])  # configure, start, end, start, end, as_dict
    monkeypatch.setattr(process_time.time, "monotonic", lambda: next(now))
    clock = process_time.ProcessTime()
    clock.benchmark_started()
    clock.benchmark_ended()
    clock.benchmark_started()
    clock.benchmark_ended()
    clock.benchmark_ended()  # an end without a start adds nothing (and reads no clock)
    times = clock.as_dict()
    start = round(clock.before_configure, 2)
    assert times == {"start_s": start, "setup_s": 0.5, "benchmarks_s": 1.25,
                     "total_s": round(clock.before_configure + 3.0, 2)}
    assert process_time.phrase(times) == f"start {start:.1f} s, setup 0.5 s, benchmarks 1.2 s"
    assert process_time.phrase(None) == ""
    monkeypatch.undo()
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
