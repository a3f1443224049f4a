"""The pytest plugin: options, parametrization of the suite's specs, measurement, verdicts, the terminal
summary, baseline refresh and the results file.

Data flow: spec -> timing (samples) -> results.record (summary, units) -> stats.compare against the
baseline -> verdict -> summary / results file / refreshed baseline.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from perf import gpus, xdist_hooks
from perf.measure import environment, injection_file, paired, slowdown, timing, workers
from perf.measure.requirements import unmet
from perf.measure.target import Target
from perf.options import OptionError, PerfOptions, add_options, default_cpu_baseline_dir, resolve, to_args
from perf.report import kernel_targets, offsets, pairs_table, per_gpu
from perf.report.refresh_table import moves_lines
from perf.report.text_table import format_table
from perf.spec import BenchPair, BenchSpec
from perf.verdict import baselines, destination, noise, results, roofline, stats

_STATE = pytest.StashKey["PerfSession"]()
PAIR_NEXT_WARMUP_MS = 50.0  # a side's windows after its first: compiled, allocated and at the pair's power state


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


def pinned_method(spec: BenchSpec, reference, target: Target) -> str | None:
    """How a GPU times `spec`: its own method, else its baseline entry's (`reference`, a Baselines.reference or
    None), else None (chosen from a first estimate); the CPU device has the host timer only."""
    if target.is_cpu:
        return None
    return spec.method or (reference.method if reference else None)


class PerfSession:
    """What one pytest run of the suite knows and collects."""

    def __init__(self, config, options: PerfOptions):
        self.config = config
        self.options = options
        self.results: list[dict] = []
        self.extras: dict[str, list] = {}  # user properties named perf_* (rule findings, audits)
        self.timing_blocked: str | None = None
        self.timing_items = 0
        self.pair_items = 0  # side-by-side pairs selected (--perf-pairs)
        self.refreshed: tuple | None = None  # (path, moves, entries kept) after a refresh was written
        self.history_db = None  # the results history, opened at configure time so a bad URL stops the run early
        self.history_note: str | None = None
        self.worker_id: str | None = None  # this process's pytest-xdist worker id, if it is one
        self.gpu_locks = None  # on a worker of a run on several GPUs: perf.measure.gpu_locks.GpuLocks
        self.workers: list[dict] = []  # on an xdist controller: each worker's placement and ceilings
        self.deferred_claims: list[str] = []  # on an xdist controller: the claim ids the workers left to it
        self.claims_note: str | None = None  # on an xdist controller: how the claims were decided
        self.baseline_error: str | None = None  # the baseline file stopped the run (said once, by pytest)
        self.wrote: list[str] = []  # what the run wrote besides the baseline (results file, report)
        self.interrupted = False

    @property
    def stores_history(self) -> bool:
        """Runs that feed a baseline (measure-only, re-measures) or carry injected slowdowns are not history."""
        return bool(self.options.history) and not (self.options.measure_only or self.options.injections)

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
    def history_references(self) -> dict:
        """This runner's own references from the results history (perf/history/reference.py): benchmark key ->
        HistoryReference; empty without a history, with --perf-reference baseline, or in a refresh."""
        if self.history_db is None or self.options.reference == "baseline" or self.options.refresh:
            return {}
        from perf.history import reference

        gpu = workers.current_gpu()
        runner = reference.Runner(host=socket.gethostname(), gpu_uuid=gpu.uuid if gpu else None,
                                  gpu=self.target.gpu.key, scope="host" if self.options.reference == "history-host" else "gpu")
        return reference.references(self.history_db, runner, self.environment)

    def reference_for(self, key: str):
        """The reference of a verdict and what it is: this runner's history where it has enough runs, else the
        committed baseline's entry (None: neither has the benchmark)."""
        found = self.history_references.get(key)
        if found is not None:
            return found.reference, {"source": "history", "text": found.text, "runs": found.runs, "since": found.since,
                                     "runner": found.runner, "accepted": found.accepted}
        entry = self.baselines.reference(key)
        if entry is None:
            return None, {"source": None, "text": f"none: no entry in {self.baselines.path.name}"}
        return entry, {"source": "baseline", "text": f"baseline: {self.baselines.path.name}"}

    def claims_evidence(self):
        """What this run has measured so far (its records, the copy ceiling it measured, its GPU), for the claims."""
        from perf.shape.claims import Evidence

        measured = next((c for c in self.ceilings if c.source == "measured"), None) if self.results else None
        return Evidence(list(self.results), copy_gbs=measured.bandwidth_gbs if measured else None,
                        gpu=self.target.present)

    @functools.cached_property
    def ceilings(self) -> list[roofline.Ceilings]:
        """The GPU's spec ceilings, and on a GPU those measured now (a large matmul per dtype, a large copy)."""
        spec = roofline.Ceilings.from_spec(self.target.present)
        if self.target.is_cpu or self.options.measure_only:  # measure-only runs feed baselines: no roofline there
            return [spec]
        if xdist_hooks.is_controller(self.config):  # a worker measures them; a controller never touches a GPU
            return [spec]
        if not xdist_hooks.measures_ceilings(self.worker_id):  # one worker measures them for the run (10-15 s)
            return [spec]

        first = dataclasses.replace(self.options.timing,
                                    warmup_ms=max(self.options.timing.warmup_ms, roofline.CEILING_WARMUP_MS))
        then = dataclasses.replace(self.options.timing,
                                   warmup_ms=max(self.options.timing.warmup_ms, roofline.CEILING_NEXT_WARMUP_MS))
        warmups = itertools.chain([first], itertools.repeat(then))  # the workloads run back to back: warm after one

        def median_ms(prepared):
            return timing.measure(prepared, self.target, next(warmups)).summary().median_ms

        measured = roofline.measure_ceilings(self.target, median_ms, roofline.MATMUL_DTYPES)
        return [spec, measured]

    @functools.cached_property
    def environment(self) -> dict:
        env = environment.collect(self.target, Path(self.config.rootpath))
        env["timing"] = dataclasses.asdict(self.options.timing)
        return env

    def expected_seconds(self, item) -> float | None:
        """How long measuring a timing item should take, from its baseline entry (None without one)."""
        spec = getattr(item, "callspec", None) and item.callspec.params.get("perf_spec")
        entry = self.baselines.entries.get(spec.key) if isinstance(spec, BenchSpec) else None
        if not entry:
            return None
        t = self.options.timing
        return workers.expected_seconds(entry["median_ms"], entry["n"], t.min_time_s, t.max_time_s)

    # ------------------------------------------------------------------------------------------ measuring

    def threshold_for(self, spec: BenchSpec, node) -> float:
        marker = node.get_closest_marker("perf_threshold")
        if marker is not None:
            return float(marker.args[0])
        if spec.threshold is not None:
            return spec.threshold
        return self.options.threshold_for(spec.family)

    def _samples(self, spec: BenchSpec, prepared, method: str | None = None) -> timing.Samples:
        return timing.measure(prepared, self.target, self.options.timing, cold_l2=spec.cold_l2, method=method)

    def _compare(self, samples: timing.Samples, reference, threshold: float) -> stats.Comparison:
        return stats.compare(samples.summary(), reference, threshold, throttled=samples.throttled,
                             method=samples.method, tick_ms=timing.TICK_MS.get(samples.method, 0.0))

    def _fresh_process_samples(self, node, gpu: str | None = None) -> timing.Samples:
        """The benchmark measured again in a new process (new CUDA context, allocations, autotuning, and a later
        moment of the GPU's power state): a re-measure independent of the first; on `gpu` (a UUID) where given,
        else on this process's GPU."""
        with tempfile.TemporaryDirectory(prefix="perf-remeasure-") as tmp:
            out = Path(tmp) / "remeasure.json"
            args = [sys.executable, "-m", "pytest", node.nodeid, "-p", "perf.plugin", "-p", "no:cacheprovider", "-q",
                    "-n", "0",  # in this process (and on this worker's GPU) whatever addopts says
                    "--perf-measure-only", "--perf-json", str(out),
                    *to_args(self.options, baseline_dir=self.baseline_dir)]
            env = {**os.environ, workers.VISIBLE: gpu} if gpu else None
            done = subprocess.run(args, cwd=self.config.rootpath, capture_output=True, text=True, env=env)
            if done.returncode != 0 or not out.exists():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
                raise RuntimeError(f"{node.nodeid}: the re-measure in a fresh process failed (exit {done.returncode}):"
                                   f"\n{tail}")
            (record,) = json.loads(out.read_text())["results"]
        return timing.Samples.from_record(record)

    def _inject(self, spec: BenchSpec, prepared, fraction: float, method: str | None):
        """The self-test's extra work: calibrated now, or reused from --perf-inject-calibration's file."""
        path = self.options.injection_calibration
        stored = injection_file.find(path, spec.key, fraction) if path else None
        if stored is not None:
            return slowdown.reuse(prepared, spec, self.target, stored)
        prepared, injection = slowdown.inject(prepared, spec, self.target, fraction,
                                              lambda p: self._samples(spec, p, method).summary().median_ms)
        if path:
            injection_file.store(path, spec.key, injection)
        return prepared, injection

    def measure(self, spec: BenchSpec, node) -> dict:
        target = self.target
        prepared = spec.build(target)
        if prepared.verify is not None:
            prepared.verify()  # a wrong result fails here and is never timed
        reference, reference_info = self.reference_for(spec.key)
        method = pinned_method(spec, reference, target)
        extra: dict = {"placement": workers.placement(self.worker_id), "reference": reference_info}
        if spec.method and not target.is_cpu:  # the time a user waits, beside the device time the verdict reads
            extra["wall_ms"] = timing.wall_ms(prepared.fn)
        fraction = self.options.injection_for(spec.key, workers.current_gpu())
        if fraction is not None:
            prepared, injection = self._inject(spec, prepared, fraction, method)
            extra["injected"] = injection.to_dict()
        threshold = self.threshold_for(spec, node)
        samples = self._samples(spec, prepared, method)
        history = [self._compare(samples, reference, threshold)]
        measured = [samples]
        if not (self.options.measure_only or self.options.refresh):  # refresh runs never confirm
            while stats.needs_remeasure(history):
                if self.options.confirm == "process":
                    # The fresh process builds its own inputs: ours are handed back first, or a benchmark that fills
                    # most of the GPU would not fit twice (seen on an H100: decode attention b64 L32k, 34 GB of
                    # caches, out of memory in its re-measure while this process held 52 GB).
                    prepared = None
                    gc.collect()  # inputs held in reference cycles (closures over tensors) go now, not at a later pass
                    self.free_device_memory()
                    again = self._fresh_process_samples(node)
                else:
                    again = self._samples(spec, prepared, method)
                measured.append(again)
                history.append(self._compare(again, reference, threshold))
        comparison, index = stats.decide(history)
        samples = measured[index]
        where = ["this process" if i == 0 or self.options.confirm != "process" else "fresh process"
                 for i in range(len(measured))]
        sibling = self._sibling_for(comparison)
        if sibling is not None:  # a regression confirmed here: does a sibling GPU show it too?
            there = workers.gpu_label(sibling)
            again, check, comparison = self._on_sibling(node, sibling, there, comparison, reference, threshold)
            measured.append(again)
            history.append(check)
            where.append(f"fresh process on {there}")
            extra["sibling_check"] = {"gpu": there, "change": check.change,
                                      "slow_here_only": comparison.verdict is stats.Verdict.UNRELIABLE}
        extra["measurements"] = [
            {"median_ms": s.summary().median_ms, "change": c.change, "verdict": c.verdict.value,
             "throttled": s.throttled, "where": w} for s, c, w in zip(measured, history, where)]
        record = results.record(spec, samples, comparison, target.present,
                                baseline=reference.summary if reference else None, nodeid=node.nodeid,
                                remeasured=len(measured) > 1, ceilings=self.ceilings, extra=extra)
        self.results.append(record)
        if self.options.refresh or self.options.measure_only:
            return record
        if comparison.verdict is stats.Verdict.REGRESSION:
            pytest.fail(self.regression_message(record), pytrace=False)
        if comparison.verdict is stats.Verdict.NEW and self.options.fail_on_new:
            pytest.fail(f"{spec.key}: no baseline entry in {self.baselines.path} (--perf-fail-on-new); "
                        f"measured {record['summary']['median_ms']:.4g} ms. Run `python -m perf refresh` to add it.",
                        pytrace=False)
        return record

    def free_device_memory(self) -> None:
        """Hand the GPU memory this process no longer references back to the driver (after a benchmark, and before
        another process measures on this GPU)."""
        if self.target.is_cpu:
            return
        import torch

        torch.cuda.empty_cache()

    def _sibling_for(self, comparison: stats.Comparison) -> str | None:
        """The sibling GPU to measure a regression confirmed on this worker's GPU on, or None: not a confirmed
        regression, confirmed in one process (--perf-confirm window), --perf-no-sibling, or no sibling in the run."""
        if (comparison.verdict is not stats.Verdict.REGRESSION or self.options.confirm != "process"
                or not self.options.sibling_check or self.gpu_locks is None or workers.current_gpu() is None):
            return None
        return self.gpu_locks.sibling()

    def _on_sibling(self, node, sibling: str, label: str, confirmed: stats.Comparison, reference, threshold: float):
        """The benchmark measured in a fresh process on `sibling` (named `label`) while its worker waits; the
        samples, their comparison and the verdict over both GPUs (stats.on_sibling)."""
        with self.gpu_locks.borrow(sibling):
            again = self._fresh_process_samples(node, gpu=sibling)
        check = self._compare(again, reference, threshold)
        here = workers.gpu_label(workers.current_gpu().uuid)
        return again, check, stats.on_sibling(confirmed, check, here, label)

    def measure_pair(self, pair: BenchPair) -> dict:
        """Ours and the reference of one shape, each checked, then timed in alternation (perf.measure.paired)."""
        sides = {"ours": pair.ours, "reference": pair.reference}
        prepared = {side: spec.build(self.target) for side, spec in sides.items()}
        for ready in prepared.values():
            if ready.verify is not None:
                ready.verify()  # a wrong result fails here and is never timed
        later = dataclasses.replace(self.options.timing, warmup_ms=min(self.options.timing.warmup_ms,
                                                                       PAIR_NEXT_WARMUP_MS))
        windows = {"ours": 0, "reference": 0}

        def measure_side(side: str, method: str | None) -> timing.Samples:
            settings = self.options.timing if windows[side] == 0 else later  # warm after its first window
            windows[side] += 1
            return timing.measure(prepared[side], self.target, settings, cold_l2=sides[side].cold_l2,
                                  method=None if self.target.is_cpu else method)

        # both sides with ours' pinned method, as its benchmark is timed (None: the first window chooses)
        result = paired.measure(measure_side, method=pinned_method(pair.ours, self.baselines.reference(pair.ours.key),
                                                                   self.target))
        return {"id": pair.id, "key": pair.key, "ours": pair.ours.key, "reference": pair.reference.key,
                "group": pair.ours.group, "dtype": pair.ours.dtype,
                "params": {k: v for k, v in pair.ours.params.items() if k != "provider"},
                "placement": workers.placement(self.worker_id), **result.to_dict()}

    def regression_message(self, record: dict) -> str:
        reference = record.get("reference") or {}
        head = (f"{record['key']}: regression: {record['summary']['median_ms']:.4g} ms now vs "
                f"{record['baseline']['median_ms']:.4g} ms reference ({record['change']:+.1%}), beyond the "
                f"{record['threshold']:.1%} threshold and the {record['tolerance']:.1%} tolerance of the noise model; "
                f"{record['reason']}. ")
        if reference.get("source") == "history":
            return head + (f"Reference: {reference['text']}. If the change is intended: python -m perf history "
                           f"accept {shlex.quote(record['key'])} --reason '...'")
        env = self.baselines.environment_of(record["key"]) or {}
        return head + (f"Reference: {reference.get('text', 'baseline')}, measured on {env.get('device', '?')} with "
                       f"torch {env.get('torch', '?')} on {env.get('date', '?')}.")


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
    t = state.target
    if t.is_cpu:
        reporter.write_line("perf: no GPU found: running on the CPU device (torch on the CPU, small shapes, host "
                            "timer, one thread, warm caches)")
        for line in cpu_substitutions(session.config):
            reporter.write_line(f"perf: {line}", yellow=True)
    else:
        origin = "read off the device" if t.present.detected else "from the spec table"
        reporter.write_line(f"perf: target {t.gpu.key}; device present {t.present.name} ({t.present.sms} SMs, "
                            f"{t.present.l2_mib:.0f} MiB L2, {origin}); CUDA-event timing, cold L2")
    if state.timing_blocked:
        reporter.write_line(f"perf: timing benchmarks stopped: {state.timing_blocked}", red=True)
        return
    if state.baseline_error:  # pytest says it, once, as the run's usage error
        return
    reporter.write_line(f"perf: baselines {state.baselines.path} ({len(state.baselines.entries)} entries, "
                        f"{_runs_phrase(state.baselines)}); threshold {state.options.threshold:.1%}; a change counts "
                        f"beyond the largest of the threshold, {noise.K_BETWEEN_RUNS:g} x the between-run sigma, "
                        f"the within-run noise and {noise.FLOOR_TICKS} timer ticks; a regression is confirmed "
                        f"by a re-measure in a {'fresh process' if state.options.confirm == 'process' else 'second window'}"
                        + ("; REFRESH: entries that run are rewritten" if state.options.refresh else ""))
    if state.pair_items:
        reporter.write_line(f"perf: {state.pair_items} side-by-side pairs: ours and the reference in alternation, "
                            f"{paired.ROUNDS} ABBA rounds each; ratio = reference time / ours (above 1: ours faster)")


