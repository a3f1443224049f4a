"""Throwaway git repositories for the A/B and bisect tests: git with a fixed author, and edits that must apply."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GIT = shutil.which("git")
GIT_ENV = {"GIT_AUTHOR_NAME": "perf", "GIT_AUTHOR_EMAIL": "perf@example.com", "GIT_COMMITTER_NAME": "perf",
           "GIT_COMMITTER_EMAIL": "perf@example.com"}


def copy_checkout(root: Path, repo: Path) -> None:
    """The code of the checkout at `root` (perf/, kernels/, conftest.py, pyproject.toml) copied into `repo`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("perf", "kernels"):
        shutil.copytree(root / name, repo / name, ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(root / name, repo / name)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([GIT, "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout


def edit(path: Path, old: str, new: str, count: int = -1) -> None:
    """Replace `old` (which must be there) by `new`: every occurrence, or the first `count`."""
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, count))
