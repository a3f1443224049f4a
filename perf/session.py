"""The state of one `pytest perf/` run (PerfSession): its options and target, baseline, ceilings and environment,
the records it collects, and the notes the terminal summary reads. The hooks in perf/plugin.py create and drive it;
measuring and deciding one benchmark is perf/verdict/confirm.py, which reads the session.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import sys
from pathlib import Path

import pytest

from perf import gpus, xdist_hooks
from perf.measure import environment, paired, timing, workers
from perf.measure.process_time import ProcessTime
from perf.measure.target import Target
from perf.options import PerfOptions, baseline_folder, to_args
from perf.spec import BenchPair, BenchSpec
from perf.verdict import baselines, confirm, results, roofline, stats


class PerfSession:
    """What one pytest run of the suite knows and collects."""

    def __init__(self, config, options: PerfOptions):
        self.config = config
        self.options = options
        self.results: list[dict] = []
        self.extras: dict[str, list] = {}  # user properties named perf_* (rule findings, audits)
        self.timing_blocked: str | None = None
        self.exit_reason: str | None = None  # why the run fails though no test did: the terminal's last line
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
        self.write_errors: list[str] = []  # what it could not write (one line each)
        self.interrupted = False
        self.process_time = ProcessTime()  # where this process's time goes (the results file's `process`)

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
        # options.baseline_dir is the folder named by --baseline-dir, PERF_BASELINE_DIR or the ini (options.resolve)
        return baseline_folder(self.options.baseline_dir, Path(self.config.rootpath), is_cpu=self.target.is_cpu)

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

    @property
    def min_history_runs(self) -> int:
        """The clean runs of this runner after which its history decides a benchmark's verdicts."""
        from perf.history.reference import MIN_HISTORY_RUNS

        return MIN_HISTORY_RUNS

    def reference_for(self, key: str):
        """The reference of a verdict and what it is: this runner's history where it has enough runs, else the
        committed baseline's entry (None: neither has the benchmark)."""
        found = self.history_references.get(key)
        entry = self.baselines.reference(key)
        if found is not None:  # the committed entry's median beside it: the host's offset from the entries
            return found.reference, {"source": "history", "text": found.text, "runs": found.runs, "since": found.since,
                                     "runner": found.runner, "accepted": found.accepted,
                                     "entry_ms": entry.summary.median_ms if entry is not None else None}
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
        return [spec, roofline.timed_ceilings(self.target, self.options.timing)]

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

    def samples(self, spec: BenchSpec, prepared, method: str | None = None) -> timing.Samples:
        return timing.measure(prepared, self.target, self.options.timing, cold_l2=spec.cold_l2, method=method)

    def remeasure_command(self, node) -> list[str]:
        """The pytest run that measures `node` alone in a fresh process (its results file's path appended last)."""
        return [sys.executable, "-m", "pytest", node.nodeid, "-p", "perf.plugin", "-p", "no:cacheprovider", "-q",
                "-n", "0",  # in this process (and on this worker's GPU) whatever addopts says
                "--perf-measure-only", *to_args(self.options, baseline_dir=self.baseline_dir), "--perf-json"]

    def fresh_process_samples(self, node, gpu: str | None = None, injection=None) -> timing.Samples:
        """The benchmark measured again in a new process, on `gpu` (a UUID) where given, with the self-test's
        `injection` (key, calibration) where given (confirm.fresh_process_samples)."""
        return confirm.fresh_process_samples(self.remeasure_command(node), Path(self.config.rootpath), node.nodeid, gpu,
                                             injection)

    def measure(self, spec: BenchSpec, node) -> dict:
        """The benchmark measured and decided (confirm.measure), recorded; fails the test on a confirmed regression."""
        self.process_time.benchmark_started()
        try:
            record = confirm.measure(self, spec, node)
        finally:
            self.process_time.benchmark_ended()
        self.results.append(record)
        if self.options.refresh or self.options.measure_only:
            return record
        if record["verdict"] == stats.Verdict.REGRESSION.value:
            pytest.fail(confirm.regression_message(record, self.baselines.environment_of(record["key"])), pytrace=False)
        if record["verdict"] == stats.Verdict.NEW.value and self.options.fail_on_new:
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

    def measure_pair(self, pair: BenchPair) -> dict:
        """Ours and the reference of one shape, each checked, then timed in alternation (perf.measure.paired), both
        with ours' pinned method, as its benchmark is timed."""
        method = confirm.pinned_method(pair.ours, self.baselines.reference(pair.ours.key), self.target)
        return paired.measure_pair(pair, self.target, self.options.timing, method, workers.placement(self.worker_id))

    def baseline_environment(self) -> dict | None:
        if self.timing_blocked or not self.results or not self.baselines.entries:
            return None
        for r in self.results:
            env = self.baselines.environment_of(r["key"])
            if env:
                return env
        return None

    def store_history(self) -> None:
        """The run into the history (one transaction), then what the history says about it, for the summary and report."""
        from perf.history import importing, recent

        db = self.history_db
        run_id = importing.store_document(db, self.document(), "pytest")
        if run_id is None:
            self.history_note = f"this run was already stored in {db.where}"
            return
        found = recent.findings(db, run_id, self.target.present.key, [r["key"] for r in self.results])
        self.extras.update(found)
        self.history_note = (f"run {run_id} stored in {db.where}; {len(found['perf_history_drift'])} change points end "
                              f"at this run (drift), {len(found['perf_history_unreliable'])} benchmarks unreliable on "
                              f"each of their last {recent.UNRELIABLE_RUNS} runs")

    def document(self) -> dict:
        """The run's results document (perf.verdict.results): its records, environment, ceilings and perf_* lists."""
        return results.document(
            self.results, gpu=self.target.present, environment=self.environment,
            baseline_environment=self.baseline_environment(), ceilings=self.ceilings if self.results else (),
            extra={**self.extras, "baseline_file": str(self.baselines.path) if self.results else None,
                   "process": self.process_time.as_dict(),
                   **({"workers": self.workers} if self.workers else {})},
        )
