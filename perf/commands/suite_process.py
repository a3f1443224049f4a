"""One run of the timing suite in a pytest process of its own, writing a results file: what `refresh` (N
independent runs), `detect` (a run with slowdowns injected) and `ab` (rounds of two checkouts) are built from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from perf.verdict import results

SUITE = Path(__file__).parent.parent / "suite"
ROOT = SUITE.parent.parent


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
        env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    if log is None:
        code = subprocess.run(command, cwd=root, env=env).returncode
    else:
        env["PYTHONUNBUFFERED"] = "1"  # a crash must not swallow the line naming the benchmark it crashed on
        with open(log, "w") as sink:
            code = subprocess.run(command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT).returncode
    return code, (results.read(out) if out.exists() else None)
