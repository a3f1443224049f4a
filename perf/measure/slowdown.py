"""Self-test: a slowdown made of real work of the benchmark's own kind, and the slowdown it actually injects.

An idle spin kernel draws no power, so under a power cap the GPU clocks up during it and the benchmark's own
work runs faster: a spin of 5% injects less than 5% (seen on the H200). Here the extra work is of the kind the
benchmark does: one more matrix product for compute-bound benchmarks (intensity of at least 32 FLOP/byte), one
more copy for the rest. It is sized from timings of the extra work alone, and the slowdown it really adds is
then measured by alternating plain and slowed calls (ABAB...) in the same process, so a run reports the
slowdown it injected, not the one it asked for. The smallest extra kernel takes a few microseconds on a GPU:
a benchmark of 10 us cannot be slowed by 5%, and the measured figure says so.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

from perf.measure.target import Target
from perf.spec import BenchSpec, Prepared

COMPUTE_BOUND_INTENSITY = 32.0  # FLOP/byte: above this the extra work is a matmul, below it a copy
ROUNDS = 3  # ABAB rounds of the calibration
CORRECT_BEYOND = 0.1  # re-size the extra work when the injected slowdown misses the asked one by more
MAX_CORRECTION = 1.5  # at most this factor up (seen on an H200: an unbounded correction turned 5% into 21-29%)
MIN_CORRECTION = 0.5  # at most this factor down
CORRECTIONS = 3  # re-sizings at most (seen on an H200: after one, matmuls asked 5% still gave 11-29%)


@dataclass(frozen=True)
class Injection:
    asked: float  # the fraction asked for
    measured: float  # median over the rounds of slowed / plain - 1
    rounds: tuple[tuple[float, float], ...]  # (plain ms, slowed ms) per ABAB round
    work: str  # what was added to each call, e.g. "matmul 2048x2048x640 bf16"
    kind: str = ""  # "matmul" or "copy": the extra work, with its size, to rebuild it (reuse)
    size: int = 0
    reused: bool = False  # True: taken from a stored calibration, not measured in this process

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Injection":
        """A stored calibration; ValueError unless it names extra work that can be rebuilt (kind and size)."""
        if data["kind"] not in UNIT or not isinstance(data["size"], int) or data["size"] <= 0:
            raise ValueError(f"kind must be one of {sorted(UNIT)} and size a positive integer, got "
                             f"{data['kind']!r} and {data['size']!r}")
        return cls(asked=float(data["asked"]), measured=float(data["measured"]),
                   rounds=tuple((float(p), float(s)) for p, s in data["rounds"]), work=str(data["work"]),
                   kind=data["kind"], size=data["size"], reused=bool(data.get("reused", False)))


MeasureMs = Callable[[Prepared], float]  # the median device time of a prepared closure, in ms


def _dtype(spec: BenchSpec, target: Target):
    import torch

    if target.is_cpu:
        return torch.float32
    return {"fp16": torch.float16, "fp32": torch.float32}.get(spec.dtype, torch.bfloat16)


def _extra(kind: str, size: int, spec: BenchSpec, target: Target) -> tuple[Callable[[], Any], str]:
    """One call of extra work of the given size: a matmul with K = size, or a copy of `size` bytes."""
    import torch

    device = "cpu" if target.is_cpu else "cuda"
    dtype = _dtype(spec, target)
    if kind == "matmul":
        side = 256 if target.is_cpu else 2048
        a = torch.randn(side, size, device=device, dtype=dtype)
        b = torch.randn(size, side, device=device, dtype=dtype)
        out = torch.empty(side, side, device=device, dtype=dtype)
        name = str(dtype).removeprefix("torch.")
        return (lambda: torch.matmul(a, b, out=out)), f"matmul {side}x{side}x{size} {name}"
    src = torch.randn(max(size // 4, 1), device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    return (lambda: dst.copy_(src)), f"copy {src.numel() * 4 / 1e6:.3g} MB"


STEP = {"matmul": 64, "copy": 4096}  # the grain of the extra work's size: K of the matmul, bytes of the copy
UNIT = {"matmul": 512, "copy": 4 * 2**20}  # the size its first timing starts from


def _size_for(kind: str, want_ms: float, spec: BenchSpec, target: Target, measure_ms: MeasureMs) -> int:
    """The size of extra work that takes about want_ms alone: two proportional steps from a unit size."""
    size = UNIT[kind]
    for _ in range(2):
        fn, _ = _extra(kind, size, spec, target)
        took = max(measure_ms(Prepared(fn)), 1e-6)
        size = max(STEP[kind], int(round(size * want_ms / took / STEP[kind])) * STEP[kind])
    return size


def _followed_by(prepared: Prepared, extra: Callable[[], Any]) -> Prepared:
    """`prepared` with `extra` run after each call (of the closure and of every rotation)."""
    def slowed(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run():
            fn()
            extra()
        return run

    return replace(prepared, fn=slowed(prepared.fn), rotations=tuple(slowed(r) for r in prepared.rotations))


def inject(prepared: Prepared, spec: BenchSpec, target: Target, fraction: float,
           measure_ms: MeasureMs) -> tuple[Prepared, Injection]:
    """`prepared` with extra real work after each call, meant to add `fraction` of its time, and what it added."""
    plain_ms = measure_ms(prepared)
    kind = "matmul" if (spec.intensity or 0.0) >= COMPUTE_BOUND_INTENSITY else "copy"
    size = _size_for(kind, fraction * plain_ms, spec, target, measure_ms)

    def attempt(size: int) -> tuple[Prepared, Injection]:
        extra, work = _extra(kind, size, spec, target)
        slow = _followed_by(prepared, extra)
        rounds = tuple((measure_ms(prepared), measure_ms(slow)) for _ in range(ROUNDS))
        return slow, replace(calibration(fraction, rounds, work), kind=kind, size=size)

    return converge(fraction, size, STEP[kind], attempt)


def reuse(prepared: Prepared, spec: BenchSpec, target: Target, stored: Injection) -> tuple[Prepared, Injection]:
    """`prepared` with the extra work of a stored calibration, and that calibration (marked reused): repeated runs
    of one self-test (the rounds of `perf ab`) inject the same work without calibrating each time."""
    extra, _ = _extra(stored.kind, stored.size, spec, target)
    return _followed_by(prepared, extra), replace(stored, reused=True)


def converge(fraction: float, size: int, step: int,
             attempt: Callable[[int], tuple[Prepared, Injection]]) -> tuple[Prepared, Injection]:
    """Try the extra work at `size`, then re-size it proportionally (bounded, at most CORRECTIONS times) while
    the injected slowdown misses the asked one by more than CORRECT_BEYOND; the try closest to the asked one.
    The extra work overlaps with the benchmark or shares its clock and power (seen on an H200: 5% asked, 3.8%
    given by a copy, 13% by a matmul), so its cost inside the benchmark is not its cost alone."""
    tries = [attempt(size)]
    for _ in range(CORRECTIONS):
        measured = tries[-1][1].measured
        if measured <= 0 or abs(measured / fraction - 1) <= CORRECT_BEYOND:
            break
        size = max(step, int(size * min(max(fraction / measured, MIN_CORRECTION), MAX_CORRECTION)))
        tries.append(attempt(size))
    return min(tries, key=lambda t: abs(t[1].measured - fraction))


def calibration(asked: float, rounds: tuple[tuple[float, float], ...], work: str) -> Injection:
    """The injected slowdown from ABAB rounds: the median of each round's slowed / plain - 1."""
    if not rounds or any(p <= 0 for p, _ in rounds):
        raise ValueError(f"calibration needs rounds of positive plain times, got {rounds!r}")
    measured = statistics.median(s / p - 1.0 for p, s in rounds)
    return Injection(asked=asked, measured=measured, rounds=tuple(rounds), work=work)
