import math

import pytest

from perf import gpus
from perf.verdict.roofline import (
    Ceilings,
    attainable_tflops,
    bound,
    copy_workload,
    intensity,
    matmul_workload,
    measure_ceilings,
    raise_to_achieved,
    place,
    ridge,
    roofline_pct,
)
from perf.measure.target import Target
from perf.verdict import results

H100 = gpus.resolve("H100")


def test_intensity_and_zero_bytes():
    assert intensity(2_000, 1_000) == 2.0
    with pytest.raises(ValueError, match="bytes"):
        intensity(1, 0)


def test_attainable_is_the_lower_roof():
    # 1 FLOP/byte at 3350 GB/s: 3.35 TFLOP/s, far under the 989 TFLOP/s peak.
    assert attainable_tflops(1.0, 989.4, 3350.0) == pytest.approx(3.35)
    assert attainable_tflops(1e6, 989.4, 3350.0) == 989.4
    with pytest.raises(ValueError):
        attainable_tflops(1.0, 0.0, 3350.0)


def test_ridge_and_bound():
    r = ridge(989.4, 3350.0)
    assert r == pytest.approx(295.3, rel=1e-3)
    assert attainable_tflops(r, 989.4, 3350.0) == pytest.approx(989.4)
    assert bound(1.0, 989.4, 3350.0) == "memory"
    assert bound(400.0, 989.4, 3350.0) == "compute"


def test_roofline_pct():
    assert roofline_pct(1.675, 1.0, 989.4, 3350.0) == pytest.approx(50.0)
    assert roofline_pct(989.4, 1000.0, 989.4, 3350.0) == pytest.approx(100.0)


def test_ceilings_from_spec():
    c = Ceilings.from_spec(H100)
    assert c.source == "spec" and c.bandwidth_gbs == 3350.0 and c.peak("bf16") == 989.4
    assert c.ridge("bf16") == pytest.approx(ridge(989.4, 3350.0))
    assert c.ridge("int4") is None and c.attainable(1.0, "int4") is None
    with pytest.raises(ValueError, match="source"):
        Ceilings({}, 1.0, source="guessed")
    with pytest.raises(Exception):
        c.bandwidth_gbs = 1.0  # frozen


def test_cpu_spec_has_no_roof():
    c = Ceilings.from_spec(gpus.CPU)
    p = c.place(flops=10**9, bytes=10**9, median_ms=1.0, dtype="fp32")
    assert p.attainable_tflops is None and p.pct_of_roofline is None
    assert p.tflops == pytest.approx(1.0)


def test_place_decode_gemv_is_memory_bound():
    # (1, 4096) x (4096, 4096) bf16: ~1 FLOP/byte
    flops, nbytes = 2 * 4096 * 4096, 2 * (4096 + 4096 * 4096 + 4096)
    ms = nbytes / 3000e9 * 1e3  # as if it ran at 3000 GB/s
    p = place(flops, nbytes, ms, "bf16", Ceilings.from_spec(H100))
    assert p.bound == "memory" and p.intensity == pytest.approx(1.0, rel=1e-3)
    assert p.gbs == pytest.approx(3000.0)
    assert p.pct_of_bandwidth == pytest.approx(100 * 3000 / 3350)
    assert p.pct_of_roofline == pytest.approx(p.pct_of_bandwidth, rel=1e-9)
    assert set(p.as_dict()) >= {"intensity", "tflops", "gbs", "pct_of_roofline", "bound", "source"}


def test_place_pure_copy():
    p = place(0, 2**30, 1.0, "bf16", Ceilings.from_spec(H100))
    assert p.tflops == 0 and p.bound == "memory" and p.pct_of_roofline is None
    assert not math.isnan(p.pct_of_bandwidth)


def test_measure_ceilings_with_a_fake_timer():
    target = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")
    seen = []

    def measure(prepared):
        prepared.fn()  # the closures run on the CPU device
        seen.append(prepared)
        return 2.0  # ms

    c = measure_ceilings(target, measure, ("fp32", "bf16"), matmul_shapes=((64, 64, 64),), copy_sizes=(1 << 16,))
    assert c.source == "measured" and len(seen) == 3
    assert c.peak("fp32") == pytest.approx(2 * 64**3 / 2e-3 / 1e12)
    assert c.bandwidth_gbs == pytest.approx(2 * (1 << 16) / 2e-3 / 1e9)  # read + written