def cpu_substitutions(config) -> list[str]:
    """What the CPU device runs instead of the GPU-only settings the user asked for."""
    lines = []
    dtype = config.getoption("--perf-dtype")
    if dtype:
        lines.append(f"--perf-dtype {dtype} does not apply on the CPU device: its benchmarks run in fp32 ({dtype} "
                     f"matmuls on most CPUs go through slow fallbacks); the dtype applies on a GPU")
    if config.getoption("--sweep") == "full":
        lines.append("--sweep full does not apply on the CPU device: it runs the small CPU sweep points; the full "
                     "sweeps apply on a GPU")
    return lines


def _runs_phrase(base: baselines.Baselines) -> str:
    runs = sorted({len(e.get("run_medians_ms") or ()) or 1 for e in base.entries.values()})
    if not runs:
        return "none yet"
    if runs == [1]:
        return (f"one run each: the between-run sigma is the default {noise.DEFAULT_SPREAD[base.device_kind]:.0%}; "
                f"`python -m perf refresh --runs 3` learns it")
    return f"{runs[0]} runs each" if len(runs) == 1 else f"{runs[0]}-{runs[-1]} runs each"


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
            reference_label(r),
        ))
    return rows


def reference_label(record: dict) -> str:
    """The reference column: "history N" (N runs of this runner) or "baseline"."""
    reference = record.get("reference") or {}
    if reference.get("source") == "history":
        return f"history {reference.get('runs', '')}".strip()
    return reference.get("source") or "-"


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
    pairs = state.extras.get("perf_pairs")
    if pairs:
        _pairs_summary(tr, state, pairs)
    if state.results:
        _benchmarks_summary(tr, state)
    _history_summary(tr, state)
    _refresh_summary(tr, state)
    for line in state.wrote:
        tr.write_line(f"perf: wrote {line}")


