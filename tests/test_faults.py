"""Faults and hostile input for the files the suite writes: two refreshes at once lose no entry (a lock), results
that would make the baseline unusable are refused before anything is written, a failed measurement run refreshes
nothing, a full disk is one line naming the path and the errno with nothing half-written, and what a killed run
leaves behind (temporary files and folders, its pytest child) is gone."""

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import forked
from perf.commands import suite_process
from perf.commands.suite_process import checkout_pythonpath
from perf.verdict import baseline_lock, baselines, file_writes, results

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
FIXTURES = Path(__file__).parent / "fixtures"
FAULTS = FIXTURES / "faults"
PLUGINS = FIXTURES / "plugins"
SELECT = ["--model", "pythia-70m", "--perf-max-time", "0.05", "-p", "no:cacheprovider"]
KEY = "gemm/pythia-70m:qkv:fp32:b1:s1:t1"  # the benchmark of tests/fixtures/faults/results_*.json


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), str(PLUGINS),
                                                        os.environ.get("PYTHONPATH", "")])}
    return {**env, **extra}


def perf(*args, env=None, preexec_fn=None, timeout=120):
    """`python -m perf ...`: forked from this process (tests/forked.py), or a new process where `preexec_fn` sets
    it up (a limit on its file sizes, which must not hold for the files a forked child writes its output to)."""
    if preexec_fn is None:
        return forked.run_perf(args, cwd=ROOT, env=env or _env(), timeout=timeout)
    return subprocess.run([sys.executable, "-m", "perf", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or _env(), timeout=timeout, preexec_fn=preexec_fn)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line]
    assert "Traceback" not in stderr and len(lines) <= 2, stderr  # the error, and "the file was left as it is"
    return lines[0]


# ------------------------------------------------------------------------------ two writers at once: a lock

def test_two_refreshes_at_once_keep_both_selections_entries(tmp_path):
    """Both runs read the baseline file before either writes (a plugin makes them meet): each merges under the
    file's lock into the file as the other left it."""
    folder, meet = tmp_path / "bl", tmp_path / "meet"
    folder.mkdir(), meet.mkdir()
    env = _env(PERF_TEST_MEET=f"{meet}:2")
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", SUITE, *SELECT, "-m", "timing", "-p",
                              "meet_before_writing", "--perf-refresh", "--baseline-dir", str(folder), "-k", k],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for k in ("test_decode and qkv and m1", "test_gemm and out_proj")]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    keys = set(json.loads((folder / "cpu.json").read_text())["entries"])
    assert any(k.startswith("decode/") for k in keys) and any(k.startswith("gemm/") for k in keys), (keys, outputs)


def _record(key: str, median: float) -> dict:
    doc = json.loads((FAULTS / "results_good.json").read_text())
    record = doc["results"][0]
    scale = median / record["summary"]["median_ms"]
    record["summary"] = {k: v * scale if k != "n" else v for k, v in record["summary"].items()}
    record["samples_ms"] = [x * scale for x in record["samples_ms"]]
    return {**record, "key": key}


def test_update_merges_into_the_file_as_it_is_now_not_as_it_was_read(tmp_path):
    stale = baselines.load(tmp_path, "cpu")  # read before another writer wrote
    env = {"device": "cpu"}
    baselines.update(baselines.load(tmp_path, "cpu"), [[_record("gemm/a", 1.0)]], env)
    merged, moves = baselines.update(stale, [[_record("gemm/b", 2.0)]], env)
    assert set(baselines.load(tmp_path, "cpu").entries) == {"gemm/a", "gemm/b"} == set(merged.entries)
    assert [m.key for m in moves] == ["gemm/b"]


def test_a_second_writer_waits_for_the_lock_and_says_so(tmp_path):
    path = tmp_path / "cpu.json"
    said: list[str] = []
    holder = baseline_lock.locked(path)
    holder.__enter__()
    threading.Timer(0.3, holder.__exit__, (None, None, None)).start()
    with baseline_lock.locked(path, say=said.append):
        pass
    assert len(said) == 1 and "another refresh is writing this baseline file; waiting" in said[0]


def test_a_lock_held_too_long_is_one_line_and_nothing_is_written(tmp_path):
    base = baselines.load(tmp_path, "cpu")
    with baseline_lock.locked(base.path):
        with pytest.raises(baseline_lock.LockTimeout, match=r"cpu.json: another refresh held its lock"):
            with baseline_lock.locked(base.path, wait_s=0.2, say=lambda line: None):
                pass
    assert not base.path.exists()


# -------------------------------------------------------------- what could not be loaded is never written

