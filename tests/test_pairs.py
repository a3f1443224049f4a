"""Side by side: the ABBA rounds of perf.measure.paired, the pairs the suite forms from its specs, and a run with
--perf-pairs on the CPU device (two pairs whose work differs eightfold, so the ratio's side cannot be mistaken)."""

import json
from pathlib import Path

import pytest

import forked
from perf import gpus
from perf.measure import paired
from perf.measure.target import Target
from perf.measure.timing import Samples
from perf.report import kernel_targets, pairs_table
from perf.suite.decode_specs import attention_specs
from perf.suite.kernel_specs import kernel_specs
from perf.suite.pair_specs import pair_id, pairs
from perf.commands.suite_process import checkout_pythonpath

ROOT = Path(__file__).resolve().parents[1]
H100 = gpus.resolve("H100")
GPU = Target(gpu=H100, present=H100)
CPU = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")


def _samples(ms: float, method: str = "cuda-events", mhz: int | None = None) -> Samples:
    clocks = {"sm_mhz": mhz} if mhz else None
    return Samples((ms, ms, ms), method, cold_l2=True, warmup_calls=3, clocks_before=clocks, clocks_after=clocks)


def test_rounds_flip_the_order_pin_the_first_method_and_take_the_median_ratio():
    calls = []
    # ours drifts slower over the rounds (1.0, 1.1, 1.2, 1.3 ms); the reference stays at 1.2 ms
    times = {"ours": iter([1.0, 1.1, 1.2, 1.3]), "reference": iter([1.2] * 4)}

    def measure_side(side, method):
        calls.append((side, method))
        return _samples(next(times[side]), method="cuda-profiler" if method is None else method, mhz=1980)

    result = paired.measure(measure_side)
    assert [side for side, _ in calls] == ["ours", "reference", "reference", "ours", "ours", "reference",
                                           "reference", "ours"]
    assert calls[0][1] is None and all(m == "cuda-profiler" for _, m in calls[1:])  # pinned after the first window
    assert [r.first for r in result.rounds] == ["ours", "reference", "ours", "reference"]
    assert result.method == "cuda-profiler"
    assert result.ratio == pytest.approx((1.2 / 1.1 + 1.2 / 1.2) / 2)  # median of 1.2, 1.09, 1.0, 0.92
    assert result.ratio_low == pytest.approx(1.2 / 1.3) and result.ratio_high == pytest.approx(1.2)
    assert result.ours_ms == pytest.approx(1.15) and result.reference_ms == pytest.approx(1.2)
    record = result.to_dict()
    assert [r["ours_sm_mhz"] for r in record["rounds"]] == [1980] * 4
    assert record["rounds"][1]["ratio"] == pytest.approx(1.2 / 1.1)


def test_a_method_given_is_used_from_the_first_window_and_rounds_must_be_positive():
    seen = []
    paired.measure(lambda side, method: seen.append(method) or _samples(1.0, method), rounds=2, method="cuda-events")
    assert seen == ["cuda-events"] * 4
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        paired.measure(lambda side, method: _samples(1.0), rounds=0)


def test_clocks_are_averaged_where_read_and_none_where_not():
    assert paired.sm_mhz(Samples((1.0,), "cuda-events", True, 1, {"sm_mhz": 1500}, {"sm_mhz": 1900})) == 1700
    assert paired.sm_mhz(Samples((1.0,), "cuda-events", True, 1, None, {"sm_mhz": 1900})) == 1900
    assert paired.sm_mhz(_samples(1.0)) is None