def _pairs_summary(tr, state: PerfSession, pairs: list[dict]) -> None:
    """The side-by-side pairs' table and the kernel targets they decide."""
    tr.write_sep("=", f"perf: {len(pairs)} pairs side by side on {state.target.present.name} (ratio = reference "
                      f"time / ours: above 1, ours is faster)")
    for line in format_table(pairs_table.HEADER, pairs_table.rows(pairs), numbers_right=True):
        tr.write_line(line)
    for line in pairs_table.summary_lines(pairs):
        tr.write_line(line)
    verdicts = kernel_targets.decided(pairs)
    if verdicts:
        tr.write_line("kernel targets (docs/kernels.md), decided side by side:")
        for line in format_table(kernel_targets.HEADER, kernel_targets.rows(verdicts)):
            tr.write_line(line)


def _history_summary(tr, state: PerfSession) -> None:
    """Where the run was stored in the results history, and what the history says of it (a run of pairs alone
    too)."""
    if state.history_note:
        tr.write_sep("=", "perf: history")
        tr.write_line(state.history_note)
        for d in state.extras.get("perf_history_drift", []):
            tr.write_line(f"drift: {d['benchmark']} {d['change']} since {d['since']} (commit {d['commit'] or '?'}): "
                          f"{d['before_ms']:.4g} -> {d['after_ms']:.4g} ms, p={d['p_value']:.2g}"
                          + (f"; {d['environment']}" if d["environment"] else ""), yellow=True)
        for u in state.extras.get("perf_history_unreliable", []):
            tr.write_line(f"unreliable on each of the last {u['runs']} runs: {u['benchmark']} (since {u['since']})",
                          yellow=True)


