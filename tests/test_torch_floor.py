"""The torch floor (2.5): pyproject states it, and importing the kernels or starting the suite with an older torch
fails at once with one line naming the version found and the one needed."""

import importlib
import tomllib
from pathlib import Path

import pytest

import perf_kernels
from perf_kernels import torch_floor

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_states_the_floor_the_code_needs():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_dep,) = [d for d in deps if d.split(">")[0].split("=")[0].strip() == "torch"]
    assert torch_dep.replace(" ", "") == "torch>=" + ".".join(map(str, torch_floor.TORCH_FLOOR))
    assert torch_floor.TORCH_FLOOR == (2, 5)


@pytest.mark.parametrize("version", ["2.1.2", "2.4.1+cu121", "1.13.0"])
def test_an_older_torch_is_refused_on_import_of_the_kernels(monkeypatch, version):
    monkeypatch.setattr(torch_floor, "installed_version", lambda: version)
    with pytest.raises(ImportError, match=rf"torch {version.replace('+', '[+]')} is too old; this project needs "
                                          r"torch>=2\.5 for torch\.nn\.functional\.rms_norm \(2\.4\) and "
                                          r"scaled_dot_product_attention\(enable_gqa=True\) \(2\.5\): pip install"):
        importlib.reload(perf_kernels)


def test_no_torch_at_all_says_so(monkeypatch):
    monkeypatch.setattr(torch_floor, "installed_version", lambda: None)
    with pytest.raises(ImportError, match=r"torch is not installed; this project needs torch>=2\.5"):
        torch_floor.require_torch()


@pytest.mark.parametrize("version", ["2.5.0", "2.5.1+cu124", "2.11.0", "2.13.0+cpu", "3.0.0a0+git1234"])
def test_the_floor_and_newer_pass(monkeypatch, version):
    monkeypatch.setattr(torch_floor, "installed_version", lambda: version)
    torch_floor.require_torch()
    importlib.reload(perf_kernels)


def test_the_suite_refuses_an_older_torch_in_one_line(pytester, monkeypatch):
    monkeypatch.setattr(torch_floor, "installed_version", lambda: "2.3.0")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "perf.plugin")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: torch 2.3.0 is too old; this project needs torch>=2.5 for *"])
