"""The suite's verdicts against the runner's own history, end to end on the CPU device: three runs build a history
in an SQLite file, the fourth is decided by it (the record, the terminal table and its references line say so),
a self-test with an injected slowdown is decided by it but not stored, and `--perf-reference baseline` keeps the
committed baseline in charge."""

import functools
import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the history extra (pip install -e .[history]) is part of the test extra")

import forked  # noqa: E402
from perf.history import store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
SELECT = ["--model", "pythia-70m", "-k", "test_gemm and qkv", "--perf-max-time", "0.05", "-p", "no:cacheprovider"]
KEY = "gemm/pythia-70m:qkv"


@pytest.fixture
def run(pytester, tmp_path):
    url = f"sqlite:///{tmp_path / 'history.db'}"

    def run_pytest(*args, in_process=False):
        """The suite in a process of its own (forked from this one: tests/forked.py); `in_process`: in this one, for
        a run that stops before timing."""
        start = pytester.runpytest_inprocess if in_process else functools.partial(forked.runpytest, pytester)
        return start(SUITE, "--baseline-dir", str(tmp_path / "bl"), "--perf-history", url, *SELECT, *args)
    run_pytest.url = url
    return run_pytest


def record(path: Path) -> dict:
    (only,) = json.loads(path.read_text())["results"]
    return only


def stored_runs(url: str) -> int:
    db = store.open_database(url)
    try:
        return len(store.runs_frame(db))
    finally:
        db.engine.dispose()


@pytest.mark.perf_expected_s(35)
def test_three_runs_build_the_history_that_decides_the_fourth(run, tmp_path, monkeypatch):
    # A table wide enough for every column: at 80 a longer verdict (a noisy CPU run's "improvement*") makes the
    # table leave out its reference column, which this test reads.
    monkeypatch.setenv("COLUMNS", "200")
    for i in range(3):
        result = run("--perf-json", str(tmp_path / f"r{i}.json"))
        assert result.ret == 0, result.stdout.str()
        first = record(tmp_path / f"r{i}.json")
        assert first["key"].startswith(KEY) and first["reference"]["source"] is None  # no baseline, no history yet
    assert "references: none" in result.stdout.str()
    assert stored_runs(run.url) == 3

    result = run("--perf-json", str(tmp_path / "r3.json"))
    assert result.ret == 0, result.stdout.str()
    fourth = record(tmp_path / "r3.json")
    host = socket.gethostname()
    assert fourth["reference"]["source"] == "history" and fourth["reference"]["runs"] == 3
    assert fourth["reference"]["text"].startswith(f"history: 3 runs of cpu on {host} since ")
    assert fourth["baseline"]["n"] == 3  # the reference's summary: the three runs' medians
    text = result.stdout.str()
    assert f"references: 1 by this runner's history (3 runs of cpu on {host} since" in text
    assert any(line.startswith(KEY) and line.rstrip().endswith("history 3") for line in text.splitlines())
    assert stored_runs(run.url) == 4

    # a self-test: decided by the history, never stored in it
    result = run("--perf-json", str(tmp_path / "inj.json"), "--perf-inject-slowdown", f"{KEY}:*=0.5")
    assert result.ret in (0, 1), result.stdout.str()
    injected = record(tmp_path / "inj.json")
    assert injected["injected"] and injected["reference"]["source"] == "history"
    assert stored_runs(run.url) == 4

    # --perf-reference baseline: the committed baseline decides (here there is none), the run is still stored
    result = run("--perf-json", str(tmp_path / "b.json"), "--perf-reference", "baseline")
    assert result.ret == 0, result.stdout.str()
    assert record(tmp_path / "b.json")["reference"]["source"] is None
    assert stored_runs(run.url) == 5


def test_a_reference_choice_that_does_not_exist_is_refused(run):
    result = run("--perf-reference", "yesterday", in_process=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid choice: 'yesterday'" in result.stderr.str()