@pytest.mark.parametrize("name, message", [
    ("results_nan_median.json", "results[0].summary.median_ms: expected a finite non-negative number, got nan"),
    ("results_negative_median.json", "results[0].summary.median_ms: expected a finite non-negative number, got -1.0"),
    ("results_zero_median.json", "results[0].summary.median_ms: expected a positive number of milliseconds, got 0"),
    ("results_string_median.json", "results[0].summary.median_ms: expected a finite non-negative number, got '1.0'"),
    ("results_empty_summary.json", "results[0].summary.median_ms: expected a finite non-negative number, got None"),
    ("results_null_environment.json", "environment: expected an object with the device name, got None"),
    ("results_no_results.json", "results: empty; nothing to refresh"),
    ("results_list_top_level.json", "schema: expected 'perf-results/1', got a JSON list"),
])
def test_refresh_from_results_refuses_what_would_make_the_baseline_unusable(tmp_path, name, message):
    folder = tmp_path / "bl"
    folder.mkdir()
    assert perf("refresh", "--from-results", str(FAULTS / "results_good.json"), "--baseline-dir", str(folder)
                ).returncode == 0
    before = (folder / "cpu.json").read_bytes()
    done = perf("refresh", "--from-results", str(FAULTS / name), "--baseline-dir", str(folder))
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert line == f"perf refresh: error: {FAULTS / name}: {message}" and len(line) < 300
    assert (folder / "cpu.json").read_bytes() == before
    assert baselines.load(folder, "cpu").entries  # still loads


def test_save_refuses_an_entry_that_would_not_load(tmp_path):
    base = baselines.Baselines(path=tmp_path / "cpu.json", gpu="cpu", environments={"e": {"device": "cpu"}})
    base.entries[KEY] = {**_record(KEY, 1.0)["summary"], "unit": "ms", "env": "e", "median_ms": float("nan")}
    with pytest.raises(baselines.BaselineError, match=r"not written, it would not load: .*median_ms: expected a "
                                                      r"finite non-negative number, got nan"):
        baselines.save(base)
    assert list(tmp_path.iterdir()) == []


def test_a_refresh_whose_measurement_run_failed_refreshes_nothing(tmp_path):
    folder = tmp_path / "bl"
    done = perf("refresh", "--runs", "1", "--baseline-dir", str(folder), *SELECT, "-k", "test_gemm and qkv",
                "-p", "fail_benchmark", env=_env(PERF_TEST_FAIL="qkv"), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("perf refresh: run 1 failed (exit 1): a benchmark failed (see above); nothing is refreshed while one "
            "fails; the baseline file was left as it is") in done.stderr
    assert not (folder / "cpu.json").exists()


# ------------------------------------------------------------------------------------ unreadable baselines

def _suite(folder: Path, *args) -> subprocess.CompletedProcess:
    """The suite run, forked from this process (tests/forked.py)."""
    return forked.run_module("pytest", [SUITE, *SELECT, "-m", "timing", "-k", "test_gemm and qkv", "--baseline-dir",
                                        str(folder), *args], cwd=ROOT, env=_env(), timeout=300)


@pytest.mark.parametrize("fixture, message", [
    ("baseline_binary.json", "cpu.json: not a JSON text file (not UTF-8 at byte 128)"),
    ("baseline_huge_sigma.json", "between_run_sigma: expected a fraction between 0 and 10, got 1e+300"),
])
def test_an_unusable_baseline_is_one_line_not_an_internal_error(tmp_path, fixture, message):
    folder = tmp_path / "bl"
    folder.mkdir()
    shutil.copy(FAULTS / fixture, folder / "cpu.json")
    before = (folder / "cpu.json").read_bytes()
    with pytest.raises(baselines.BaselineError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("+", r"\+")):
        baselines.load(folder, "cpu")
    done = _suite(folder, "--collect-only", "-q")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "INTERNALERROR" not in done.stdout + done.stderr and "Traceback" not in done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert (folder / "cpu.json").read_bytes() == before


# ------------------------------------------------------------------------------ full disk and I/O errors

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_naming_the_path_and_errno_and_leaves_nothing_behind(tmp_path, monkeypatch):
    base = baselines.Baselines(path=tmp_path / "cpu.json", gpu="cpu")
    baselines.save(base)
    before = base.path.read_bytes()
    base.environments["e"] = {"device": "cpu"}
    monkeypatch.setattr(file_writes.os, "fsync", _enospc)
    with pytest.raises(baselines.BaselineError) as caught:
        baselines.save(base)
    assert str(caught.value) == f"cannot write {base.path}: No space left on device (ENOSPC)"
    with pytest.raises(file_writes.WriteError) as caught:
        results.write(tmp_path / "run.json", {"schema": results.SCHEMA, "results": []})
    assert str(caught.value) == f"cannot write {tmp_path / 'run.json'}: No space left on device (ENOSPC)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu.json"] and base.path.read_bytes() == before