def _refresh_summary(tr, state: PerfSession) -> None:
    """What --perf-refresh wrote, or that an interrupted refresh wrote nothing."""
    if state.refreshed is not None:
        path, moves, kept = state.refreshed
        tr.write_sep("=", f"perf: refreshed {len(moves)} entries in {path} ({kept} kept)")
        for line in moves_lines(moves):
            tr.write_line(line)
        flagged = [m.key for m in moves if m.flags]
        if flagged:
            tr.write_line(f"{len(flagged)} entries written with quality flags (throttled or noisy in every run): "
                          + ", ".join(flagged[:10]), yellow=True)
    elif state.options.refresh and state.interrupted:
        tr.write_line(f"perf: interrupted: nothing refreshed; {state.baselines.path} was left as it was", red=True)


def _benchmarks_summary(tr, state: PerfSession) -> None:
    """The benchmarks' table, their verdicts, the claims, the baseline's hints, the per-GPU table and the offsets."""
    records = sorted(state.results, key=lambda r: _ORDER.get(r["verdict"], 9))
    tr.write_sep("=", f"perf: {len(records)} benchmarks on {state.target.present.name}")
    header = ("benchmark", "reference ms", "now ms", "change", "TFLOP/s", "% peak", "GB/s", "% roof", "verdict",
              "reference")
    for line in format_table(header, summary_rows(records), numbers_right=True):
        tr.write_line(line)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    tr.write_line("verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9)))
                  + ("   (* re-measured)" if any(r["remeasured"] for r in records) else ""))
    _references_summary(tr, state, records)
    if counts.get("improvement") and not state.options.refresh:
        tr.write_line("improvements beyond noise: refresh the baseline with `python -m perf refresh` to keep them"
                      + (", or accept those decided by the history with `python -m perf history accept KEY... "
                         "--reason TEXT`" if state.history_references else ""), green=True)
    claims = state.extras.get("perf_claims")
    if claims:
        tr.write_sep("-", f"perf: {len(claims)} claims of the co-design paper on {state.target.present.name}")
        for line in format_table(("claim", "verdict", "measured"), [(c["id"], c["verdict"], c["numbers"]) for c in claims]):
            tr.write_line(line)
        if state.claims_note:
            tr.write_line(state.claims_note)
    if counts.get("new") and not (state.options.refresh or state.options.measure_only):
        tr.write_line(f"{counts['new']} benchmarks have no baseline in {state.baselines.path}; measure one with:",
                      yellow=True)
        tr.write_line(f"    {refresh_command(state)}")
    base_env = _baseline_environment(state)
    if base_env:
        diffs = environment.differences(state.environment, base_env)
        if diffs:
            tr.write_line("environment differs from the baseline's: " + "; ".join(
                f"{k} {then} -> {now}" for k, then, now in diffs), yellow=True)
    by_gpu = per_gpu.rows(records)
    if by_gpu:
        tr.write_line("per GPU (change = now / baseline - 1):")
        for line in format_table(per_gpu.HEADER, by_gpu, numbers_right=True):
            tr.write_line(line)
    _offsets_summary(tr, records)


