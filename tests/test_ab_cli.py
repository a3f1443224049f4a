"""`python -m perf ab` end to end on the CPU device, in a real git repository made from this project's files: two
commits, BASE checked out into a temporary worktree that is gone afterwards (also after Ctrl-C or SIGTERM).

The CPU machine is shared: a whole process of one side can run 1.7x slower than the other side's under a load
spike, so the threshold is wide (100%) and the injected slowdown large (5x); the 2% targets are measured on a
GPU (docs/ab.md)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from perf.commands.suite_process import checkout_pythonpath
from tests.git_repos import GIT, copy_checkout, edit, git

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(GIT is None, reason="git is needed to make the repository under test")

QKV = "gemm/pythia-70m:qkv:fp32:b1:s64:t1"
OUT_PROJ = "gemm/pythia-70m:out_proj:fp32:b1:s64:t1"
AB_ROUND_LINE = re.compile(r"perf ab: round (\d+)/4 (BASE|HEAD)")  # a finished round, one side
FAST = ["--perf-max-time", "0.2", "--threshold", "100%"]
S64 = ["-k", "test_gemm and s64 and (qkv or out_proj)"]
WORKLOADS = 'CPU_WORKLOADS = (Workload("pythia-70m", b=1, s=64),)'
CRASH = f'''
def test_gemm(perf_spec, perf_measure):
    if perf_spec.key == "{OUT_PROJ}":
        import os
        os._exit(70)  # a crash of this revision on one benchmark
    perf_measure(perf_spec)
'''




@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """Two commits: BASE measures s=64 and s=48 and crashes on out_proj at s=64; HEAD measures s=64 and s=32."""
    repo = tmp_path_factory.mktemp("ab") / "repo"
    repo.mkdir()
    copy_checkout(ROOT, repo)
    specs, test = repo / "perf" / "suite" / "gemm_specs.py", repo / "perf" / "suite" / "test_gemm.py"
    original_test = test.read_text()
    edit(specs, WORKLOADS, WORKLOADS.replace(",)", ', Workload("pythia-70m", b=1, s=48))'))
    test.write_text(original_test.split("def test_gemm")[0] + CRASH)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    edit(specs, 'Workload("pythia-70m", b=1, s=48)', 'Workload("pythia-70m", b=1, s=32)')
    test.write_text(original_test)
    git(repo, "commit", "-qam", "head")
    return repo


def ab(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perf", "ab", *args], cwd=repo, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": checkout_pythonpath(repo), **(env or {})})


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def checked_out_folder(stdout: str) -> Path:
    line = next(line for line in stdout.splitlines() if "checked out in" in line)
    return Path(line.rsplit("checked out in ", 1)[1])


@pytest.mark.perf_expected_s(20)
def test_head_against_itself_passes_a_slowed_benchmark_fails_and_every_output_is_written(repo, tmp_path):
    """The working tree against its own commit: out_proj is unchanged, qkv slowed 5x on HEAD only."""
    summary = tmp_path / "step-summary.md"
    out, report = tmp_path / "ab.json", tmp_path / "report"
    # Two rounds of the host timer on a shared 2-core machine: a disturbed moment once read the untouched out_proj
    # +60% (interval +22% to +111%) in a full test run. Up to two more experiments then; an A/B that is broken (a
    # false alarm, or a slowdown missed) fails all three.
    for _ in range(3):
        done = ab(repo, "HEAD", "--rounds", "2", *FAST, *S64, "--perf-inject-slowdown", "*:qkv:*=4.0",
                  "--perf-json", str(out), "--perf-report", str(report), env={"GITHUB_STEP_SUMMARY": str(summary)})
        if f"regression: {QKV}:" in done.stdout and f"regression: {OUT_PROJ}" not in done.stdout:
            break
    assert done.returncode == 1, done.stdout + done.stderr
    assert "HEAD the working tree" in done.stdout and "no changes to tracked files" in done.stdout
    assert "order ABBA" in done.stdout and "expect every verdict to come out unreliable" in done.stderr  # the CPU
    rounds = [line for line in done.stdout.splitlines() if re.match(r"perf ab: round \d+/2 (BASE|HEAD):", line)]
    assert len(rounds) == 4 and all(re.search(r"\(start [\d.]+ s, setup [\d.]+ s, benchmarks [\d.]+ s\)$", line)
                                    for line in rounds), rounds  # where each side's process spent its time
    assert f"regression: {QKV}:" in done.stdout and f"regression: {OUT_PROJ}" not in done.stdout
    assert not checked_out_folder(done.stdout).exists() and len(worktrees(repo)) == 1
    data = json.loads(out.read_text())
    assert data["schema"] == "perf-results/1" and data["ab"]["rounds_done"] == 2
    for side in ("base_rounds", "head_rounds"):
        assert [sorted(r) for r in data["ab"][side]] == [[OUT_PROJ, QKV]] * 2
    assert all("injected" in r[QKV] for r in data["ab"]["head_rounds"])  # HEAD only
    assert not any("injected" in r[QKV] for r in data["ab"]["base_rounds"])
    compared = {b["key"]: b for b in data["ab"]["benchmarks"]}
    for b in compared.values():
        assert len(b["base_ms"]) == len(b["head_ms"]) == 2 and b["low"] <= b["change"] <= b["high"]
    assert compared[QKV]["verdict"] == "regression" and compared[QKV]["low"] > 1.0
    assert compared[OUT_PROJ]["verdict"] in ("pass", "unreliable")
    for record in data["results"]:  # BASE as the report's baseline
        assert record["baseline"]["median_ms"] > 0 and record["ab"]["key"] == record["key"]
    for name in ("summary.md", "index.html", "results.csv", "baseline_vs_now.png", "ab.md"):
        assert (report / name).exists() and f"wrote {report / name}" in done.stdout
    assert f"wrote {out}" in done.stdout
    step = summary.read_text()
    assert step.startswith("# Performance A/B") and "## Not passing" in step and QKV in step


@pytest.mark.perf_expected_s(17)
def test_added_removed_and_a_base_that_crashes_on_one_benchmark(repo, tmp_path):
    out = tmp_path / "ab.json"
    done = ab(repo, "HEAD~1", "HEAD", "--rounds", "2", *FAST, "-k", "test_gemm and (qkv or out_proj)",
              "--perf-json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())["ab"]
    assert data["added"] == sorted(k.replace("s64", "s32") for k in (OUT_PROJ, QKV))
    assert data["removed"] == sorted(k.replace("s64", "s48") for k in (OUT_PROJ, QKV))
    assert [b["key"] for b in data["benchmarks"]] == [QKV]
    base_commit = git(repo, "rev-parse", "HEAD~1").strip()[:10]
    crash = [e for e in data["errors"] if "crashed" in e]
    assert len(crash) == 1 and f"BASE HEAD~1 ({base_commit})" in crash[0]
    assert "test_gemm[pythia-70m:out_proj:fp32:b1:s64:t1]" in crash[0]
    assert "error: BASE HEAD~1" in done.stdout and "added in HEAD (2, not compared)" in done.stdout
    assert done.stdout.count("checked out in") == 2
    assert all(OUT_PROJ in r for r in data["head_rounds"])  # HEAD's results kept
    assert len(worktrees(repo)) == 1


@pytest.mark.parametrize("args, message", [
    (["no-such-revision"], "unknown revision 'no-such-revision'"),
    (["HEAD", "--threshold", "two"], "--threshold: expected a fraction such as 0.05 or a percentage"),
    (["HEAD", "--rounds", "1"], "--rounds: expected at least 2 rounds"),
    ([], "expected BASE [HEAD] first"),
])
def test_bad_input_exits_2_with_one_line(repo, args, message):
    done = ab(repo, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert len(worktrees(repo)) == 1


def test_not_a_git_checkout_exits_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "perf", "ab", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": checkout_pythonpath(ROOT), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert done.returncode == 2 and "not a git checkout" in done.stderr


def started_ab(repo: Path) -> tuple[subprocess.Popen, Path]:
    """`perf ab HEAD~1` started in the background, once it has checked BASE out: the process and BASE's worktree."""
    process = subprocess.Popen([sys.executable, "-m", "perf", "ab", "HEAD~1", "--rounds", "2", *FAST, *S64],
                               cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": checkout_pythonpath(repo)})
    first = process.stdout.readline()
    assert "checked out in" in first, first + process.stderr.read()
    return process, checked_out_folder(first)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_removes_its_worktree(repo, sig):
    process, folder = started_ab(repo)
    assert folder.exists() and len(worktrees(repo)) == 2
    time.sleep(2)  # the first side's pytest process is running
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted; the temporary worktrees were removed" in stderr
    assert not folder.exists() and not folder.parent.exists()
    assert len(worktrees(repo)) == 1


def test_a_run_killed_outright_leaves_its_worktree_to_the_next_run_which_removes_it(repo):
    process, folder = started_ab(repo)
    process.kill()  # SIGKILL: no handler runs, the worktree stays
    process.communicate(timeout=60)
    assert folder.exists() and len(worktrees(repo)) == 2
    assert folder.parent.name.startswith(f"perf-ab-{process.pid}-")
    done = ab(repo, "HEAD", "--rounds", "2", *FAST, "-k", "no-such-benchmark")  # measures nothing: exit 2
    assert done.returncode == 2, done.stdout + done.stderr
    assert "round 1/2 HEAD: 0 benchmarks" in done.stdout and "round 2/2" not in done.stdout  # one round showed it
    assert not folder.parent.exists() and len(worktrees(repo)) == 1


@pytest.mark.perf_expected_s(11)
def test_interrupted_after_a_whole_round_the_comparison_of_the_rounds_done_is_written(repo, tmp_path):
    out = tmp_path / "ab.json"
    process = subprocess.Popen([sys.executable, "-m", "perf", "ab", "HEAD~1", "--rounds", "4", *FAST, *S64,
                                "--perf-json", str(out)], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": checkout_pythonpath(repo)})
    seen, rounds = [], []
    for line in process.stdout:  # the first round runs BASE then HEAD (ABBA...): interrupt once both are in
        seen.append(line)
        finished = AB_ROUND_LINE.match(line)
        if finished:
            rounds.append((int(finished[1]), finished[2]))
            if rounds[-1] == (1, "HEAD") or rounds[-1][0] == 2:
                break
    assert (1, "HEAD") in rounds, "".join(seen) + process.stderr.read()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted after 1 of 4 rounds" in stderr or "interrupted after 2 of 4 rounds" in stderr, stderr
    doc = json.loads(out.read_text())
    assert doc["ab"]["rounds"] == 4 and doc["ab"]["rounds_done"] in (1, 2)
    assert len(worktrees(repo)) == 1
