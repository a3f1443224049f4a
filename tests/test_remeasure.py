"""The fresh-process re-measure of a suspected regression, as the measuring process sees it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def test_a_fresh_process_re_measure_starts_after_this_process_let_its_inputs_go(monkeypatch, tmp_path):
    """A benchmark's inputs can fill most of a GPU (decode attention b64 L32k: 34 GB of caches on an 80 GB H100, whose
    re-measure ran out of memory while the first process still held them): by the time the fresh process starts, the
    measuring process must hold none of them."""
    import gc
    import weakref

    from perf import plugin
    from perf.measure.timing import Samples
    from perf.options import PerfOptions
    from perf.spec import BenchSpec, Prepared
    from perf.verdict.baselines import Baselines

    class Inputs:  # stands for a benchmark's tensors, reachable only through its Prepared
        def __call__(self):
            return None

    built = []

    def build(target):
        inputs = Inputs()
        built.append(weakref.ref(inputs))
        return Prepared(fn=inputs)

    spec = BenchSpec(family="kernel", id="big:fp32", dtype="fp32", flops=0, bytes=1, build=build)
    session = plugin.PerfSession(SimpleNamespace(rootpath=tmp_path), PerfOptions(gpu=None, baseline_dir=tmp_path))
    import dataclasses

    from perf.measure.summary import summarize

    entry = {**dataclasses.asdict(summarize((1.0, 1.01, 0.99) * 20)), "method": "host",
             "run_medians_ms": [1.0, 1.0, 1.0], "between_run_sigma": 0.0, "env": "e"}
    session.baselines = Baselines(path=tmp_path / "cpu.json", gpu="cpu", environments={"e": {}},
                                  entries={spec.key: entry})
    session.ceilings = []
    slow = Samples(samples_ms=(2.0,) * 50, method="host", cold_l2=False, warmup_calls=1)  # 2x the entry: a regression
    monkeypatch.setattr(session, "_samples", lambda spec, prepared, method=None: slow)
    alive_at_fresh_process = []

    def fresh_process(node, gpu=None):
        gc.collect()
        alive_at_fresh_process.append(built[0]() is not None)
        return slow

    monkeypatch.setattr(session, "_fresh_process_samples", fresh_process)
    with pytest.raises(pytest.fail.Exception, match="regression"):
        session.measure(spec, SimpleNamespace(nodeid="t.py::big", get_closest_marker=lambda name: None))
    assert alive_at_fresh_process == [False]
