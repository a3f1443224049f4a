"""Measure one benchmark and decide its verdict: the first measurement against its reference (this runner's history
or the committed baseline: PerfSession.reference_for), the re-measures of a suspected regression (a fresh process,
or a second window with --perf-confirm window) or improvement (a second window) until stats.decide can call it, and for a regression confirmed on one GPU of a run on several, a fresh process on a sibling GPU
(stats.on_sibling). The plugin's PerfSession supplies the run (see `Session`) and fails the test on a regression.
"""

from __future__ import annotations

import gc
import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Protocol, Sequence

from perf.measure import injection_file, slowdown, timing, workers
from perf.measure.target import Target
from perf.spec import BenchSpec
from perf.verdict import results, stats
from perf.verdict.baselines import Baselines


class Session(Protocol):
    """What measuring a benchmark reads of the run (the plugin's PerfSession)."""

    target: Target
    options: Any  # perf.options.PerfOptions: timing, confirm, sibling_check, refresh, measure_only, injection_*
    baselines: Baselines
    ceilings: list
    worker_id: str | None
    gpu_locks: Any  # perf.measure.gpu_locks.GpuLocks on a worker of a run on several GPUs, else None

    def reference_for(self, key: str) -> tuple[Any, dict]: ...

    def threshold_for(self, spec: BenchSpec, node) -> float: ...

    def samples(self, spec: BenchSpec, prepared, method: str | None = None) -> timing.Samples: ...

    def fresh_process_samples(self, node, gpu: str | None = None,
                              injection: tuple[str, slowdown.Injection] | None = None) -> timing.Samples: ...

    def free_device_memory(self) -> None: ...


def pinned_method(spec: BenchSpec, reference, target: Target) -> str | None:
    """How a GPU times `spec`: its own method, else its baseline entry's (`reference`, a Baselines.reference or
    None), else None (chosen from a first estimate); the CPU device has the host timer only."""
    if target.is_cpu:
        return None
    return spec.method or (reference.method if reference else None)


def compare(samples: timing.Samples, reference, threshold: float) -> stats.Comparison:
    return stats.compare(samples.summary(), reference, threshold, throttled=samples.throttled,
                         method=samples.method, tick_ms=timing.TICK_MS.get(samples.method, 0.0))


def measure(session: Session, spec: BenchSpec, node) -> dict:
    """The benchmark's record: verified, timed, compared with its reference, re-measured while a regression is
    suspected, and a confirmed one checked on a sibling GPU."""
    options = session.options
    target = session.target
    prepared = spec.build(target)
    if prepared.verify is not None:
        prepared.verify()  # a wrong result fails here and is never timed
    reference, reference_info = session.reference_for(spec.key)
    method = pinned_method(spec, reference, target)
    extra: dict = {"placement": workers.placement(session.worker_id), "reference": reference_info}
    if spec.method and not target.is_cpu:  # the time a user waits, beside the device time the verdict reads
        extra["wall_ms"] = timing.wall_ms(prepared.fn)
    fraction = options.injection_for(spec.key, workers.current_gpu())
    injected = None  # (key, the injection made here): the fresh process re-measures with the same extra work
    if fraction is not None:
        prepared, injection = inject(session, spec, prepared, fraction, method)
        extra["injected"] = injection.to_dict()
        injected = (spec.key, injection)
    threshold = session.threshold_for(spec, node)
    samples = session.samples(spec, prepared, method)
    history = [compare(samples, reference, threshold)]
    measured = [samples]
    where = ["this process"]
    if not (options.measure_only or options.refresh):  # refresh runs never confirm
        while stats.needs_remeasure(history):
            if options.confirm == "process" and (prepared is None or not stats.confirms_in_process(history)):
                # The fresh process builds its own inputs: ours are handed back first, or a benchmark that fills
                # most of the GPU would not fit twice (seen on an H100: decode attention b64 L32k, 34 GB of
                # caches, out of memory in its re-measure while this process held 52 GB).
                prepared = None
                gc.collect()  # inputs held in reference cycles (closures over tensors) go now, not at a later pass
                session.free_device_memory()
                again = session.fresh_process_samples(node, injection=injected)
                where.append("fresh process")
            else:
                again = session.samples(spec, prepared, method)
                where.append("this process")
            measured.append(again)
            history.append(compare(again, reference, threshold))
    comparison, index = stats.decide(history)
    samples = measured[index]
    sibling = sibling_for(session, comparison)
    if sibling is not None:  # a regression confirmed here: does a sibling GPU show it too?
        there = workers.gpu_label(sibling)
        again, check, comparison = on_sibling(session, node, sibling, there, comparison, reference, threshold)
        measured.append(again)
        history.append(check)
        where.append(f"fresh process on {there}")
        extra["sibling_check"] = {"gpu": there, "change": check.change,
                                  "slow_here_only": comparison.verdict is stats.Verdict.UNRELIABLE}
    extra["measurements"] = [
        {"median_ms": s.summary().median_ms, "change": c.change, "verdict": c.verdict.value,
         "throttled": s.throttled, "where": w} for s, c, w in zip(measured, history, where)]
    return results.record(spec, samples, comparison, target.present,
                          baseline=reference.summary if reference else None, nodeid=node.nodeid,
                          remeasured=len(measured) > 1, ceilings=session.ceilings, extra=extra)


