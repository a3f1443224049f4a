"""CPU test configuration: Triton kernels run under the interpreter when no GPU is present; the tests run on two
pytest-xdist workers unless PERF_TEST_WORKERS or `-n` says otherwise."""

import importlib
import os
import signal
import sys
from pathlib import Path

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

# Imported before any test, for two reasons. pytester's in-process runs (runpytest_inprocess) take sys.modules back
# to what it held before them, so a module first imported inside one is imported again by the next test that uses
# it: numpy's and scipy's extension modules refuse a second load ("cannot load module more than once per process"),
# and matplotlib's classes would exist twice (its own isinstance checks then fail). Which test imports them first
# depends on the order, which workers change. And the suite and the commands import them on first use (a run with
# --perf-history: sqlalchemy, pandas, ruptures and scipy; a report: matplotlib's Agg figures), at 0.3-1.1 s a
# process: tests/forked.py's children start with them imported. An extra that is not installed is left out (its
# tests skip). Not in the xdist controller, which runs no test.
IMPORTED_FIRST = ("numpy.fft", "scipy.optimize", "ruptures", "sqlalchemy", "pandas", "matplotlib.figure",
                  "matplotlib.backends.backend_agg", "matplotlib.ticker")

# Most of the tests' time is spent in processes they start and wait for (suite runs, `perf` commands, git), one core
# busy at a time: two pytest-xdist workers keep both cores of the 2-core CI machine busy. Tests are handed out one at
# a time, longest first, except that the tests sharing a costly fixture run on one worker, which makes it once: a
# module's own fixtures (a measured baseline, a git repository, an installed copy), the PostgreSQL server, the
# browser (pytest_collection_modifyitems, --dist loadgroup; --no-loadscope-reorder keeps the longest first).
# PERF_TEST_WORKERS sets the count (1: one process); `-n N` on the command line wins. Set here, not in
# pyproject.toml's addopts, because that file's pytest settings also hold for `pytest perf/` (users' runs and the
# runs these tests start).
WORKERS = int(os.environ.get("PERF_TEST_WORKERS") or 2)
# The variables xdist sets in its workers, inherited by every process a test starts: a suite run started by a test is
# no worker of this run.
XDIST_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """PERF_TEST_WORKERS workers when `-n` is not given (before xdist's own hook turns `-n` into workers); none under
    --pdb or --collect-only, without xdist, or with fewer usable cores than workers."""
    option = config.option
    if (hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist")
            or getattr(option, "numprocesses", 0) is not None or option.collectonly or option.usepdb
            or WORKERS < 2 or usable_cores() < WORKERS):
        return
    option.numprocesses = WORKERS
    if option.dist == "no":
        option.dist = "loadgroup"
        option.loadscopereorder = False


# Session fixtures that cost seconds to make (a server, a browser): the tests using one share a worker.
SHARED_SESSION_FIXTURES = ("postgres_server", "browser")


def pytest_configure(config):
    """IMPORTED_FIRST, in a worker or a run without workers."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return  # the controller
    for name in IMPORTED_FIRST:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items):
    """The modules whose tests are marked `perf_expected_s(seconds)` (those that start suite processes: tens of
    seconds each) first, the longest in all first, each module's marked tests longest first; then the others in their
    order. A test using a costly session fixture joins that fixture's xdist group, one using a module fixture of the
    tests' own its module's group."""
    def expected_s(item) -> float:
        marker = item.get_closest_marker("perf_expected_s")
        return float(marker.args[0]) if marker is not None else 0.0

    module_s: dict = {}
    for item in items:
        module_s[item.path] = module_s.get(item.path, 0.0) + expected_s(item)
        group = _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: (-module_s[item.path], -expected_s(item)))


def _shared_fixture_group(item) -> str | None:
    """The xdist group of a test that uses a costly fixture: the PostgreSQL server (db_url's postgresql case asks
    for it while the test runs), the browser, or a module fixture defined in these tests; else None."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db_url") == "postgresql":  # it asks for the server when run
        return "postgres_server"
    for name in SHARED_SESSION_FIXTURES:
        if name in info.name2fixturedefs:
            return name
    tests = Path(__file__).parent
    for definitions in info.name2fixturedefs.values():
        fixture = definitions[-1]
        if fixture.scope == "module" and Path(fixture.func.__code__.co_filename).parent == tests:
            return item.path.name
    return None


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
