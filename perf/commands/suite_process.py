"""One run of the timing suite in a pytest process of its own, writing a results file: what `refresh` (N
independent runs) and `detect` (a run with slowdowns injected) are built from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Sequence

from perf.verdict import results

SUITE = Path(__file__).parent.parent / "suite"
ROOT = SUITE.parent.parent


def run_suite(out: Path, args: Sequence[str], nodeids: Sequence[str] = ()) -> tuple[int, dict | None]:
    """Run the timing benchmarks (all of the suite, or the nodeids given) with `args`; the exit status and the
    results file it wrote (None when it wrote none)."""
    command = [sys.executable, "-m", "pytest", *(nodeids or [str(SUITE)]), "-p", "perf.plugin", "-p",
               "no:cacheprovider", "-m", "timing", "-q", "--perf-json", str(out), *args]
    code = subprocess.run(command, cwd=ROOT).returncode
    return code, (results.read(out) if out.exists() else None)
