"""tests/forked.py runs a module as a new `python -m` process would: the same output, errors and exit status as a real
process, whatever this test process has set (its warning filters, log handlers, signal handlers, torch threads), and
a child that outlives its timeout is killed."""

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
import torch

import forked

PROBE = textwrap.dedent("""\
    import logging, os, signal, sys, warnings
    import torch
    warnings.warn("a user warning", UserWarning)
    warnings.warn("a deprecation in __main__", DeprecationWarning)
    logging.getLogger("probe").warning("a log warning")
    logging.getLogger("probe").info("a log info, not shown")
    print("argv", os.path.basename(sys.argv[0]), sys.argv[1:], "cwd first", sys.path[0] == os.getcwd())
    print("SIGINT", signal.getsignal(signal.SIGINT) is signal.default_int_handler,
          "SIGTERM", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "blocked", signal.pthread_sigmask(0, []))
    print("threads", torch.get_num_threads(), "env", os.environ.get("PROBE_VALUE"))
    raise SystemExit(3)
""")


@pytest.fixture
def probe(tmp_path):
    (tmp_path / "probe_module.py").write_text(PROBE)
    return tmp_path


def test_a_forked_module_says_and_exits_as_a_new_process_does(probe, caplog):
    env = {**os.environ, "PROBE_VALUE": "x"}
    real = subprocess.run([sys.executable, "-m", "probe_module", "a", "b"], cwd=probe, env=env, capture_output=True,
                          text=True, timeout=120)
    warnings.simplefilter("error")  # this test's state, which the child must not have
    caplog.set_level(logging.INFO)
    torch.set_num_threads(1)
    handler = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        child = forked.run_module("probe_module", ["a", "b"], cwd=probe, env=env, timeout=120)
    finally:
        signal.signal(signal.SIGTERM, handler)
        torch.set_num_threads(forked.TORCH_THREADS)
    assert real.returncode == 3 and "a user warning" in real.stderr and "a log warning" in real.stderr
    assert (child.returncode, child.stdout, child.stderr) == (real.returncode, real.stdout, real.stderr)
    assert "probe" not in caplog.text  # the child's log records did not reach this process


def test_a_forked_child_past_its_timeout_is_killed(tmp_path):
    (tmp_path / "sleeper.py").write_text("import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(60)\n")
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        forked.run_module("sleeper", [], cwd=tmp_path, timeout=1)
    assert (tmp_path / "started").is_file() and time.monotonic() - start < 30


def test_a_working_folder_that_imports_another_perf_is_refused(tmp_path):
    (tmp_path / "perf").mkdir()
    (tmp_path / "perf" / "__init__.py").write_text("")
    with pytest.raises(ValueError, match="run it as a real process"):
        forked.run_perf(["--help"], cwd=tmp_path)


def test_an_uncaught_keyboard_interrupt_ends_the_child_as_it_ends_python(tmp_path):
    (tmp_path / "interrupted.py").write_text("raise KeyboardInterrupt\n")
    real = subprocess.run([sys.executable, "-m", "interrupted"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    child = forked.run_module("interrupted", [], cwd=tmp_path)
    assert real.returncode == child.returncode == -signal.SIGINT
    assert real.stderr.strip().endswith("KeyboardInterrupt") and child.stderr.strip().endswith("KeyboardInterrupt")