def inject(session: Session, spec: BenchSpec, prepared, fraction: float, method: str | None):
    """The self-test's extra work: calibrated now, or reused from --perf-inject-calibration's file."""
    path = session.options.injection_calibration
    stored = injection_file.find(path, spec.key, fraction) if path else None
    if stored is not None:
        return slowdown.reuse(prepared, spec, session.target, stored)
    prepared, injection = slowdown.inject(prepared, spec, session.target, fraction,
                                          lambda p: session.samples(spec, p, method).summary().median_ms)
    if path:
        injection_file.store(path, spec.key, injection)
    return prepared, injection


def sibling_for(session: Session, comparison: stats.Comparison) -> str | None:
    """The sibling GPU to measure a regression confirmed on this worker's GPU on, or None: not a confirmed
    regression, confirmed in one process (--perf-confirm window), --perf-no-sibling, or no sibling in the run."""
    if (comparison.verdict is not stats.Verdict.REGRESSION or session.options.confirm != "process"
            or not session.options.sibling_check or session.gpu_locks is None or workers.current_gpu() is None):
        return None
    return session.gpu_locks.sibling()


def on_sibling(session: Session, node, sibling: str, label: str, confirmed: stats.Comparison, reference,
               threshold: float):
    """The benchmark measured in a fresh process on `sibling` (named `label`) while its worker waits; the
    samples, their comparison and the verdict over both GPUs (stats.on_sibling)."""
    with session.gpu_locks.borrow(sibling):
        again = session.fresh_process_samples(node, gpu=sibling)
    check = compare(again, reference, threshold)
    here = workers.gpu_label(workers.current_gpu().uuid)
    return again, check, stats.on_sibling(confirmed, check, here, label)


def fresh_process_samples(command: Sequence[str], cwd: Path, nodeid: str, gpu: str | None = None,
                          injection: tuple[str, slowdown.Injection] | None = None) -> timing.Samples:
    """The benchmark measured again by `command` (a pytest run of `nodeid` alone, measure-only, that ends in
    `--perf-json`, to which the results path is appended) in a new process: a new CUDA context, allocations,
    autotuning, and a later moment of the GPU's power state, so a re-measure independent of the first; on `gpu`
    (a UUID) where given, else on this process's GPU. `injection`: the benchmark's key and the self-test's extra
    work calibrated in this process, handed to the fresh one (--perf-inject-calibration) so that it re-measures the
    same slowed code instead of sizing its extra work anew (three ABAB rounds or more: seconds on the CPU)."""
    with tempfile.TemporaryDirectory(prefix="perf-remeasure-") as tmp:
        out = Path(tmp) / "remeasure.json"
        env = {**os.environ, workers.VISIBLE: gpu} if gpu else None
        calibration: list[str] = []
        if injection is not None:
            injection_file.store(Path(tmp) / "injections.json", *injection)
            calibration = ["--perf-inject-calibration", str(Path(tmp) / "injections.json")]
        command = [*command[:-1], *calibration, command[-1], str(out)]  # ... [calibration] --perf-json OUT
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not out.exists():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"{nodeid}: the re-measure in a fresh process failed (exit {done.returncode}):"
                               f"\n{tail}")
        (record,) = json.loads(out.read_text())["results"]
    return timing.Samples.from_record(record)


def regression_message(record: dict, baseline_environment: dict | None) -> str:
    """What a failed benchmark says: both medians, the change, the threshold and tolerance, and the reference (this
    runner's history, with the command that accepts the change, or the baseline's run)."""
    reference = record.get("reference") or {}
    head = (f"{record['key']}: regression: {record['summary']['median_ms']:.4g} ms now vs "
            f"{record['baseline']['median_ms']:.4g} ms reference ({record['change']:+.1%}), beyond the "
            f"{record['threshold']:.1%} threshold and the {record['tolerance']:.1%} tolerance of the noise model; "
            f"{record['reason']}. ")
    if reference.get("source") == "history":
        return head + (f"Reference: {reference['text']}. If the change is intended: python -m perf history "
                       f"accept {shlex.quote(record['key'])} --reason '...'")
    env = baseline_environment or {}
    return head + (f"Reference: {reference.get('text', 'baseline')}, measured on {env.get('device', '?')} with "
                   f"torch {env.get('torch', '?')} on {env.get('date', '?')}.")
