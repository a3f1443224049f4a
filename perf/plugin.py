"""The pytest plugin: options, parametrization of the suite's specs, measurement, verdicts, the terminal
summary, baseline refresh and the results file.

Data flow: spec -> timing (samples) -> results.record (summary, units) -> stats.compare against the
baseline -> verdict -> summary / results file / refreshed baseline.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from perf.verdict import baselines, results, roofline, stats
from perf.measure import environment, timing
from perf import gpus
from perf.options import OptionError, PerfOptions, add_options, default_cpu_baseline_dir, resolve
from perf.measure.requirements import unmet
from perf.spec import BenchSpec
from perf.report.text_table import format_table
from perf.measure.target import Target

_STATE = pytest.StashKey["PerfSession"]()
SUITE_DIR = Path(__file__).parent / "suite"


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    try:
        options = resolve(config)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE] = PerfSession(config, options)


def _state(config) -> "PerfSession":
    return config.stash[_STATE]


class PerfSession:
    """What one pytest run of the suite knows and collects."""

    def __init__(self, config, options: PerfOptions):
        self.config = config
        self.options = options
        self.results: list[dict] = []
        self.extras: dict[str, list] = {}  # user properties named perf_* (rule findings, audits)
        self.timing_blocked: str | None = None
        self.timing_items = 0
        self.refreshed: tuple | None = None  # (path, moves, entries kept) after a refresh was written

    @functools.cached_property
    def target(self) -> Target:
        present = gpus.detect()
        if not present.is_gpu:
            import torch

            torch.set_num_threads(1)  # one thread: host timings of a shared CPU are far steadier
        return Target(gpu=self.options.gpu or present, present=present, dtype=self.options.dtype,
                      sweep=self.options.sweep)

    @functools.cached_property
    def baseline_dir(self) -> Path:
        if self.options.baseline_dir is not None:
            return self.options.baseline_dir
        return default_cpu_baseline_dir() if self.target.is_cpu else Path(self.config.rootpath) / "baselines"

    @functools.cached_property
    def baselines(self) -> baselines.Baselines:
        return baselines.load(self.baseline_dir, self.target.gpu.key)

    @functools.cached_property
    def ceilings(self) -> list[roofline.Ceilings]:
        """The GPU's spec ceilings, and on a GPU those measured now (a large matmul per dtype, a large copy)."""
        spec = roofline.Ceilings.from_spec(self.target.present)
        if self.target.is_cpu:
            return [spec]

        def median_ms(prepared):
            return timing.measure(prepared, self.target, self.options.timing).summary().median_ms

        measured = roofline.measure_ceilings(self.target, median_ms, roofline.MATMUL_DTYPES)
        return [spec, measured]

    @functools.cached_property
    def environment(self) -> dict:
        return environment.collect(self.target, Path(self.config.rootpath))

    # ------------------------------------------------------------------------------------------ measuring

    def threshold_for(self, spec: BenchSpec, node) -> float:
        marker = node.get_closest_marker("perf_threshold")
        if marker is not None:
            return float(marker.args[0])
        if spec.threshold is not None:
            return spec.threshold
        return self.options.threshold_for(spec.family)

    def _samples(self, spec: BenchSpec, prepared) -> timing.Samples:
        return timing.measure(prepared, self.target, self.options.timing, cold_l2=spec.cold_l2)

    def measure(self, spec: BenchSpec, node) -> dict:
        target = self.target
        prepared = spec.build(target)
        if prepared.verify is not None:
            prepared.verify()  # a wrong result fails here and is never timed
        fraction = self.options.injection_for(spec.key)
        if fraction is not None:
            base_ms = self._samples(spec, prepared).summary().median_ms
            prepared = timing.with_slowdown(prepared, target, fraction * base_ms)
        threshold = self.threshold_for(spec, node)
        baseline = self.baselines.summary(spec.key)
        samples = self._samples(spec, prepared)
        comparison = stats.compare(samples.summary(), baseline, threshold, throttled=samples.throttled)
        remeasured = False
        if comparison.verdict is stats.Verdict.REGRESSION or (
            comparison.verdict is stats.Verdict.UNRELIABLE and samples.throttled
        ):
            samples = self._samples(spec, prepared)
            second = stats.compare(samples.summary(), baseline, threshold, throttled=samples.throttled)
            comparison = stats.confirm(comparison, second)
            remeasured = True
        record = results.record(spec, samples, comparison, target.present, baseline=baseline, nodeid=node.nodeid,
                                remeasured=remeasured, ceilings=self.ceilings)
        self.results.append(record)
        if self.options.refresh:
            return record
        if comparison.verdict is stats.Verdict.REGRESSION:
            pytest.fail(self.regression_message(record), pytrace=False)
        if comparison.verdict is stats.Verdict.NEW and self.options.fail_on_new:
            pytest.fail(f"{spec.key}: no baseline entry in {self.baselines.path} (--perf-fail-on-new); "
                        f"measured {record['summary']['median_ms']:.4g} ms. Run `python -m perf refresh` to add it.",
                        pytrace=False)
        return record

    def regression_message(self, record: dict) -> str:
        env = self.baselines.environment_of(record["key"]) or {}
        return (
            f"{record['key']}: regression: {record['summary']['median_ms']:.4g} ms now vs "
            f"{record['baseline']['median_ms']:.4g} ms baseline ({record['change']:+.1%}), beyond the "
            f"{record['threshold']:.1%} threshold and the {record['noise']:.1%} noise of both medians; "
            f"{record['reason']}. Baseline measured on {env.get('device', '?')} with torch {env.get('torch', '?')} "
            f"on {env.get('date', '?')}."
        )


