"""The project as a wheel, installed into a new virtual environment (no system site-packages) and used from a folder
outside the checkout: every data file the code reads is in the package (models, GPU specs, claims), the kernels
import as `perf_kernels` beside Hugging Face's `kernels`, and the suite's rule checks run from the installed copy.

The dependencies come from this test run's own environment through a .pth file: installing torch and triton again
would take minutes. `.ci/run` is the test of the README's install lines themselves, in a brand-new environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a new venv holding the wheel built from this checkout."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "checkout"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("perf", "kernels"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(base / "wheel"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    venv.create(base / "venv", with_pip=True, system_site_packages=False)
    python = base / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "test-dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    (wheel,) = (base / "wheel").glob("perf_suite-*.whl")
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
                           str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (base / "elsewhere").mkdir()
    return python


def run(python: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed copy, not a checkout
    return subprocess.run([str(python), *args], cwd=python.parents[2] / "elsewhere", capture_output=True, text=True,
                          timeout=300, env=env)


def test_the_wheel_holds_the_packages_and_their_data(installed):
    done = run(installed, "-c", "import perf, perf_kernels, perf.shape, pathlib; "
                                "print(perf.__file__); print(perf_kernels.__file__); "
                                "root = pathlib.Path(perf.__file__).parent; "
                                "print(sorted(str(p.relative_to(root)) for p in root.rglob('*.toml')))")
    assert done.returncode == 0, done.stderr
    perf_file, kernels_file, tomls = done.stdout.splitlines()
    venv_root = installed.parents[1]
    assert Path(perf_file).is_relative_to(venv_root) and Path(kernels_file).is_relative_to(venv_root)
    assert "gpus.toml" in tomls and "shape/claims.toml" in tomls and "shape/models/llama.toml" in tomls


def test_hugging_faces_kernels_is_not_shadowed_by_the_installed_project(installed):
    if run(installed, "-c", "import kernels").returncode != 0:
        pytest.fail("Hugging Face's `kernels` is not importable: the test extra (transformers 5) brings it")
    done = run(installed, "-c", "import kernels, perf_kernels; print(kernels.__file__); print(perf_kernels.matmul)")
    assert done.returncode == 0, done.stderr
    hf, ours = done.stdout.splitlines()
    assert "perf_kernels" not in hf and "site-packages/kernels/" in hf
    assert ours.startswith("<function matmul")


def test_commands_and_the_rule_checks_run_from_the_installed_copy(installed):
    lint = run(installed, "-m", "perf", "lint", "pythia-70m", "--gpu", "H100")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "perf/shape/models/pythia.toml" in lint.stdout and "0 error(s)" in lint.stdout
    rules = run(installed, "-m", "pytest", "--pyargs", "perf.suite", "-p", "perf.plugin", "-p", "no:cacheprovider",
                "-m", "shape_rules", "--gpu", "H100", "-q")
    assert rules.returncode in (0, 1), rules.stdout + rules.stderr  # 1: a registered model breaks a rule
    assert "error" not in rules.stdout.splitlines()[-1] and " passed" in rules.stdout.splitlines()[-1], rules.stdout