def test_every_triton_kernel_and_decode_shape_is_paired_with_its_reference_on_a_gpu():
    specs = kernel_specs(GPU) + attention_specs(GPU)
    found = pairs(specs)
    ours = [s for s in specs if s.params["provider"] == "triton"]
    assert len(found) == len(ours) and len({p.key for p in found}) == len(found)
    for p in found:
        assert p.ours.params["provider"] == "triton"
        expected = "cuBLAS" if p.ours.params.get("kernel") == "matmul" else "torch"
        assert p.reference.params["provider"] == expected
        assert p.reference.group == p.ours.group and p.reference.dtype == p.ours.dtype
        assert {k: v for k, v in p.ours.params.items() if k != "provider"} == \
               {k: v for k, v in p.reference.params.items() if k != "provider"}
    ids = {p.id for p in found}
    assert "matmul:bf16:k4096:n14336:tok8192" in ids
    assert sum(p.id.startswith("attention:bf16:") and ":L" in p.id for p in found) == 24  # the decode shapes
    assert pairs(kernel_specs(CPU) + attention_specs(CPU)) == []  # the CPU device times no Triton kernel


def test_a_shape_with_no_or_two_references_forms_no_pair():
    specs = [s for s in kernel_specs(GPU) if s.group == "kernel/mean:h4096"]
    ours = next(s for s in specs if s.params["provider"] == "triton")
    assert pair_id(ours) == ours.id.replace(":triton:", ":")
    alone = [ours]
    assert pairs(alone) == []
    twin = next(s for s in specs if s.params["provider"] == "torch" and s.params["tokens"] == ours.params["tokens"])
    other = type(twin)(**{**twin.__dict__, "id": twin.id + "x", "params": {**twin.params, "provider": "other"}})
    assert len(pairs([ours, twin])) == 1 and pairs([ours, twin, other]) == []


def test_the_table_lists_each_pair_and_the_lowest_and_median_per_group():
    rounds = [{"ours_sm_mhz": 1500, "reference_sm_mhz": 1600}]
    found = [{"id": "a:1", "group": "g", "ours_ms": 1.0, "reference_ms": 0.9, "ratio": 0.9, "ratio_low": 0.88,
              "ratio_high": 0.93, "rounds": rounds},
             {"id": "a:2", "group": "g", "ours_ms": 1.0, "reference_ms": 1.1, "ratio": 1.1, "ratio_low": 1.05,
              "ratio_high": 1.12, "rounds": []}]
    assert pairs_table.rows(found)[0] == ("a:1", "1", "0.9", "0.900x", "0.880-0.930", "1500 / 1600")
    assert pairs_table.rows(found)[1][-1] == "- / -"
    (line,) = pairs_table.summary_lines(found)
    assert line == "g: 2 pairs, lowest 0.900x (a:1), median 1.000x, at or above the reference on 1"


PAIRS_MODULE = '''
import torch

from perf.spec import BenchPair, BenchSpec, Prepared


def _spec(provider, n, tag):
    def build(target):
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        return Prepared(fn=lambda: torch.matmul(a, b, out=out))

    return BenchSpec(family="kernel", id=f"mm:{provider}:fp32:{tag}", dtype="fp32", flops=2 * n**3,
                     bytes=12 * n * n, build=build, group="kernel/mm", params={"provider": provider, "tag": tag})


def perf_pairs(target, options):
    return [BenchPair(ours=_spec("triton", 256, "slower"), reference=_spec("torch", 128, "slower"), id="mm:fp32:slower"),
            BenchPair(ours=_spec("triton", 128, "faster"), reference=_spec("torch", 256, "faster"), id="mm:fp32:faster")]


def test_pair(perf_pair, perf_measure_pair, record_property):
    record_property("perf_pairs", perf_measure_pair(perf_pair))
'''


