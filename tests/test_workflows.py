"""The GitHub workflows are valid (schema check with check-jsonschema's vendored workflow schema) and do what
the README says: CPU tests on push, the GPU suite nightly over a matrix of GPU kinds, a refresh proposed as a PR,
A/B on pull requests labelled `perf`."""

import shutil
import subprocess
import sys
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
# A test dependency (pip install -e .[test]): beside this interpreter in a virtual environment that is not activated.
CHECK = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")


def lint(*paths: Path) -> subprocess.CompletedProcess:
    assert CHECK is not None, "check-jsonschema is not installed: pip install -e .[test]"
    return subprocess.run([CHECK, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_every_workflow_passes_the_schema():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"tests.yml", "nightly.yml", "refresh.yml", "pr.yml"}
    done = lint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  x:\n    steps: 3\n")
    assert lint(broken).returncode != 0


def test_nightly_runs_the_suite_per_gpu_kind_and_uploads():
    text = (WORKFLOWS / "nightly.yml").read_text()
    assert "self-hosted" in text and "matrix" in text and "pytest perf/ --gpu ${{ matrix.gpu }} -n auto" in text
    assert "--perf-report" in text and "upload-artifact" in text
    # the verdicts read the runner's own history: fetched before the suite runs, passed to it
    suite = text.split("\n  history:")[0]
    assert suite.index("gh run download") < suite.index("python3 -m pytest perf/")
    assert '--perf-history "${PERF_HISTORY_URL:-sqlite:///perf-history.db}"' in suite and ".[postgres]" in suite


def test_nightly_bisects_a_regression_from_the_last_green_night():
    text = (WORKFLOWS / "nightly.yml").read_text()
    step = text.split("- name: Bisect a regression", 1)[1].split("- name:", 1)[0].split("\n  history:", 1)[0]
    assert "if: failure() && steps.suite.outcome == 'failure'" in step and "id: suite" in text
    assert "gh run list --workflow nightly.yml" in step and "--status success" in step and "headSha" in step
    assert 'python3 -m perf bisect "$good" "$GITHUB_SHA" --from "$RESULTS" --gpu ${{ matrix.gpu }}' in step
    assert "RESULTS: results-${{ matrix.gpu }}.json" in step and "GH_TOKEN" in step
    assert "fetch-depth: 0" in text and "actions: read" in text  # the history, and the runs to look up


def test_refresh_is_manual_and_proposes_a_pull_request():
    text = (WORKFLOWS / "refresh.yml").read_text()
    assert "workflow_dispatch" in text and "python3 -m perf refresh --gpu" in text
    assert "create-pull-request" in text


def test_pr_runs_ab_on_labelled_pull_requests_and_uploads():
    text = (WORKFLOWS / "pr.yml").read_text()
    assert "pull_request" in text and "contains(github.event.pull_request.labels.*.name, 'perf')" in text
    assert "self-hosted" in text and 'python3 -m perf ab "$BASE"' in text and "fetch-depth: 0" in text
    assert "--perf-report" in text and "upload-artifact" in text