def _references_summary(tr, state: PerfSession, records: list[dict]) -> None:
    """Which reference decided the verdicts: this runner's history, the committed baseline, or none."""
    refs = [r.get("reference") or {} for r in records]
    history = [ref for ref in refs if ref.get("source") == "history"]
    parts = []
    if history:
        runs = sorted(ref["runs"] for ref in history)
        span = f"{runs[0]}" if runs[0] == runs[-1] else f"{runs[0]}-{runs[-1]}"
        runners = sorted({ref["runner"] for ref in history})
        parts.append(f"{len(history)} by this runner's history ({span} runs of {', '.join(runners)} since "
                     f"{min(ref['since'] for ref in history)})")
    baseline = sum(1 for ref in refs if ref.get("source") == "baseline")
    if baseline:
        parts.append(f"{baseline} by {state.baselines.path}")
    if state.history_db is not None:
        from perf.history.reference import MIN_HISTORY_RUNS

        tr.write_line("references: " + "; ".join(parts or ["none"]) + (
            "" if not baseline else f" (the history decides once a benchmark has {MIN_HISTORY_RUNS} clean runs of "
                                    f"this runner in this environment)"))


def _offsets_summary(tr, records) -> None:
    """Each GPU's offset from its entries per family (perf.report.offsets), and in words those of 1% or more."""
    family_offsets = offsets.offsets(records)
    if family_offsets:
        tr.write_line("offset from the entries per GPU and family (median change = now / baseline - 1; positive is "
                      "slower):")
        for line in format_table(offsets.HEADER, [o.row() for o in family_offsets], numbers_right=True):
            tr.write_line(line)
        for o in family_offsets:
            if o.notable:
                tr.write_line(o.sentence(), yellow=True)