def _small_files_only():
    """In the child: files may grow to 4 KiB only (a disk that fills up), writes beyond fail with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.fixture(scope="module")
def a_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    done = _suite(folder, "--perf-json", str(folder / "run.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "run.json"


@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_and_compare_on_a_full_disk_say_one_line(tmp_path, a_run, command):
    out = tmp_path / "out"
    args = [str(a_run), "-o", str(out)] if command == "report" else [str(a_run), str(a_run), "-o", str(out)]
    done = perf(command, *args, preexec_fn=_small_files_only)
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert line.startswith(f"perf {command}: error: cannot write {out}") and line.endswith("File too large (EFBIG)")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_refresh_on_a_full_disk_is_one_line_and_leaves_the_baseline(tmp_path):
    folder = tmp_path / "bl"
    folder.mkdir()
    assert perf("refresh", "--from-results", str(FAULTS / "results_good.json"), "--baseline-dir", str(folder)
                ).returncode == 0
    before = (folder / "cpu.json").read_bytes()
    other = json.loads((FAULTS / "results_good.json").read_text())  # 50 more entries: the file outgrows 4 KiB
    other["results"] = [_record(f"gemm/m{i}:qkv", 1.0) for i in range(50)]
    (tmp_path / "more.json").write_text(json.dumps(other))
    done = perf("refresh", "--from-results", str(tmp_path / "more.json"), "--baseline-dir", str(folder),
                preexec_fn=_small_files_only)
    assert done.returncode == 2, done.stdout + done.stderr
    assert one_line(done.stderr) == f"perf refresh: error: cannot write {folder / 'cpu.json'}: File too large (EFBIG)"
    assert (folder / "cpu.json").read_bytes() == before and not list(folder.glob("*.tmp"))


def test_the_suites_results_file_and_report_on_a_full_disk_say_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pytest", SUITE, *SELECT, "-m", "timing", "-k", "test_gemm and qkv",
                           "--baseline-dir", str(tmp_path / "bl"), "--perf-json", str(tmp_path / "run.json"),
                           "--perf-report", str(tmp_path / "report")],
                          cwd=ROOT, capture_output=True, text=True, env=_env(), timeout=300,
                          preexec_fn=_small_files_only)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "INTERNALERROR" not in out and "Traceback" not in out, out
    assert f"perf: error: not written: cannot write {tmp_path / 'run.json'}: File too large (EFBIG)" in out \
        or f"perf: error: cannot write {tmp_path / 'run.json'}: File too large (EFBIG)" in out, out
    assert not [p for p in tmp_path.rglob("*.tmp")]


# ------------------------------------------------------------------------- leftovers of a killed run

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_run(tmp_path):
    dead = tmp_path / f".cpu.json.{_dead_pid()}.0123abcd.tmp"
    live = tmp_path / f".cpu.json.{os.getppid()}.4567abcd.tmp"  # a writer that still runs
    dead.write_text("{")
    live.write_text("{")
    baselines.load(tmp_path, "cpu")
    assert not dead.exists() and live.exists()


def test_a_symlinked_baseline_stays_a_symlink(tmp_path):
    real = tmp_path / "shared" / "cpu.json"
    real.parent.mkdir()
    baselines.save(baselines.Baselines(path=real, gpu="cpu"))
    (tmp_path / "bl").mkdir()
    (tmp_path / "bl" / "cpu.json").symlink_to(real)
    baselines.update(baselines.load(tmp_path / "bl", "cpu"), [[_record("gemm/a", 1.0)]], {"device": "cpu"})
    assert (tmp_path / "bl" / "cpu.json").is_symlink()
    assert set(json.loads(real.read_text())["entries"]) == {"gemm/a"}


def test_refresh_folders_of_a_killed_refresh_are_removed_by_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"perf-refresh-{_dead_pid()}-abc"
    live = tmp_path / f"perf-refresh-{os.getppid()}-def"
    dead.mkdir(), live.mkdir()
    with suite_process.run_folder("perf-refresh") as folder:
        assert Path(folder).name.startswith(f"perf-refresh-{os.getpid()}-")
    assert not dead.exists() and live.exists()


def test_a_killed_refresh_takes_its_pytest_run_down(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (f"from pathlib import Path; from perf.commands import suite_process as s; "
              f"s.run_suite(Path({str(tmp_path / 'r.json')!r}), ['-p', 'record_pid'])")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=_env(PERF_TEST_PID_FILE=str(pid_file)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while file_writes.process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = file_writes.process_alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, "the pytest child kept running after its refresh was killed"


def test_perf_max_time_nan_is_refused(tmp_path):
    done = _suite(tmp_path, "--perf-max-time", "nan", "--collect-only")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--perf-max-time: expected a positive number, got 'nan'" in done.stderr
