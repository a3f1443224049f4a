"""What `perf ab` says of the working tree it measures: uncommitted changes to tracked files, or only untracked
files (which are measured as they are, but are no change to what git tracks)."""

from pathlib import Path

import pytest

from perf.commands import worktree
from perf.report.ab import Revision
from tests.git_repos import GIT, git

pytestmark = pytest.mark.skipif(GIT is None, reason="git is needed to make the repository under test")


@pytest.fixture
def repo(tmp_path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    return tmp_path


def test_untracked_files_alone_are_not_uncommitted_changes(repo):
    assert worktree.changes(repo) == (False, 0)
    (repo / "notes.txt").write_text("n\n")
    (repo / "run.log").write_text("ignored\n")
    assert worktree.changes(repo) == (False, 1)
    (repo / "a.py").write_text("x = 2\n")
    assert worktree.changes(repo) == (True, 1)


def test_the_label_says_which():
    commit = "0123456789abcdef" * 2
    assert Revision("working tree", commit, working_tree=True).label() == (
        "the working tree (0123456789, no changes to tracked files)")
    assert Revision("working tree", commit, working_tree=True, untracked=2).label() == (
        "the working tree (0123456789, no changes to tracked files; 2 untracked files)")
    assert Revision("working tree", commit, working_tree=True, changed=True, untracked=1).label() == (
        "the working tree (0123456789 + uncommitted changes; 1 untracked file)")
    assert Revision("HEAD~1", commit).label() == "HEAD~1 (0123456789)"
