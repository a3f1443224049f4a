"""The pytest plugin's hooks and fixtures: options (perf/options.py), parametrization of the suite's specs, the
run's state (perf/session.py), measuring and deciding a benchmark (perf/verdict/confirm.py), the terminal's header
and summary (perf/report/terminal.py); at the end the baseline refresh, the history, the results file and the report.

Data flow: spec -> timing (samples) -> confirm (compare, re-measure, decide) -> results.record -> summary /
results file / refreshed baseline.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from perf import xdist_hooks
from perf.measure import workers
from perf.measure.requirements import unmet
from perf.measure.target import Target
from perf.options import OptionError, PerfOptions, add_options, resolve
from perf.report import terminal
from perf.session import PerfSession
from perf.spec import BenchSpec
from perf.verdict import baselines, destination, file_writes, results

_STATE = pytest.StashKey["PerfSession"]()


def pytest_addoption(parser):
    add_options(parser)


# The markers the plugin puts on items, registered wherever it runs (a checkout's pyproject lists them too).
MARKERS = (
    "timing: a benchmark measured on the device",
    "claims: a claim of the co-design paper, decided by the run's measurements (runs after the benchmarks)",
    "pairs: one of our kernels and its reference timed side by side, in alternation (opt-in: --perf-pairs)",
)


def pytest_configure(config):
    from perf_kernels.torch_floor import require_torch

    for line in MARKERS:
        config.addinivalue_line("markers", line)

    try:
        require_torch()
        options = resolve(config)
    except (OptionError, ImportError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE] = state = PerfSession(config, options)
    if options.history and not options.measure_only:  # read for the verdicts' references, written unless a self-test
        state.history_db = _open_history(options.history)
    try:
        xdist_hooks.register(config, state)  # -n N: one worker per GPU (perf/xdist_hooks.py)
    except workers.WorkerError as exc:
        raise pytest.UsageError(str(exc)) from None
    # pytest-benchmark is installed for its results-file layout only; its header line ("timer=time.perf_counter
    # ... warmup_iterations=100000") describes settings this suite does not use: pytest_report_header says ours.
    benchmark_plugin = config.pluginmanager.get_plugin("benchmark")
    if benchmark_plugin is not None:
        config.pluginmanager.unregister(benchmark_plugin)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """-n auto: one worker per visible GPU (on the CPU device, half the usable cores)."""
    try:
        gpus = workers.visible_gpus()
    except workers.WorkerError as exc:
        raise pytest.UsageError(str(exc)) from None
    return workers.auto_workers(gpus, workers.usable_cores())


def pytest_report_header(config):
    options = _state(config).options
    return (f"perf: timing by this suite (samples until a {options.timing.noise_target:.1%} noise target or "
            f"{options.timing.max_time_s:g} s per benchmark), not by pytest-benchmark, which gives the results file "
            f"its layout only")


def _state(config) -> "PerfSession":
    return config.stash[_STATE]


# ------------------------------------------------------------------------------------------------ collection

def pytest_generate_tests(metafunc):
    if "perf_claim" in metafunc.fixturenames:
        _parametrize_claims(metafunc)
    if "perf_pair" in metafunc.fixturenames:
        _parametrize_pairs(metafunc)
    if "perf_spec" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    provider = getattr(metafunc.module, "perf_specs", None)
    if provider is None:
        raise pytest.UsageError(f"{metafunc.module.__file__}: a test takes perf_spec but the module has no perf_specs()")
    specs = list(provider(state.target, state.options))
    if state.options.models:
        specs = [s for s in specs if s.params.get("model") in (None, *state.options.models)]
    seen: dict[str, BenchSpec] = {}
    for spec in specs:
        if spec.key in seen:
            raise pytest.UsageError(f"{metafunc.module.__file__}: two specs share the key {spec.key!r}")
        seen[spec.key] = spec
    params = []
    for spec in specs:
        marks = [pytest.mark.timing]
        reason = unmet(spec.requires, state.target)
        if reason:
            marks.append(pytest.mark.skip(reason=f"{spec.key}: {reason}"))
        params.append(pytest.param(spec, id=spec.id, marks=marks))
    metafunc.parametrize("perf_spec", params)


def _parametrize_pairs(metafunc):
    state = _state(metafunc.config)
    provider = getattr(metafunc.module, "perf_pairs", None)
    if provider is None:
        raise pytest.UsageError(f"{metafunc.module.__file__}: a test takes perf_pair but the module has no perf_pairs()")
    params = []
    for pair in provider(state.target, state.options):
        marks = [pytest.mark.pairs]
        reason = unmet(pair.ours.requires + pair.reference.requires, state.target)
        if reason:
            marks.append(pytest.mark.skip(reason=f"{pair.key}: {reason}"))
        params.append(pytest.param(pair, id=pair.id, marks=marks))
    metafunc.parametrize("perf_pair", params)


def _parametrize_claims(metafunc):
    from perf.shape import claims

    path = _state(metafunc.config).options.claims_file
    try:
        found = claims.load(path) if path else claims.load()
    except claims.ClaimError as exc:
        raise pytest.UsageError(str(exc)) from None
    metafunc.parametrize("perf_claim", found, ids=[c.id for c in found])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    state = _state(config)
    # Claims read the run's measurements: they run last, after every benchmark.
    items.sort(key=lambda item: item.get_closest_marker("claims") is not None)
    pair_items = [item for item in items if "perf_measure_pair" in getattr(item, "fixturenames", ())]
    if pair_items and not state.options.pairs:  # opt-in: side by side costs 8 windows a pair
        config.hook.pytest_deselected(items=pair_items)
        unwanted = set(pair_items)
        items[:] = [item for item in items if item not in unwanted]
        pair_items = []
    state.pair_items = len(pair_items)
    timing_items = [item for item in items if "perf_measure" in getattr(item, "fixturenames", ())] + pair_items
    state.timing_items = len(timing_items)
    if not timing_items:
        return
    blocked = state.target.mismatch() or interpreter_blocks(os.environ, state.target)
    if not blocked:
        try:
            state.baselines  # noqa: B018 - load and validate now: a malformed file stops the run before any timing
        except baselines.BaselineError as exc:
            blocked = f"baseline file unusable: {exc}; the file was left as it is"
            if not xdist_hooks.is_worker(config):  # a worker stops timing; the controller reports it, exit 4
                state.baseline_error = blocked  # said once, as pytest's usage error
                raise pytest.UsageError(blocked) from None
    if blocked:
        state.timing_blocked = blocked
        kept = [item for item in items if item not in timing_items]
        config.hook.pytest_deselected(items=timing_items)
        items[:] = kept
        return
    refreshes = state.options.refresh and not xdist_hooks.is_worker(config)  # the controller writes the file
    problem = destination.unwritable(state.baselines.path) if refreshes else None
    if problem:  # refused before measuring, not after
        state.baseline_error = f"cannot refresh the baseline: {problem}"
        raise pytest.UsageError(state.baseline_error)


def interpreter_blocks(environ, target: Target) -> str | None:
    """Timing on a GPU with TRITON_INTERPRET=1 would time Triton kernels run by the interpreter on the host."""
    if environ.get("TRITON_INTERPRET", "0") not in ("", "0") and not target.is_cpu:
        return ("TRITON_INTERPRET=1 is set: Triton kernels would run in the interpreter, and their timings mean "
                "nothing. Unset it to time on the GPU (tests/ sets it for the CPU tests: run them separately).")
    return None


def pytest_collection_finish(session):
    state = _state(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not state.timing_items:
        return
    for line, markup in terminal.header_lines(state, session.config):
        reporter.write_line(line, **markup)


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def perf_target(request) -> Target:
    """The run's target (the GPU named by --gpu, or the device present)."""
    return _state(request.config).target