# ------------------------------------------------------------------------------------------------ collection

def pytest_generate_tests(metafunc):
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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    state = _state(config)
    timing_items = [item for item in items if "perf_measure" in getattr(item, "fixturenames", ())]
    state.timing_items = len(timing_items)
    if not timing_items:
        return
    blocked = state.target.mismatch()
    if blocked:
        state.timing_blocked = blocked
        kept = [item for item in items if item not in timing_items]
        config.hook.pytest_deselected(items=timing_items)
        items[:] = kept
        return
    try:
        state.baselines  # noqa: B018 - load and validate now: a malformed file stops the run before any timing
    except baselines.BaselineError as exc:
        state.timing_blocked = f"baseline file unusable: {exc}"
        raise pytest.UsageError(f"{state.timing_blocked}\nThe file was left as it is.") from None


def pytest_collection_finish(session):
    state = _state(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not state.timing_items:
        return
    t = state.target
    if t.is_cpu:
        reporter.write_line("perf: no GPU found: running on the CPU device (torch on the CPU, small shapes, host "
                            "timer, one thread, warm caches)")
    else:
        origin = "read off the device" if t.present.detected else "from the spec table"
        reporter.write_line(f"perf: target {t.gpu.key}; device present {t.present.name} ({t.present.sms} SMs, "
                            f"{t.present.l2_mib:.0f} MiB L2, {origin}); CUDA-event timing, cold L2")
    if state.timing_blocked:
        reporter.write_line(f"perf: timing benchmarks stopped: {state.timing_blocked}", red=True)
        return
    reporter.write_line(f"perf: baselines {state.baselines.path} ({len(state.baselines.entries)} entries); "
                        f"threshold {state.options.threshold:.1%}" + ("; REFRESH: entries that run are rewritten"
                                                                      if state.options.refresh else ""))


# ------------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def perf_target(request) -> Target:
    """The run's target (the GPU named by --gpu, or the device present)."""
    return _state(request.config).target


@pytest.fixture(scope="session")
def perf_options(request) -> PerfOptions:
    return _state(request.config).options


@pytest.fixture
def perf_measure(request):
    """perf_measure(spec): verify, time, compare with the baseline, record; fails on a confirmed regression."""
    state = _state(request.config)

    def run(spec: BenchSpec) -> dict:
        try:
            return state.measure(spec, request.node)
        finally:
            if not state.target.is_cpu:
                import torch

                torch.cuda.empty_cache()

    return run


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


# ------------------------------------------------------------------------------------------------ summary

def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def summary_rows(records: list[dict]) -> list[tuple[str, ...]]:
    rows = []
    for r in records:
        base = r["baseline"]["median_ms"] if r["baseline"] else None
        rows.append((
            r["key"],
            _fmt(base, ".4g"),
            _fmt(r["summary"]["median_ms"], ".4g"),
            _fmt(r["change"], "+.1%"),
            _fmt(r["tflops"], ".3g"),
            _fmt(r["peak_pct"], ".0f"),
            _fmt(r["gbs"], ".3g"),
            _fmt(_roof_pct(r), ".0f"),
            r["verdict"] + ("*" if r["remeasured"] else ""),
        ))
    return rows


def _roof_pct(record: dict) -> float | None:
    """% of the attainable roofline: against the measured ceilings where the run measured them, else the spec's."""
    points = record.get("roofline") or {}
    for source in ("measured", "spec"):
        point = points.get(source) or {}
        value = point.get("pct_of_roofline")
        if value is None and record["flops"] == 0:
            value = point.get("pct_of_bandwidth")
        if value is not None:
            return value
    return None


_ORDER = {"regression": 0, "unreliable": 1, "improvement": 2, "new": 3, "pass": 4}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = _state(config)
    tr = terminalreporter
    if state.timing_blocked:
        tr.write_sep("=", "perf: timing benchmarks did not run", red=True)
        tr.write_line(state.timing_blocked)
    if not state.results:
        return
    records = sorted(state.results, key=lambda r: _ORDER.get(r["verdict"], 9))
    tr.write_sep("=", f"perf: {len(records)} benchmarks on {state.target.present.name}")
    header = ("benchmark", "baseline ms", "now ms", "change", "TFLOP/s", "% peak", "GB/s", "% roof", "verdict")
    for line in format_table(header, summary_rows(records), numbers_right=True):
        tr.write_line(line)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    tr.write_line("verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9)))
                  + ("   (* re-measured)" if any(r["remeasured"] for r in records) else ""))
    if counts.get("improvement") and not state.options.refresh:
        tr.write_line("improvements beyond noise: refresh the baseline with `python -m perf refresh` to keep them",
                      green=True)
    base_env = _baseline_environment(state)
    if base_env:
        diffs = environment.differences(state.environment, base_env)
        if diffs:
            tr.write_line("environment differs from the baseline's: " + "; ".join(
                f"{k} {then} -> {now}" for k, then, now in diffs), yellow=True)
    if state.refreshed is not None:
        path, moves, kept = state.refreshed
        tr.write_sep("=", f"perf: refreshed {len(moves)} entries in {path} ({kept} kept)")
        rows = [(m.key, _fmt(m.before_ms, ".4g", "new"), f"{m.after_ms:.4g}", _fmt(m.change, "+.1%")) for m in moves]
        for line in format_table(("benchmark", "before ms", "after ms", "moved"), rows, numbers_right=True):
            tr.write_line(line)


def _baseline_environment(state: PerfSession) -> dict | None:
    if state.timing_blocked or not state.results or not state.baselines.entries:
        return None
    for r in state.results:
        env = state.baselines.environment_of(r["key"])
        if env:
            return env
    return None


def pytest_sessionfinish(session, exitstatus):
    state = _state(session.config)
    if state.timing_blocked and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    if state.options.refresh and state.results:
        merged, moves = baselines.merge(state.baselines, state.results, state.environment)
        baselines.save(merged)
        state.refreshed = (merged.path, moves, len(merged.entries) - len(moves))
    if state.options.json_path and (state.results or state.extras):
        results.write(state.options.json_path, _document(state))
    if state.options.report_dir and (state.results or state.extras):
        from perf.report import files

        files.write_report(_document(state), state.options.report_dir)


def _document(state: PerfSession) -> dict:
    return results.document(
        state.results, gpu=state.target.present, environment=state.environment,
        baseline_environment=_baseline_environment(state), ceilings=state.ceilings if state.results else (),
        extra=state.extras,
    )
