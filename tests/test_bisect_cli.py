"""`python -m perf bisect` end to end on the CPU device, in a real git repository made from this project's files:
five commits after GOOD, one of which slows the qkv GEMM many times over (real work in the benchmark's closure)
and one, earlier, that fails to import; the culprit is found, the broken commit skipped, the worktrees gone.

The CPU machine is shared, so the threshold is wide (100%) and the slowdown large (about 20x); the 2-5% targets
are measured on a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from perf.commands.suite_process import checkout_pythonpath
from tests.git_repos import GIT, copy_checkout, edit, git

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(GIT is None, reason="git is needed to make the repository under test")

QKV = "gemm/pythia-70m:qkv:fp32:b1:s64:t1"
OUT_PROJ = "gemm/pythia-70m:out_proj:fp32:b1:s64:t1"
NODE = "perf/suite/test_gemm.py::test_gemm[{}]"
FAST = ["--rounds", "2", "--threshold", "100%", "--max-time", "0", "--perf-max-time", "0.1"]
MATMUL = "            torch.matmul(a, b, out=out)\n"
SLOWER = MATMUL + "            for _ in range(EXTRA if g.name == \"qkv\" else 0):\n    " + MATMUL
BROKEN = "import perf_kernels.no_such_module  # a commit that does not import\n"




def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """GOOD, then: notes; a broken import; its fix; qkv 20x slower (the culprit); more notes (BAD)."""
    repo = tmp_path_factory.mktemp("bisect") / "repo"
    repo.mkdir()
    copy_checkout(ROOT, repo)
    git(repo, "init", "-q")
    shas = {"good": commit(repo, "good")}
    notes, specs = repo / "NOTES.txt", repo / "perf" / "suite" / "gemm_specs.py"
    notes.write_text("first\n")
    shas["notes"] = commit(repo, "notes: first line")
    original = specs.read_text()
    specs.write_text(BROKEN + original)
    shas["broken"] = commit(repo, "gemm specs: import a module that is not there")
    specs.write_text(original)
    shas["fix"] = commit(repo, "gemm specs: the import fixed")
    edit(specs, MATMUL, SLOWER, count=1)
    edit(specs, "CPU_DTYPE = ", "EXTRA = 20  # qkv's closure does this many more matmuls\nCPU_DTYPE = ", count=1)
    shas["culprit"] = commit(repo, "gemm: qkv does twenty more matmuls")
    notes.write_text("first\nsecond\n")
    shas["bad"] = commit(repo, "notes: second line")
    return repo, shas


def bisect(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "perf", "bisect", *args], cwd=repo, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": checkout_pythonpath(repo), **(env or {})})


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def results_file(path: Path, regressed: list[str], passed: list[str]) -> Path:
    def record(key, verdict):
        return {"key": key, "family": "gemm", "summary": {"median_ms": 1.0}, "verdict": verdict,
                "nodeid": NODE.format(key.split("/", 1)[1])}
    path.write_text(json.dumps({"schema": "perf-results/1", "results": [
        *(record(k, "regression") for k in regressed), *(record(k, "pass") for k in passed)]}))
    return path


def test_the_culprit_is_found_the_broken_commit_skipped_and_the_worktrees_removed(repo, tmp_path):
    repo, shas = repo
    summary = tmp_path / "step-summary.md"
    nightly = results_file(tmp_path / "nightly.json", [QKV], [OUT_PROJ])
    done = bisect(repo, shas["good"], shas["bad"], "--from", str(nightly), *FAST,
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"culprit: {shas['culprit']} gemm: qkv does twenty more matmuls" in out
    steps = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"], ["4"])]
    marks = {row[1]: row for row in steps}
    # the middle of five is the broken commit: skipped; the later neighbour (the fix) is good; then the culprit
    assert [row[1] for row in steps] == [shas[k][:10] for k in ("broken", "fix", "culprit")], out
    assert "skip" in marks[shas["broken"][:10]] and "does not run" in out
    assert "good" in marks[shas["fix"][:10]] and "bad" in marks[shas["culprit"][:10]]
    assert f"benchmarks: {QKV}" in out and OUT_PROJ not in out  # the selection: the results file's regressions
    assert "errors during collection" in done.stderr  # the broken commit's own output says why it was skipped
    folders = [Path(line.rsplit("checked out in ", 1)[1]) for line in out.splitlines() if "checked out in" in line]
    assert len(folders) == 6 and not any(f.exists() for f in folders)  # GOOD and the commit, three steps
    assert len(worktrees(repo)) == 1
    step = summary.read_text()
    assert step.startswith("# Performance bisect") and f"culprit: {shas['culprit']}" in step
    assert "# Performance A/B" not in step  # the steps' own tables stay in the log


@pytest.mark.parametrize("args, message", [
    (["{good}"], "expected GOOD BAD first"),
    (["{bad}", "{good}"], "is not an ancestor of BAD"),
    (["{good}", "no-such-revision"], "unknown revision 'no-such-revision'"),
    (["{good}", "{bad}", "--from", "{none}"], "no benchmark has verdict 'regression'"),
    (["{good}", "{bad}", "--threshold", "two"], "--threshold: expected a fraction"),
    (["{good}", "{bad}", "--max-time", "soon"], "--max-time: expected a duration"),
    (["{good}", "{bad}", "--perf-json", "x.json"], "--perf-json: not an option of bisect"),
])
def test_bad_input_exits_2_with_one_line(repo, tmp_path, args, message):
    repo, shas = repo
    none = results_file(tmp_path / "green.json", [], [QKV])
    done = bisect(repo, *(a.format(none=none, **shas) for a in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert len(worktrees(repo)) == 1


def test_a_logged_bisect_goes_on_where_it_stopped_and_logs_the_new_step(repo, tmp_path):
    """The log of a bisect interrupted after two steps (the broken commit skipped, the fix good): the next run takes
    them as measured and measures only the culprit."""
    repo, shas = repo
    options = [*FAST, "-k", "test_gemm and s64 and qkv"]
    log = tmp_path / "bisect.jsonl"
    earlier = [{"good": shas["good"], "options": options, "commit": shas["broken"], "mark": "skip",
                "why": "does not run: stopped"},
               {"good": shas["good"], "options": options, "commit": shas["fix"], "mark": "good",
                "why": "no regression (1 benchmarks)"},
               {"good": shas["notes"], "options": options, "commit": shas["culprit"], "mark": "good",
                "why": "another GOOD: not this bisect's"}]
    log.write_text("".join(json.dumps(step) + "\n" for step in earlier))
    done = bisect(repo, shas["good"], shas["bad"], *options, "--log", str(log))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "2 steps of this bisect already measured" in out
    assert f"{shas['broken'][:10]} is skip: does not run: stopped (from the log)" in out
    assert f"{shas['fix'][:10]} is good: no regression (1 benchmarks) (from the log)" in out
    assert f"culprit: {shas['culprit']} gemm: qkv does twenty more matmuls" in out
    folders = [line for line in out.splitlines() if "checked out in" in line]
    assert len(folders) == 2  # one step measured: GOOD and the culprit
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[:3] == earlier and len(lines) == 4  # the earlier lines kept, the new step appended
    assert lines[3]["commit"] == shas["culprit"] and lines[3]["mark"] == "bad" and lines[3]["good"] == shas["good"]
    assert lines[3]["options"] == options and lines[3]["change"] > 1.0


@pytest.mark.parametrize("text, message", [
    ("not json\n", "line 1: not a JSON object"),
    ('{"good": "x", "options": [], "commit": "y", "mark": "maybe", "why": ""}\n', "line 1: mark: expected good, bad or skip"),
    ('\n[1, 2]\n', "line 2: expected a JSON object, got list"),
    ('{"good": "x", "options": "-k qkv", "commit": "y", "mark": "good", "why": ""}\n', "line 1: options: expected a list"),
])
def test_a_log_that_cannot_be_read_is_one_line_and_left_as_it_was(repo, tmp_path, text, message):
    repo, shas = repo
    log = tmp_path / "bisect.jsonl"
    log.write_text(text)
    done = bisect(repo, shas["good"], shas["bad"], *FAST, "--log", str(log))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"perf bisect: error: --log {log}: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert log.read_text() == text and len(worktrees(repo)) == 1
