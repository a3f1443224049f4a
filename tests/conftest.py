"""CPU test configuration: Triton kernels run under the interpreter when no GPU is present; the tests run in one
process unless PERF_TEST_WORKERS (or `-n`) asks for pytest-xdist workers."""

import os
import signal
import sys

import pytest

# A test run started in the background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and so
# does every process it starts: the tests of what Ctrl-C does would then see it ignored (a refresh or `perf ab` that
# exits 0). The test process takes Python's own handler, and the processes it starts get the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Must be set before any Triton kernel is defined (kernels are imported by the test modules, after this file).
if os.environ.get("PERF_TESTS_ON_GPU") != "1":
    os.environ["TRITON_INTERPRET"] = "1"

from perf.measure.workers import usable_cores  # noqa: E402 - after the variable, as the kernels are

# Many tests time benchmarks on the CPU device and decide verdicts from those timings: they need the cores to
# themselves. On the 2-core CI machine two workers made three of them fail (a loaded CPU reads +88% for +200%), so
# the tests run in one process unless PERF_TEST_WORKERS asks for more (a machine with cores to spare: four or more
# cores for two workers). Set here, not in pyproject.toml's addopts, because that file's pytest settings also hold
# for `pytest perf/` (users' runs and the runs these tests start). `-n N` on the command line wins.
WORKERS = int(os.environ.get("PERF_TEST_WORKERS") or 1)
# The variables xdist sets in its workers, inherited by every process a test starts: a suite run started by a test is
# no worker of this run.
XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """PERF_TEST_WORKERS workers when `-n` is not given (before xdist's own hook turns `-n` into workers); none under
    --pdb or --collect-only, without xdist, or on a machine with fewer than two cores a worker. Tests are handed out one at a time, longest first
    (pytest_collection_modifyitems), so that no long test is left to start last."""
    option = config.option
    if (hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist")
            or getattr(option, "numprocesses", 0) is not None or option.collectonly or option.usepdb
            or WORKERS < 2 or usable_cores() < 2 * WORKERS):
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
