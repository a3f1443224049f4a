"""CPU test configuration: Triton kernels run under the interpreter when no GPU is present; the tests run on two
pytest-xdist workers unless `-n` says otherwise."""

import os
import sys

import pytest

# Must be set before any Triton kernel is defined (kernels are imported by the test modules, after this file).
if os.environ.get("PERF_TESTS_ON_GPU") != "1":
    os.environ["TRITON_INTERPRET"] = "1"

from perf.measure.workers import usable_cores  # noqa: E402 - after the variable, as the kernels are

# Most of the tests' time is spent in suite processes they start and wait for (each imports torch and collects the
# suite): two workers keep both cores of the CI machine busy. Set here, not in pyproject.toml's addopts, because that
# file's pytest settings also hold for `pytest perf/` (users' runs and the runs these tests start). `-n 0` turns it off.
WORKERS = 2
# The variables xdist sets in its workers, inherited by every process a test starts: a suite run started by a test is
# no worker of this run.
XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Two workers when `-n` is not given (before xdist's own hook turns `-n` into workers); none under --pdb or
    --collect-only, without xdist, or on a machine with one core. Tests are handed out one at a time, longest first
    (pytest_collection_modifyitems), so that no long test is left to start last."""
    option = config.option
    if (hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist")
            or getattr(option, "numprocesses", 0) is not None or option.collectonly or option.usepdb
            or usable_cores() < WORKERS):
        return
    option.numprocesses = WORKERS
    if option.dist == "no":
        option.dist = "load"
    if option.maxschedchunk is None:
        option.maxschedchunk = 1


def pytest_collection_modifyitems(items):
    """The modules whose tests are marked `perf_expected_s(seconds)` (those that start suite processes: tens of
    seconds each) first, the longest in all first, each module's marked tests longest first; then the others in their
    order. A module's tests stay together, so that its module-scoped fixtures are made once per worker."""
    def expected_s(item) -> float:
        marker = item.get_closest_marker("perf_expected_s")
        return float(marker.args[0]) if marker is not None else 0.0

    module_s: dict = {}
    for item in items:
        module_s[item.path] = module_s.get(item.path, 0.0) + expected_s(item)
    items.sort(key=lambda item: (-module_s[item.path], -expected_s(item)))


@pytest.fixture(autouse=True)
def _no_xdist_worker_variables(monkeypatch):
    for name in XDIST_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _torch_threads_kept():
    """A suite run in this process (pytester.runpytest_inprocess) sets torch to one thread on the CPU device, as the
    suite does for its timings: the tests after it keep the thread count they had."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    if before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)
