"""The re-measures of a suspected regression, as the measuring process sees them: the fresh process on this GPU
(started once this process has let its inputs go) and the sibling check (a fresh process on another GPU of the run).
The measurements are stand-ins (a regression of 2x, a sibling at the entry); what runs is the session's measure() (perf/verdict/confirm.py)."""

from __future__ import annotations

import dataclasses
import gc
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest

from perf.measure import workers
from perf.measure.gpu_locks import GpuLocks
from perf.measure.summary import summarize
from perf.measure.timing import Samples
from perf.options import PerfOptions
from perf.session import PerfSession
from perf.spec import BenchSpec, Prepared
from perf.verdict.baselines import Baselines


class Inputs:  # stands for a benchmark's tensors, reachable only through its Prepared
    def __call__(self):
        return None


def _samples(ms: float) -> Samples:
    return Samples(samples_ms=(ms,) * 50, method="host", cold_l2=False, warmup_calls=1)


SLOW, AT_ENTRY = _samples(2.0), _samples(1.0)  # against an entry of 1.0 ms: a regression, and none
NODE = SimpleNamespace(nodeid="t.py::big", get_closest_marker=lambda name: None)


def _session(tmp_path: Path, monkeypatch, built: list):
    """A session with one benchmark whose entry is 1.0 ms, measured at 2.0 ms in this process; `built` collects weak
    references to the inputs each build makes."""
    def build(target):
        inputs = Inputs()
        built.append(weakref.ref(inputs))
        return Prepared(fn=inputs)

    spec = BenchSpec(family="kernel", id="big:fp32", dtype="fp32", flops=0, bytes=1, build=build)
    session = PerfSession(SimpleNamespace(rootpath=tmp_path), PerfOptions(gpu=None, baseline_dir=tmp_path))
    entry = {**dataclasses.asdict(summarize((1.0, 1.01, 0.99) * 20)), "method": "host",
             "run_medians_ms": [1.0, 1.0, 1.0], "between_run_sigma": 0.0, "env": "e"}
    session.baselines = Baselines(path=tmp_path / "cpu.json", gpu="cpu", environments={"e": {}},
                                  entries={spec.key: entry})
    session.ceilings = []
    monkeypatch.setattr(session, "samples", lambda spec, prepared, method=None: SLOW)
    return session, spec


def test_a_fresh_process_re_measure_starts_after_this_process_let_its_inputs_go(monkeypatch, tmp_path):
    """A benchmark's inputs can fill most of a GPU (decode attention b64 L32k: 34 GB of caches on an 80 GB H100, whose
    re-measure ran out of memory while the first process still held them): by the time the fresh process starts, the
    measuring process must hold none of them."""
    built: list = []
    session, spec = _session(tmp_path, monkeypatch, built)
    alive_at_fresh_process = []

    def fresh_process(node, gpu=None, injection=None):
        gc.collect()
        alive_at_fresh_process.append(built[0]() is not None)
        return SLOW

    monkeypatch.setattr(session, "fresh_process_samples", fresh_process)
    with pytest.raises(pytest.fail.Exception, match="regression"):
        session.measure(spec, NODE)
    assert alive_at_fresh_process == [False]


@pytest.mark.parametrize("on_sibling, verdict, slow_here_only", [(AT_ENTRY, "unreliable", True),
                                                                 (SLOW, "regression", False)])
def test_a_regression_confirmed_here_is_measured_on_the_sibling_gpu(monkeypatch, tmp_path, on_sibling, verdict,
                                                                    slow_here_only):
    built: list = []
    session, spec = _session(tmp_path, monkeypatch, built)
    here, there = workers.PhysicalGpu(0, "GPU-aaaa", "H"), workers.PhysicalGpu(1, "GPU-bbbb", "H")
    monkeypatch.setattr(workers, "current_gpu", lambda: here)
    monkeypatch.setattr(workers, "host_gpus", lambda: [here, there])
    session.gpu_locks = GpuLocks(tmp_path, here.uuid, [here.uuid, there.uuid])
    on_gpus = []

    def fresh_process(node, gpu=None, injection=None):
        on_gpus.append(gpu)
        if gpu is not None:  # the sibling's lock is this worker's while it measures there
            assert session.gpu_locks._held.keys() == {there.uuid}
        return on_sibling if gpu == there.uuid else SLOW

    monkeypatch.setattr(session, "fresh_process_samples", fresh_process)
    if verdict == "regression":
        with pytest.raises(pytest.fail.Exception, match="and on its sibling GPU 1"):
            session.measure(spec, NODE)
        record = session.results[-1]
    else:
        record = session.measure(spec, NODE)
    assert on_gpus == [None, there.uuid]  # this GPU's fresh process, then the sibling's
    assert record["verdict"] == verdict
    change = pytest.approx(on_sibling.summary().median_ms - 1)
    assert record["sibling_check"] == {"gpu": "GPU 1 (GPU-bbbb)", "change": change, "slow_here_only": slow_here_only}
    assert [m["where"] for m in record["measurements"]] == ["this process", "fresh process",
                                                           "fresh process on GPU 1 (GPU-bbbb)"]


@pytest.mark.parametrize("given", [True, False], ids=["injected", "plain"])
def test_the_fresh_process_re_measures_with_the_extra_work_calibrated_here(monkeypatch, tmp_path, given):
    """A self-test's slowed benchmark is re-measured with the extra work that this process sized (reused there, not
    sized anew); a plain one with the command as it is."""
    import subprocess

    from perf.measure import injection_file, slowdown
    from perf.verdict import confirm

    made = slowdown.Injection(asked=0.5, measured=0.47, rounds=((1.0, 1.47),), work="copy of 4096 floats",
                              kind="copy", size=4096)
    seen = {}

    def run(args, **kwargs):
        calibration = args.index("--perf-inject-calibration") + 1 if "--perf-inject-calibration" in args else None
        seen.update(args=args, stored=injection_file.find(Path(args[calibration]), "k", 0.5) if calibration else None)
        return subprocess.CompletedProcess(args, 1, "", "stopped here")

    monkeypatch.setattr(confirm.subprocess, "run", run)
    command = ["python", "-m", "pytest", "t.py::b", "--perf-measure-only", "--perf-json"]
    with pytest.raises(RuntimeError, match="the re-measure in a fresh process failed"):
        confirm.fresh_process_samples(command, tmp_path, "t.py::b", injection=("k", made) if given else None)
    assert seen["args"][-2] == "--perf-json" and seen["args"][-1].endswith("remeasure.json")
    if given:
        assert seen["args"][:5] == command[:5] and seen["stored"] == made
    else:
        assert seen["args"][:-1] == command and seen["stored"] is None
