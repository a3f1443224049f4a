"""What a new user sees first: the suite's own header line (not pytest-benchmark's settings, which it does not
use), the refresh line when there is no baseline, where files were written, and a baseline error said once."""

import functools
from pathlib import Path

import pytest

import forked

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
SELECT = ["--model", "pythia-70m", "-k", "test_gemm and qkv", "--perf-max-time", "0.1", "-p", "no:cacheprovider"]


@pytest.fixture
def run(pytester, tmp_path):
    def run_pytest(*args, in_process=False):
        """The suite in a process of its own (forked from this one: tests/forked.py); `in_process`: in this one, for
        a run that times nothing."""
        start = pytester.runpytest_inprocess if in_process else functools.partial(forked.runpytest, pytester)
        return start(SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, *args)
    return run_pytest


def test_no_baseline_ends_with_the_refresh_line_and_what_was_written(run, tmp_path):
    result = run("--perf-json", str(tmp_path / "r.json"), "--perf-report", str(tmp_path / "rep"))
    assert result.ret == 0, result.stdout.str()
    lines = result.stdout.str().splitlines()
    at = lines.index("verdicts: 1 new")
    assert lines[at + 1] == f"1 benchmarks have no baseline in {tmp_path / 'bl' / 'cpu.json'}; measure one with:"
    assert lines[at + 2] == (f"    python -m perf refresh --baseline-dir {tmp_path / 'bl'} --model pythia-70m "
                             f"-k 'test_gemm and qkv'")
    assert f"perf: wrote results (1 benchmarks) to {tmp_path / 'r.json'}" in lines
    assert any(line.startswith("perf: wrote report (") and f"to {tmp_path / 'rep'}/" in line for line in lines)
    assert (tmp_path / "r.json").is_file() and (tmp_path / "rep" / "index.html").is_file()


def test_header_is_the_suites_not_pytest_benchmarks(run):
    result = run("--collect-only", in_process=True)
    text = result.stdout.str()
    assert "warmup_iterations=100000" not in text and "timer=time.perf_counter" not in text
    assert "perf: timing by this suite (samples until a 1.0% noise target or 0.1 s per benchmark)" in text


def test_a_baseline_error_is_said_once(run, tmp_path):
    (tmp_path / "bl").mkdir()
    (tmp_path / "bl" / "cpu.json").write_text('{"schema": "x"}')
    result = run(in_process=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    everything = result.stdout.str() + result.stderr.str()
    assert everything.count("schema: expected 'perf-baseline/1' or 'perf-baseline/2', got 'x'") == 1
    assert "the file was left as it is" in result.stderr.str()


def test_default_report_and_compare_folders_are_ignored_by_git():
    from perf.commands import compare, report

    ignored = set((ROOT / ".gitignore").read_text().split())
    for folder in (report.DEFAULT_DIR, compare.DEFAULT_DIR):
        assert f"/{folder}/" in ignored, f"{folder}/ (a default output folder) is missing from .gitignore"
