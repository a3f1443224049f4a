"""One run of the timing suite in a pytest process of its own, writing a results file: what `refresh` (N
independent runs), `detect` (a run with slowdowns injected) and `ab` (rounds of two checkouts) are built from."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from perf.verdict import file_writes, results

SUITE = Path(__file__).parent.parent / "suite"
ROOT = SUITE.parent.parent


def checkout_pythonpath(root: Path, inherited: str | None = None) -> str:
    """PYTHONPATH that imports a checkout's own code: `perf` from its root and `perf_kernels` from its kernels/
    folder (the layout of pyproject.toml's package-dir), ahead of any installed copy; `inherited` goes last."""
    return os.pathsep.join([str(root), str(Path(root) / "kernels"), *filter(None, [inherited])])


STOPS = {signal.SIGINT, signal.SIGTERM}


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel kills it when its parent dies, so that a `perf refresh` (or
    detect, ab) killed with SIGKILL takes its pytest run down instead of leaving it measuring; and Ctrl-C and
    SIGTERM, blocked in the parent while it forked (`_run`), are let through again."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run(command: list[str], **kwargs) -> int:
    """subprocess.run(command).returncode, the child dying with this process (Linux). A child set up before it runs
    is forked, and a Ctrl-C that lands in Python's fork handlers is lost ("Exception ignored"): Ctrl-C and SIGTERM
    are held back while forking and arrive right after, where they stop this process as they should."""
    if not sys.platform.startswith("linux"):
        return subprocess.run(command, **kwargs).returncode
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        process = subprocess.Popen(command, preexec_fn=_die_with_parent, **kwargs)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    with process:
        try:
            return process.wait()
        except BaseException:  # Ctrl-C or SIGTERM's KeyboardInterrupt: the child goes too, as with subprocess.run
            process.kill()
            raise


def run_folder(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder for a command's runs, named by this process (`perf-refresh-PID-XXXX`); the folders of
    that prefix whose process is gone (killed) are removed first."""
    remove_dead_folders(prefix)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}-{os.getpid()}-")


def remove_dead_folders(prefix: str) -> list[Path]:
    """Remove the temporary folders `PREFIX-PID-*` whose process is gone (a kill that no handler sees: SIGKILL, a
    lost machine), and return them."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-")
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}-*"):
        found = pattern.match(path.name)
        if found and path.is_dir() and not file_writes.process_alive(int(found[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def run_suite(out: Path, args: Sequence[str], nodeids: Sequence[str] = (), *, root: Path = ROOT,
              log: Path | None = None) -> tuple[int, dict | None]:
    """Run the timing benchmarks (all of the suite, or the nodeids given) with `args`; the exit status and the
    results file it wrote (None when it wrote none). `root`: the checkout whose suite and code run (another
    revision's worktree; its folder goes first on PYTHONPATH). `log`: a file that takes the process's output,
    one line per benchmark, instead of the terminal."""
    root = Path(root)
    command = [sys.executable, "-m", "pytest", *(nodeids or [str(root / "perf" / "suite")]), "-p", "perf.plugin",
               "-p", "no:cacheprovider", "-m", "timing", "-q" if log is None else "-v", "--perf-json", str(out),
               *args]
    env = dict(os.environ)
    if root.resolve() != ROOT.resolve():
        env["PYTHONPATH"] = checkout_pythonpath(root, os.environ.get("PYTHONPATH"))
    if log is None:
        code = _run(command, cwd=root, env=env)
    else:
        env["PYTHONUNBUFFERED"] = "1"  # a crash must not swallow the line naming the benchmark it crashed on
        with open(log, "w") as sink:
            code = _run(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return code, (results.read(out) if out.exists() else None)


@dataclass(frozen=True)
class Selection:
    """What a command's pytest options select, checked before anything is measured."""

    nodeids: tuple[str, ...] = ()
    error: str | None = None  # the usage error that stopped the check (one line), or None

    def modules(self) -> dict[str, list[str]]:
        """The selected benchmarks by suite module, in collection order."""
        by_module: dict[str, list[str]] = {}
        for nodeid in self.nodeids:
            by_module.setdefault(nodeid.split("::", 1)[0], []).append(nodeid)
        return by_module


def select(args: Sequence[str], *, refresh: bool = False) -> Selection:
    """Collect (measure nothing) the timing benchmarks that `args` select, so that a bad option, an unusable
    baseline file, or, with `refresh`, a baseline file or folder that cannot be written, stops a command before
    its first measurement. In this process (pytest.main, as `pytest ARGS` run in the checkout's root), which saves
    a new Python with torch of its own (2-4 s); the command's measuring runs are new processes all the same."""
    argv = [str(SUITE), "-p", "perf.plugin", "-p", "no:cacheprovider", "-m", "timing", "--collect-only", "-q",
            *(["--perf-refresh"] if refresh else []), *args]
    code, stdout, stderr, nodeids = _collect(argv)
    if code == 0 and nodeids:
        return Selection(nodeids)
    if code in (0, 5):
        return Selection(error="no timing benchmark selected (check -k, -m and --model)")
    stopped = [line.split("perf: timing benchmarks stopped: ", 1)[1] for line in stdout.splitlines()
               if "perf: timing benchmarks stopped: " in line]
    argparse_error = [line.split("error: ", 1)[1] for line in stderr.splitlines() if ": error: " in line]
    errors = argparse_error or [line.removeprefix("ERROR: ") for line in stderr.splitlines()
                                if line.startswith("ERROR: ")]
    lines = stopped or errors or (stderr or stdout).strip().splitlines()[-3:]
    return Selection(error=" ".join(lines) or f"pytest stopped (exit {code})")


class _Collected:
    """The plugin that takes the selected items' node ids, and a Ctrl-C or SIGTERM that pytest.main caught (it
    returns exit 2 for it, as for a collection error): raised again after it, as it would stop the command."""

    def __init__(self):
        self.nodeids: tuple[str, ...] = ()
        self.interrupt: BaseException | None = None

    def pytest_collection_finish(self, session):
        prefix = f"{SUITE.relative_to(ROOT).as_posix()}/"
        self.nodeids = tuple(item.nodeid for item in session.items if item.nodeid.startswith(prefix))

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupt = excinfo.value


def _collect(argv: list[str]) -> tuple[int, str, str, tuple[str, ...]]:
    """pytest.main(argv) in the checkout's root with its output and errors read back: the exit status, both texts
    and the node ids collected."""
    import contextlib
    import io

    import pytest

    collected = _Collected()
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = pytest.main(argv, plugins=[collected])
    finally:
        os.chdir(cwd)
    if collected.interrupt is not None:
        raise collected.interrupt
    return int(code), out.getvalue(), err.getvalue(), collected.nodeids
