"""CPU test configuration: Triton kernels run under the interpreter when no GPU is present; the tests run on two
pytest-xdist workers unless `-n` says otherwise."""

import os

import pytest

# Must be set before any Triton kernel is defined (kernels are imported by the test modules, after this file).
if os.environ.get("PERF_TESTS_ON_GPU") != "1":
    os.environ["TRITON_INTERPRET"] = "1"

# Most of the tests' time is spent in suite processes they start and wait for (each imports torch and collects the
# suite): two workers keep both cores of the CI machine busy. Set here, not in pyproject.toml's addopts, because that
# file's pytest settings also hold for `pytest perf/` (users' runs and the runs these tests start). `-n 0` turns it off.
WORKERS = 2
# The variables xdist sets in its workers, inherited by every process a test starts: a suite run started by a test is
# no worker of this run.
XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Two workers when `-n` is not given (before xdist's own hook turns `-n` into workers), grouping the tests marked
    `xdist_group` (those sharing a module's fixture) on one worker; none under --pdb, --collect-only or without xdist."""
    option = config.option
    if (hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist")
            or getattr(option, "numprocesses", 0) is not None or option.collectonly or option.usepdb):
        return
    option.numprocesses = WORKERS
    if option.dist == "no":
        option.dist = "loadgroup"


@pytest.fixture(autouse=True)
def _no_xdist_worker_variables(monkeypatch):
    for name in XDIST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
