"""The self-test's slowdown: real work of the benchmark's kind, and the slowdown measured ABAB (CPU device)."""

import pytest

from perf import gpus
from perf.measure import slowdown, timing
from perf.measure.target import Target
from perf.spec import BenchSpec, Prepared
from perf.plugin import interpreter_blocks


def test_calibration_is_the_median_of_the_rounds():
    c = slowdown.calibration(0.05, ((1.0, 1.04), (1.0, 1.06), (2.0, 2.1)), "copy 1 MB")
    assert c.measured == pytest.approx(0.05) and c.asked == 0.05
    with pytest.raises(ValueError):
        slowdown.calibration(0.05, (), "x")


def test_abab_calibration_on_the_cpu_reports_what_it_injected():
    import torch

    cpu = gpus.detect()
    target = Target(gpu=cpu, present=cpu, dtype="bf16", sweep="compact")
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    spec = BenchSpec("kernel", "matmul:test", "fp32", flops=2 * 256**3, bytes=3 * 256 * 256 * 4,
                     build=lambda t: Prepared(lambda: a @ b))
    settings = timing.TimingSettings(warmup_ms=20, max_time_s=0.2, min_time_s=0.05)

    def median_ms(prepared):
        return timing.measure(prepared, target, settings).summary().median_ms

    slowed, injection = slowdown.inject(spec.build(target), spec, target, 1.0, median_ms)
    assert injection.work.startswith("matmul 256x256x")  # intensity above 32 FLOP/byte: an extra matmul
    assert len(injection.rounds) == slowdown.ROUNDS
    assert 0.3 < injection.measured < 3.0  # asked 100%: what the shared CPU really gave, within reason
    assert median_ms(slowed) > median_ms(spec.build(target))


def test_timing_on_a_gpu_under_the_triton_interpreter_is_refused():
    cpu = gpus.detect()
    h100 = gpus.resolve("H100")
    on_gpu = Target(gpu=h100, present=h100, dtype="bf16", sweep="compact")
    assert "TRITON_INTERPRET=1" in interpreter_blocks({"TRITON_INTERPRET": "1"}, on_gpu)
    assert interpreter_blocks({}, on_gpu) is None
    assert interpreter_blocks({"TRITON_INTERPRET": "1"}, Target(gpu=cpu, present=cpu, dtype="bf16",
                                                                 sweep="compact")) is None
