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


def _fake_attempt(cost_per_unit: float, sizes: list[int]):
    """An extra work whose slowdown inside the benchmark is cost_per_unit x its size (not what it costs alone)."""
    def attempt(size: int):
        sizes.append(size)
        return None, slowdown.Injection(asked=0.05, measured=cost_per_unit * size, rounds=(), work=f"size {size}")
    return attempt


def test_an_overshooting_extra_work_is_resized_until_it_injects_about_what_was_asked():
    sizes: list[int] = []
    # sized for 5% from its cost alone, it injects 13% inside the benchmark (a matmul on an H200)
    _, injected = slowdown.converge(0.05, 1000, 64, _fake_attempt(0.13 / 1000, sizes))
    assert abs(injected.measured / 0.05 - 1) <= slowdown.CORRECT_BEYOND
    assert len(sizes) > 2  # one bounded correction (x0.5) would have left 6.5%
    assert all(b >= a * slowdown.MIN_CORRECTION for a, b in zip(sizes, sizes[1:]))


def test_the_try_closest_to_the_asked_slowdown_is_kept_when_none_converges():
    sizes: list[int] = []
    measured = iter([0.03, 0.09, 0.045, 0.11])  # a response that jumps (a tile boundary of the extra matmul)

    def attempt(size: int):
        sizes.append(size)
        return size, slowdown.Injection(asked=0.05, measured=next(measured), rounds=(), work="")

    chosen, injected = slowdown.converge(0.05, 1000, 64, attempt)
    assert injected.measured == 0.045 and chosen == sizes[2]
    assert len(sizes) == 1 + slowdown.CORRECTIONS


def test_a_stored_calibration_must_name_extra_work_that_can_be_rebuilt():
    stored = {"asked": 0.05, "measured": 0.05, "rounds": [[1.0, 1.05]], "work": "copy 4 MB", "kind": "copy", "size": 4096}
    assert slowdown.Injection.from_dict(stored).size == 4096
    for bad in ({"kind": "spin"}, {"size": 0}, {"size": 1.5}):
        with pytest.raises(ValueError, match="kind must be one of"):
            slowdown.Injection.from_dict({**stored, **bad})