def refresh_command(state: PerfSession) -> str:
    """The `python -m perf refresh` line that measures a baseline for what this run selected."""
    words = ["python", "-m", "perf", "refresh"]
    if state.options.gpu is not None:
        words += ["--gpu", state.options.gpu.key]
    if state.options.baseline_dir is not None:
        words += ["--baseline-dir", str(state.options.baseline_dir)]
    for name in state.options.models:
        words += ["--model", name]
    if state.config.option.keyword:
        words += ["-k", state.config.option.keyword]
    return shlex.join(words)


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
    if xdist_hooks.is_worker(session.config):
        return  # a worker writes no file: its results went to the controller with its test reports
    state.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    if state.deferred_claims:
        _decide_deferred_claims(session, state)
    if state.results:  # measured ceilings never below a result of this run; the records placed under them again
        state.ceilings[:] = results.settle_ceilings(state.results, state.ceilings)
    if state.options.refresh and state.results and not state.interrupted:  # interrupted: the file stays as it was
        merged, moves = baselines.merge(state.baselines, [state.results], state.environment)
        baselines.save(merged)
        state.refreshed = (merged.path, moves, len(merged.entries) - len(moves))
    if state.stores_history and (state.results or state.extras.get("perf_pairs")):  # pairs alone: stored too
        _store_history(state)
    if state.options.json_path and (state.results or state.extras):
        results.write(state.options.json_path, _document(state))
        state.wrote.append(f"results ({len(state.results)} benchmarks) to {state.options.json_path}"
                           + (" (interrupted: partial)" if state.interrupted else ""))
    if state.options.report_dir and (state.results or state.extras):
        from perf.report import files

        paths = files.write_report(_document(state), state.options.report_dir)
        state.wrote.append(f"report ({len(paths)} files) to {state.options.report_dir}/ "
                           f"(open {state.options.report_dir / 'index.html'})")


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


def _store_history(state: PerfSession) -> None:
    """The run into the history (one transaction), then what the history says about it, for the summary and report."""
    from perf.history import importing, recent

    db = state.history_db
    run_id = importing.store_document(db, _document(state), "pytest")
    if run_id is None:
        state.history_note = f"this run was already stored in {db.where}"
        return
    found = recent.findings(db, run_id, state.target.present.key, [r["key"] for r in state.results])
    state.extras.update(found)
    state.history_note = (f"run {run_id} stored in {db.where}; {len(found['perf_history_drift'])} change points end "
                          f"at this run (drift), {len(found['perf_history_unreliable'])} benchmarks unreliable on "
                          f"each of their last {recent.UNRELIABLE_RUNS} runs")


def _document(state: PerfSession) -> dict:
    return results.document(
        state.results, gpu=state.target.present, environment=state.environment,
        baseline_environment=_baseline_environment(state), ceilings=state.ceilings if state.results else (),
        extra={**state.extras, "baseline_file": str(state.baselines.path) if state.results else None,
               **({"workers": state.workers} if state.workers else {})},
    )