def test_measured_ceilings_are_the_best_over_shapes_and_sizes():
    target = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")
    shapes = ((32, 64, 16), (64, 64, 64))
    calls = []

    def timer(prepared):
        calls.append(prepared)
        return [2.0, 1.0, 4.0, 1.0][len(calls) - 1]  # ms: matmul 1, matmul 2, copy 1, copy 2

    c = measure_ceilings(target, timer, ("fp32",), matmul_shapes=shapes, copy_sizes=(1 << 14, 1 << 16))
    assert c.peak("fp32") == pytest.approx(max(2 * 32 * 64 * 16 / 2e-3, 2 * 64**3 / 1e-3) / 1e12)
    assert c.bandwidth_gbs == pytest.approx(2 * (1 << 16) / 1e-3 / 1e9)
    assert any("(64, 64, 64)" in n for n in c.notes) and any(str(1 << 16) in n for n in c.notes)


def test_a_measured_ceiling_is_never_below_a_result_of_the_same_run():
    measured = Ceilings(peak_tflops={"bf16": 731.0, "fp32": 50.0}, bandwidth_gbs=4000.0, source="measured")
    spec = Ceilings.from_spec(H100)
    gemm = {"key": "gemm/big", "dtype": "bf16", "flops": 2 * 8192**3, "bytes": 3 * 2 * 8192**2,
            "summary": {"median_ms": 2 * 8192**3 / 802e12 * 1e3}, "roofline": {}}  # 802 TFLOP/s
    copy_like = {"key": "kernel/rms", "dtype": "bf16", "flops": 4 * 8192 * 4096, "bytes": 4100 * 8192 * 4,
                 "summary": {"median_ms": 4100 * 8192 * 4 / 4200e9 * 1e3}, "roofline": {}}  # 4200 GB/s
    slow = {"key": "gemm/small", "dtype": "fp32", "flops": 2 * 64**3, "bytes": 3 * 4 * 64**2,
            "summary": {"median_ms": 1.0}, "roofline": {}}
    records = [gemm, copy_like, slow]
    settled = results.settle_ceilings(records, [spec, measured])
    assert settled[0] is spec
    raised = settled[1]
    assert raised.peak("bf16") == pytest.approx(802.0) and raised.peak("fp32") == 50.0
    assert raised.bandwidth_gbs == pytest.approx(4200.0)
    assert any("bf16 peak raised from 731 to 802" in n and "gemm/big" in n for n in raised.notes)
    assert any("bandwidth raised from 4000 to 4200" in n and "kernel/rms" in n for n in raised.notes)
    for r in records:
        pct = r["roofline"]["measured"]["pct_of_roofline"]
        assert pct <= 100.0 + 1e-9, (r["key"], pct)
    assert r["roofline"]["spec"]["source"] == "spec"
    # nothing to raise: the same object back
    assert raise_to_achieved(measured, [("k", "bf16", 10.0, 10.0)]) is measured


def test_ceiling_workloads_default_sizes_and_bad_dtype():
    target = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")
    _, moved = copy_workload(target, nbytes=1 << 12)
    assert moved == 2 << 12
    with pytest.raises(ValueError, match="fp8"):
        matmul_workload(target, "fp8", n=8)


def test_ceilings_rebuilt_from_json_can_still_be_raised():
    # an xdist worker sends its measured ceilings as JSON; the controller rebuilds them (notes arrive as a list)
    import dataclasses
    import json

    sent = Ceilings(peak_tflops={"bf16": 700.0}, bandwidth_gbs=4000.0, source="measured", notes=("found",))
    rebuilt = Ceilings(**json.loads(json.dumps(dataclasses.asdict(sent))))
    raised = raise_to_achieved(rebuilt, [("gemm/x", "bf16", 800.0, 10.0)])
    assert raised.peak_tflops["bf16"] == 800.0 and raised.notes[0] == "found" and len(raised.notes) == 2
