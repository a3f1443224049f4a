"""The lock on a baseline file: every writer (`pytest perf/ --perf-refresh`, `python -m perf refresh`, its
checkpoints, `--from-results`) holds it for its read-merge-write only, so that two refreshes at once never lose
each other's entries: the second waits, says so, then reads the file the first wrote and merges into it.

The lock is a file beside the baseline, `.<GPU>.json.lock` (the `filelock` package; an OS lock that a killed
process releases)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Callable, Iterator

import filelock

WAIT_S = 900.0  # a second writer waits this long for the first's read-merge-write (a few seconds in practice)


class LockTimeout(RuntimeError):
    """Another writer held the lock longer than WAIT_S."""


def lock_path(path: Path) -> Path:
    return Path(path).parent / f".{Path(path).name}.lock"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def locked(path: Path, *, wait_s: float = WAIT_S, say: Callable[[str], None] = _say) -> Iterator[None]:
    """Hold the lock of baseline file `path`; when another writer holds it, say so and wait up to `wait_s`."""
    lock = filelock.FileLock(str(lock_path(path)))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        say(f"perf: {path}: another refresh is writing this baseline file; waiting for it (up to {wait_s:.0f} s), "
            f"then merging into what it wrote")
        try:
            lock.acquire(timeout=wait_s)
        except filelock.Timeout:
            raise LockTimeout(f"{path}: another refresh held its lock ({lock_path(path)}) for {wait_s:.0f} s; "
                              f"nothing was written") from None
    try:
        yield
    finally:
        lock.release()
