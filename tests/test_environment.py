"""The commit recorded with a run: HEAD of a real git checkout ("-dirty" when tracked files changed), or
$PERF_COMMIT for a copy of the tree that is not a checkout."""

import subprocess

from perf.measure import environment


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_head_of_a_checkout_and_dirty_when_a_tracked_file_changed(tmp_path, monkeypatch):
    monkeypatch.delenv("PERF_COMMIT", raising=False)
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert environment._git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n")
    assert environment._git_commit(tmp_path) == head + "-dirty"


def test_perf_commit_names_the_commit_of_a_copy_that_is_no_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("PERF_COMMIT", raising=False)
    assert environment._git_commit(tmp_path) is None
    monkeypatch.setenv("PERF_COMMIT", " 9a40625f ")
    assert environment._git_commit(tmp_path) == "9a40625f"