def test_pairs_run_only_when_asked_and_report_the_side_that_does_more_work_as_slower(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", checkout_pythonpath(ROOT))
    pytester.makeconftest('pytest_plugins = ["perf.plugin"]\n')
    pytester.makepyfile(test_mm_pairs=PAIRS_MODULE)
    common = ["-p", "no:cacheprovider", "--baseline-dir", str(tmp_path / "bl"), "--perf-max-time", "0.2"]
    off = forked.runpytest(pytester, *common)
    off.assert_outcomes(deselected=2)

    out = tmp_path / "pairs.json"
    report = tmp_path / "report"
    on = forked.runpytest(pytester, *common, "--perf-pairs", "--perf-json", str(out), "--perf-report", str(report))
    on.assert_outcomes(passed=2)
    text = on.stdout.str()
    assert "2 side-by-side pairs" in text and "perf: 2 pairs side by side on" in text
    assert "kernel targets" not in text  # none of these pairs is one of the suite's kernels
    doc = json.loads(out.read_text())
    found = {p["id"]: p for p in doc["perf_pairs"]}
    assert set(found) == {"mm:fp32:slower", "mm:fp32:faster"}
    # eight times the multiply-adds: far from 1 on any CPU, whatever a shared machine does to one window
    assert found["mm:fp32:slower"]["ratio"] < 0.5 < 2.0 < found["mm:fp32:faster"]["ratio"]
    for p in found.values():
        assert [r["first"] for r in p["rounds"]] == ["ours", "reference"] * 2
        assert p["method"] == "host" and p["ours"] == "kernel/mm:triton:fp32:" + p["id"].split(":")[-1]
        assert p["ratio_low"] <= p["ratio"] <= p["ratio_high"]
    assert "results" in doc and doc["results"] == []  # no benchmark ran: the pairs alone
    summary = (report / "summary.md").read_text()
    assert "Side by side (2 pairs)" in summary and "mm:fp32:slower" in summary
    assert "perf_pairs (" not in summary  # its own section, not the generic table of perf_* lists


def _pair(pid, ratio, **params):
    return {"id": pid, "ratio": ratio, "params": params}


def test_kernel_targets_are_decided_by_their_own_pairs_only():
    found = [_pair("matmul:m1", 0.79, kernel="matmul", tokens=1), _pair("matmul:m64", 0.95, kernel="matmul", tokens=64),
             _pair("matmul:m128", 0.10, kernel="matmul", tokens=128),  # in neither matmul target
             _pair("matmul:m1024", 0.96, kernel="matmul", tokens=1024),
             _pair("attention:b1:L1024", 1.02, op="attention", L=1024, batch=1),
             _pair("attention:tok64", 0.5, kernel="attention", tokens=64),  # prefill: no target
             _pair("mean:tok512", 0.5, kernel="mean", tokens=512), _pair("mean:tok1024", 1.3, kernel="mean", tokens=1024)]
    verdicts = {v["target"]: v for v in kernel_targets.evaluate(found)}
    large = verdicts["matmul >= 0.95x cuBLAS at M >= 1024"]
    assert (large["verdict"], large["pairs"], large["below"]) == (kernel_targets.MET, 1, 0)
    small = verdicts["matmul >= 0.8x cuBLAS at M <= 64"]
    assert (small["verdict"], small["pairs"], small["below"], small["lowest"]) == (kernel_targets.MISSED, 2, 1,
                                                                                   "matmul:m1")
    assert verdicts["decode attention >= 1.0x SDPA on every shape"]["verdict"] == kernel_targets.MET
    assert verdicts["mean faster than torch from 1024 tokens"]["pairs"] == 1  # tok512 is outside the target
    assert verdicts["rms_norm faster than torch from 1024 tokens"]["verdict"] == kernel_targets.NOT_MEASURED
    row = dict(zip(kernel_targets.HEADER, kernel_targets.rows([small])[0]))
    assert row["lowest"] == "0.790x matmul:m1" and row["below"] == "1"


def test_a_pair_is_timed_with_the_method_its_benchmark_is_pinned_to():
    from types import SimpleNamespace

    from perf.verdict.confirm import pinned_method

    spec = next(s for s in kernel_specs(GPU) if s.params["provider"] == "triton")
    entry = SimpleNamespace(method="cuda-profiler")
    assert pinned_method(spec, entry, GPU) == "cuda-profiler"
    assert pinned_method(spec, None, GPU) is None  # no entry: the first window chooses
    own = type(spec)(**{**spec.__dict__, "method": "cuda-events"})
    assert pinned_method(own, entry, GPU) == "cuda-events"  # the spec's own method wins
    assert pinned_method(spec, entry, CPU) is None  # the host timer only
