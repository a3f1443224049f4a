"""The README test: the commands of README.md's "First steps on a machine without a GPU" block run in the order
given, on the CPU device, in a copy of the checkout (with its own cache folder, so no baseline of this machine is
touched), and each does what the README says it does."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from perf.commands.suite_process import checkout_pythonpath

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- readme-cpu-commands:"


def readme_cpu_commands(text: str) -> list[str]:
    """The lines of the first code block after the marker comment."""
    after = text.split(MARKER, 1)[1]
    block = after.split("```", 2)[1]
    return [line.strip() for line in block.splitlines()[1:] if line.strip()]


def argv(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    if words[0] == "pytest":
        return [sys.executable, "-m", "pytest", *words[1:]]
    assert words[0] in ("python", "python3"), f"README command starts with neither pytest nor python: {command}"
    return [sys.executable, *words[1:]]


def test_readme_block_is_found_and_runs_on_the_cpu():
    commands = readme_cpu_commands((ROOT / "README.md").read_text())
    assert len(commands) >= 5 and commands[0].startswith("pytest perf/")
    assert any(c.startswith("python -m perf refresh") for c in commands)


@pytest.mark.perf_expected_s(45)
@pytest.mark.readme
def test_readme_cpu_commands_run_in_order(tmp_path):
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("perf", "kernels"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    env = {**os.environ, "PYTHONPATH": checkout_pythonpath(copy), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    outputs = []
    for command in readme_cpu_commands((copy / "README.md").read_text()):
        done = subprocess.run(argv(command), cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        out = done.stdout + done.stderr
        outputs.append(out)
        regressed = done.returncode == 1 and "regression" in out and command.startswith("pytest")  # a verdict
        assert done.returncode == 0 or regressed, f"README command failed (exit {done.returncode}): {command}\n{out}"
        assert "Traceback" not in out, f"{command}\n{out}"

    first, refresh, verdicts, compared, decode = outputs[:5]
    selection = "--model pythia-70m -k 'decode and (m1 or L64)'"
    assert "7 new" in first and f"    python -m perf refresh {selection}" in first  # the line to run next
    assert "perf: wrote results (7 benchmarks) to first-steps/first.json" in first
    assert "perf: refreshed 7 entries" in refresh and (tmp_path / "cache/perf-suite/baselines/cpu.json").is_file()
    assert " new" not in verdicts.split("verdicts:", 1)[1].splitlines()[0]  # compared with the refreshed baseline
    assert "perf: wrote results (7 benchmarks) to first-steps/run.json" in verdicts
    assert "perf: wrote report (" in verdicts
    steps = copy / "first-steps"
    assert (steps / "report" / "index.html").is_file() and (steps / "cmp" / "index.html").is_file()
    assert "7 matched" in compared
    assert (steps / "decode.png").stat().st_size > 0 and "pythia-70m" in decode
    # .pytest_cache is pytest's, __pycache__ Python's (where bytecode is written: PYTHONDONTWRITEBYTECODE unset)
    beside = sorted(p.name for p in copy.iterdir() if not p.name.startswith(".") and p.name != "__pycache__")
    assert beside == ["README.md", "conftest.py", "first-steps", "kernels", "perf", "pyproject.toml"], beside