@pytest.fixture(scope="session")
def perf_options(request) -> PerfOptions:
    return _state(request.config).options


@pytest.fixture
def perf_evidence(request):
    """What this run has measured so far (its records, the copy ceiling it measured, its GPU), for the claims."""
    return _state(request.config).claims_evidence()


@pytest.fixture
def perf_measure(request):
    """perf_measure(spec): verify, time, compare with the baseline, record; fails on a confirmed regression."""
    state = _state(request.config)
    return lambda spec: _then_free(state, lambda: state.measure(spec, request.node))


@pytest.fixture
def perf_measure_pair(request):
    """perf_measure_pair(pair): verify both sides, time them in alternation, and return the pair's record."""
    state = _state(request.config)
    return lambda pair: _then_free(state, lambda: state.measure_pair(pair))


def _then_free(state: PerfSession, measure):
    """measure(), then the GPU memory it cached handed back (the next benchmark starts from the same free memory)."""
    try:
        return measure()
    finally:
        state.free_device_memory()


# CUDA errors after which the process's context is unusable: every later benchmark would fail too.
_STICKY_CUDA_ERRORS = ("illegal memory access", "unspecified launch failure", "misaligned address",
                       "illegal instruction", "device-side assert")


def pytest_runtest_makereport(item, call):
    if call.excinfo is None:
        return
    message = str(call.excinfo.value)
    if "CUDA error" in message and any(e in message for e in _STICKY_CUDA_ERRORS):
        item.session.shouldstop = (
            f"{item.nodeid} left the GPU in an unusable state ({message.splitlines()[0]}); the other benchmarks cannot "
            f"run in this process. Fix it, or deselect it (--deselect) and run again."
        )


