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
    place,
    ridge,
    roofline_pct,
)
from perf.measure.target import Target

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

    c = measure_ceilings(target, measure, ("fp32", "bf16"), matmul_n=64, copy_bytes=1 << 16)
    assert c.source == "measured" and len(seen) == 3
    assert c.peak("fp32") == pytest.approx(2 * 64**3 / 2e-3 / 1e12)
    assert c.bandwidth_gbs == pytest.approx(2 * (1 << 16) / 2e-3 / 1e9)  # read + written


def test_ceiling_workloads_default_sizes_and_bad_dtype():
    target = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")
    _, moved = copy_workload(target, nbytes=1 << 12)
    assert moved == 2 << 12
    with pytest.raises(ValueError, match="fp8"):
        matmul_workload(target, "fp8", n=8)
