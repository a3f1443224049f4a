"""Git revisions for `python -m perf ab`: the checkout's top folder, revisions resolved to commits, the working
tree's state, and a commit checked out into a temporary `git worktree` that is removed afterwards (also when the
run is interrupted)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import Iterator


class GitError(RuntimeError):
    """A git question with no usable answer (not a checkout, an unknown revision): a one-line message."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise GitError("git is not installed (it is needed to check out the revisions)") from None


def toplevel(folder: Path) -> Path:
    """The top folder of the git checkout that holds `folder`."""
    done = _git(folder, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise GitError(f"{folder}: not a git checkout (perf ab compares git revisions)")
    return Path(done.stdout.strip())


def resolve(root: Path, revision: str) -> str:
    """The full commit id a revision names."""
    if not revision or revision.startswith("-"):
        raise GitError(f"unknown revision {revision!r}: expected a commit, branch or tag")
    done = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}")
    if done.returncode != 0:
        raise GitError(f"unknown revision {revision!r} in {root}: expected a commit, branch or tag")
    return done.stdout.strip()


def unmerged(root: Path) -> list[str]:
    """Paths with unresolved merge conflicts: a working tree in that state is no revision that can be measured."""
    done = _git(root, "diff", "--name-only", "--diff-filter=U")
    return [line for line in done.stdout.splitlines() if line.strip()]


def changes(root: Path) -> tuple[bool, int]:
    """Whether tracked files have uncommitted changes, and how many untracked files (not ignored) there are."""
    lines = [line for line in _git(root, "status", "--porcelain").stdout.splitlines() if line.strip()]
    untracked = sum(1 for line in lines if line.startswith("??"))
    return len(lines) > untracked, untracked


def short(commit: str) -> str:
    return commit[:10]


@contextlib.contextmanager
def checkout(root: Path, commit: str, where: Path) -> Iterator[Path]:
    """The commit checked out (detached) at `where`; the worktree is removed and pruned on the way out, whatever
    ends the block (an error, Ctrl-C)."""
    done = _git(root, "worktree", "add", "--detach", "--quiet", str(where), commit)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise GitError(f"could not check out {short(commit)} into {where}: {message}")
    try:
        yield where
    finally:
        remove(root, where)


def remove(root: Path, where: Path) -> None:
    """Remove a worktree made by `checkout` (its folder and git's record of it)."""
    _git(root, "worktree", "remove", "--force", str(where))
    if where.exists():
        shutil.rmtree(where, ignore_errors=True)
    prune(root)


def prune(root: Path) -> None:
    """Forget the worktrees whose folders are gone."""
    _git(root, "worktree", "prune")


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    """Whether commit `older` is an ancestor of (or the same as) commit `newer`."""
    return _git(root, "merge-base", "--is-ancestor", older, newer).returncode == 0


def first_parent_commits(root: Path, good: str, bad: str) -> list[str]:
    """The commits after `good` up to `bad` along bad's first parents, oldest first (bad last):
    `git rev-list --first-parent --reverse good..bad`."""
    done = _git(root, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}")
    if done.returncode != 0:
        raise GitError(f"git rev-list {short(good)}..{short(bad)} failed: {done.stderr.strip()}")
    return done.stdout.split()


def subject(root: Path, commit: str) -> str:
    """The first line of a commit's message."""
    return _git(root, "log", "-1", "--format=%s", commit).stdout.strip()
