"""`python -m pytest ...` and `python -m perf ...` in a forked copy of this test process instead of a new Python.

A test that starts the suite or a `perf` command in a process of its own pays about 2 s of the ~3 s for starting
Python and importing torch, pytest and the perf plugin, which this process has done already. A forked child starts
with all of that imported and is otherwise set up as a new `python -m MODULE ARGS` would be: its own working folder
and environment, sys.path led by the working folder and PYTHONPATH's folders, standard streams of its own (files,
read back as the process's output), sys.argv, the signal handlers and mask that Python starts with, Python's default
warning filters with warnings and log records shown on stderr (pytest records them here while a test runs), random
generators seeded anew, torch's thread count as this process started, none of this process's atexit handlers or
faulthandler, and the module run by runpy as `-m` runs it (tests/test_forked.py compares it with a real process).
This process's objects are frozen in the child (gc.freeze), so that a garbage collection there cannot finalize them:
a database connection that the child shares with this process must not be closed under it. The child ends with
os._exit, after the atexit handlers that its own run registered.

What the child shares with this process is what was imported, as it was: the perf modules keep a run's state in the
pytest config (perf.plugin's stash), and what they cache at module level (perf.measure.workers.current_gpu, the
kernels' builds) holds the same in any process of this machine; the code is this checkout's (`_check_same_perf`
refuses a working folder or PYTHONPATH that would import another `perf`). The CPU device times on one torch thread
(the suite sets it in the child), so no thread pool is carried across the fork into a timing.

Real processes stay where a test is about a fresh process (its start time: tests/test_process_time.py), signals sent
to it, resource limits on its files, an installed copy, another checkout (perf ab, perf bisect), or the README's
literal commands. The processes the product starts itself (a refresh's runs, a regression's confirming run) are
real processes whichever way their parent started.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import gc
import logging
import os
import random
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import pytest
import torch

# torch's thread count as this process started with it (this module is imported at collection, before any test).
TORCH_THREADS = torch.get_num_threads()


def run_module(module: str, args: Sequence[str], *, cwd: Path | str, env: Mapping[str, str] | None = None,
               timeout: float | None = None, new_session: bool = False) -> subprocess.CompletedProcess:
    """subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
    timeout=timeout, start_new_session=new_session), run in a forked child."""
    args = [os.fspath(arg) for arg in args]
    env = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="forked-") as streams:
        out, err = Path(streams) / "stdout", Path(streams) / "stderr"
        code = run(module, args, cwd=Path(cwd), env=env, stdout=out, stderr=err, timeout=timeout,
                   new_session=new_session)
        return subprocess.CompletedProcess([sys.executable, "-m", module, *args], code,
                                           out.read_text(errors="replace"), err.read_text(errors="replace"))


def run_perf(args: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """`python -m perf ARGS` (run_module's options), forked."""
    return run_module("perf", args, **kwargs)


def runpytest(pytester: pytest.Pytester, *args, timeout: float | None = None) -> pytest.RunResult:
    """pytester.runpytest_subprocess(*args, timeout=timeout) in a forked child: the same --basetemp, working
    folder, PYTHONPATH (the working folder first), output files, echo of the output and result."""
    from _pytest.pathlib import make_numbered_dir
    from _pytest.timing import Instant

    basetemp = make_numbered_dir(root=pytester.path, prefix="runpytest-", mode=0o700)
    args = [f"--basetemp={basetemp}", *(os.fspath(arg) for arg in args)]
    cwd = Path.cwd()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH", "")]))
    out, err = pytester.path / "stdout", pytester.path / "stderr"
    print("running (forked):", sys.executable, "-mpytest", *args)
    print("     in:", cwd)
    instant = Instant()
    try:
        code = run("pytest", args, cwd=cwd, env=env, stdout=out, stderr=err, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise pytester.TimeoutExpired(f"{timeout} second timeout expired running: {args}") from None
    outlines = out.read_text(encoding="utf8", errors="replace").splitlines()
    errlines = err.read_text(encoding="utf8", errors="replace").splitlines()
    for lines, stream in ((outlines, sys.stdout), (errlines, sys.stderr)):
        for line in lines:
            print(line, file=stream)
    with contextlib.suppress(ValueError):
        code = pytest.ExitCode(code)
    return pytest.RunResult(code, outlines, errlines, instant.elapsed().seconds)


def run(module: str, args: list[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
        timeout: float | None = None, new_session: bool = False) -> int:
    """`python -m module ARGS` in a forked child with output and errors written to the files; its exit status as
    subprocess reports it (-N for a signal). The child is killed at `timeout` (subprocess.TimeoutExpired) or when
    this process is interrupted while it waits."""
    path = _sys_path_first(cwd, env)
    _check_same_perf(path)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):  # nothing buffered is written twice
        if stream is not None:
            stream.flush()
    pid = os.fork()
    if pid == 0:
        _child(module, args, cwd=cwd, env=env, path=path, stdout=stdout, stderr=stderr, new_session=new_session)
    try:
        return _wait(pid, timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise


def _sys_path_first(cwd: Path, env: Mapping[str, str]) -> list[str]:
    """The folders that lead sys.path in `python -m` started in `cwd` with `env`: the working folder, then
    PYTHONPATH's."""
    folders = [cwd, *(Path(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return list(dict.fromkeys(str(Path(cwd, folder).resolve()) for folder in folders))


def _check_same_perf(path: Sequence[str]) -> None:
    """A new process would import `perf` from the first of these folders that has it (else the installed one): it
    must be the `perf` that this process imported, or the child would run other code than the command."""
    import perf

    imported = Path(perf.__file__).resolve().parent
    for folder in path:
        if (Path(folder) / "perf" / "__init__.py").is_file():
            if (Path(folder) / "perf").resolve() != imported:
                raise ValueError(f"a new process would import {folder}/perf, not this process's {imported}: "
                                 f"run it as a real process")
            return


def _wait(pid: int, timeout: float | None) -> int:
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not ready:
        raise subprocess.TimeoutExpired(f"forked child {pid}", timeout)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _child(module, args, *, cwd, env, path, stdout, stderr, new_session) -> None:
    """Set up as a new process, run the module, exit: never returns into the test process."""
    code, interrupted = 1, False
    try:
        gc.freeze()
        atexit._clear()
        faulthandler.disable()
        _python_signal_defaults()
        if new_session:
            os.setsid()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        _redirect(stdout, stderr)
        _python_warning_and_logging_defaults(env)
        _fresh_random_and_torch_state()
        sys.path[:] = [*path, *(p for p in sys.path if p not in path)]
        sys.argv = [module, *args]  # runpy puts the module's file first, as `-m` does
        code = _exit_status(module)
    except BaseException as exc:  # noqa: BLE001 - reported as a new process would, by its status and a traceback
        interrupted = isinstance(exc, KeyboardInterrupt)
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        if interrupted:  # Python ends on an uncaught KeyboardInterrupt by SIGINT's default action
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(code)


def _exit_status(module: str) -> int:
    """Run the module as `python -m` does; its SystemExit (or a normal end) turned into a status as the
    interpreter does."""
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _python_signal_defaults() -> None:
    """The handlers and mask a new Python process starts with: SIGINT raises KeyboardInterrupt, SIGPIPE and SIGXFSZ
    are ignored, the others take their default action; none blocked."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# The filters a Python process starts with (no -W, no PYTHONWARNINGS, not in development mode), as `python -c
# "import warnings; print(warnings.filters)"` lists them: the warnings module's documented default filter.
DEFAULT_WARNING_FILTERS = (("default", None, DeprecationWarning, "__main__", 0),
                           ("ignore", None, DeprecationWarning, None, 0),
                           ("ignore", None, PendingDeprecationWarning, None, 0),
                           ("ignore", None, ImportWarning, None, 0),
                           ("ignore", None, ResourceWarning, None, 0))


def _python_warning_and_logging_defaults(env: Mapping[str, str]) -> None:
    """Warnings and log records go where they go in a new process, not to this process's pytest, which records them
    while a test runs: the default filters (then PYTHONWARNINGS's), warnings shown on stderr, and a root logger
    with no handlers (logging's last resort writes warnings and errors to stderr)."""
    warnings.filters[:] = DEFAULT_WARNING_FILTERS
    warnings._filters_mutated()
    sys.warnoptions[:] = [option for option in env.get("PYTHONWARNINGS", "").split(",") if option]
    warnings._processoptions(sys.warnoptions)
    warnings.showwarning = warnings._showwarning_orig
    warnings._showwarnmsg_impl = _show_warning_on_stderr
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def _show_warning_on_stderr(msg: warnings.WarningMessage) -> None:
    """The warnings module's own _showwarnmsg_impl, which pytest replaces with a recorder while a test runs."""
    file = msg.file if msg.file is not None else sys.stderr
    if file is not None:
        with contextlib.suppress(OSError):
            file.write(warnings._formatwarnmsg(msg))


def _fresh_random_and_torch_state() -> None:
    """Random number generators as a new process has them: `random`'s, numpy's global one and torch's seeded anew
    (torch seeds its generator from the system's entropy at start); and torch's thread count as this process started
    with it (a suite run in this process sets one thread, and the test's fixture sets it back only after the test)."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch.seed()
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


def _redirect(stdout: Path, stderr: Path) -> None:
    """Standard input from /dev/null (pytester closes it; no command here reads it), output and errors to the files,
    and sys's streams on them as a new process has (stderr line-buffered)."""
    encoding = sys.__stdout__.encoding if sys.__stdout__ is not None else "utf-8"
    for fd, file, flags in ((0, os.devnull, os.O_RDONLY), (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        opened = os.open(file, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = sys.__stdin__ = open(0, encoding=encoding, closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding=encoding, closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding=encoding, errors="backslashreplace", closefd=False,
                                       buffering=1)