def pytest_runtest_teardown(item):
    # Findings that suite modules attach as user properties named perf_* (rule findings, audits) go to the
    # results file.
    state = _state(item.config)
    for name, value in item.user_properties:
        if str(name).startswith("perf_"):
            state.extras.setdefault(str(name), []).append(value)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminal.summary(terminalreporter, _state(config))


def pytest_sessionfinish(session, exitstatus):
    state = _state(session.config)
    if state.timing_blocked and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        state.exit_reason = f"exit status 4 (usage error): timing benchmarks did not run: {state.timing_blocked}"
    if xdist_hooks.is_worker(session.config):
        return  # a worker writes no file: its results went to the controller with its test reports
    state.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    if state.deferred_claims:
        _decide_deferred_claims(session, state)
    if state.results:  # measured ceilings never below a result of this run; the records placed under them again
        state.ceilings[:] = results.settle_ceilings(state.results, state.ceilings)
    with _failed_write(session, state):  # merged under the file's lock into the file as it is now
        if state.options.refresh and state.results and not state.interrupted:  # interrupted: the file stays as it was
            merged, moves = baselines.update(state.baselines, [state.results], state.environment)
            state.refreshed = (merged.path, moves, len(merged.entries) - len(moves))
    if state.stores_history and (state.results or state.extras.get("perf_pairs")):  # pairs alone: stored too
        from perf.history.store import HistoryError

        try:
            state.store_history()
        except HistoryError as exc:  # a full disk, a lost server: one line (the URL masked), the run fails
            state.write_errors.append(f"perf: error: {exc}")
            session.exitstatus = session.exitstatus or pytest.ExitCode.TESTS_FAILED
    with _failed_write(session, state):
        if state.options.json_path and (state.results or state.extras):
            results.write(state.options.json_path, state.document())
            state.wrote.append(f"results ({len(state.results)} benchmarks) to {state.options.json_path}"
                               + (" (interrupted: partial)" if state.interrupted else ""))
    with _failed_write(session, state):
        if state.options.report_dir and (state.results or state.extras):
            from perf.report import files

            paths = files.write_report(state.document(), state.options.report_dir)
            state.wrote.append(f"report ({len(paths)} files) to {state.options.report_dir}/ "
                               f"(open {state.options.report_dir / 'index.html'})")


@contextlib.contextmanager
def _failed_write(session, state: PerfSession):
    """A file the run could not write (a full disk, an I/O error, a result that would not load): one line in the
    summary, and the run fails; nothing half-written stays."""
    try:
        yield
    except (baselines.BaselineError, OSError) as exc:
        state.write_errors.append(f"perf: error: not written: {exc}" if isinstance(exc, baselines.BaselineError)
                                  else f"perf: error: {file_writes.describe(exc)}")
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _decide_deferred_claims(session, state: PerfSession) -> None:
    """On an xdist controller: the claims the workers deselected, decided from every worker's records (with
    --perf-claims strict a contradicted one fails the run, as its item would have)."""
    from perf.shape import claims

    wanted = set(state.deferred_claims)
    found = [c for c in claims.load(state.options.claims_file or claims.CLAIMS_FILE) if c.id in wanted]
    evidence = state.claims_evidence()
    verdicts = [claims.evaluate(claim, evidence) for claim in found]
    state.extras.setdefault("perf_claims", []).extend(v.as_dict() for v in verdicts)
    state.claims_note = (f"{len(verdicts)} claims decided on the controller from all workers' records "
                         f"(their items are deselected on the workers)")
    contradicted = [v.claim.id for v in verdicts if v.verdict == claims.CONTRADICTED]
    if contradicted and state.options.claims == "strict" and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        state.claims_note += f"; --perf-claims strict: {', '.join(contradicted)} contradicted, the run fails"
        state.exit_reason = f"exit status 1: --perf-claims strict: {', '.join(contradicted)} contradicted"


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A run that fails though its tests passed says why in its last line, below pytest's counts."""
    state = config.stash.get(_STATE, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if state is not None and state.exit_reason and reporter is not None:
        reporter.write_line(f"perf: {state.exit_reason}", red=True)


def _open_history(url: str):
    try:
        from perf.history import store
    except ImportError as exc:
        raise pytest.UsageError(f"--perf-history needs SQLAlchemy and ruptures ({exc}): pip install "
                                f"'perf-suite[history]', or write --perf-json and import it elsewhere") from None
    try:
        return store.open_database(url)
    except store.HistoryError as exc:
        raise pytest.UsageError(f"--perf-history: {exc}") from None
