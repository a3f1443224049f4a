"""The roofline: what a GPU can attain at a given arithmetic intensity, and how close a result comes.

    intensity  = FLOPs / bytes moved                       (FLOP/byte)
    attainable = min(peak, intensity x bandwidth)          (TFLOP/s)
    ridge      = peak / bandwidth                          (FLOP/byte where the two roofs meet)

Below the ridge a workload is memory-bound (decoding at batch 1 sits near 1 FLOP/byte, far under it);
above it, compute-bound. Ceilings come from the spec table (`Ceilings.from_spec`) or are measured on the
device (`measure_ceilings`: the best of several large matmul shapes per dtype and of several copy sizes,
as mamf-finder searches shapes for the achievable peak, after a long warm-up). A measured ceiling is
never below a result of the same run: `raise_to_achieved` lifts it to the best result and notes which
one, so no result sits above 100% of its measured roofline. Units: TFLOP/s
(10^12 FLOP/s) and GB/s (10^9 bytes/s); 1 FLOP/byte x 1 GB/s = 1 GFLOP/s = 10^-3 TFLOP/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from perf.spec import Prepared

if TYPE_CHECKING:
    from perf.gpus import GpuSpec
    from perf.measure.target import Target

SOURCES = ("spec", "measured")


def intensity(flops: float, bytes: float) -> float:
    """Arithmetic intensity in FLOP/byte."""
    if bytes <= 0:
        raise ValueError(f"intensity: bytes moved must be positive, got {bytes!r}")
    return flops / bytes


def attainable_tflops(intensity: float, peak_tflops: float, bandwidth_gbs: float) -> float:
    """The roof at this intensity: min(peak, intensity x bandwidth), in TFLOP/s."""
    if intensity < 0 or peak_tflops <= 0 or bandwidth_gbs <= 0:
        raise ValueError(
            f"attainable_tflops: need intensity >= 0, peak > 0 and bandwidth > 0; "
            f"got {intensity!r} FLOP/byte, {peak_tflops!r} TFLOP/s, {bandwidth_gbs!r} GB/s"
        )
    return min(peak_tflops, intensity * bandwidth_gbs / 1e3)


def roofline_pct(tflops_achieved: float, intensity: float, peak_tflops: float, bandwidth_gbs: float) -> float:
    """Achieved TFLOP/s as a percentage of the roof at this intensity."""
    roof = attainable_tflops(intensity, peak_tflops, bandwidth_gbs)
    return 100.0 * tflops_achieved / roof if roof > 0 else math.nan


def ridge(peak_tflops: float, bandwidth_gbs: float) -> float:
    """The ridge point in FLOP/byte: intensities below it are memory-bound."""
    if bandwidth_gbs <= 0:
        raise ValueError(f"ridge: bandwidth must be positive, got {bandwidth_gbs!r} GB/s")
    return peak_tflops * 1e3 / bandwidth_gbs


def bound(intensity: float, peak_tflops: float, bandwidth_gbs: float) -> str:
    """'memory' below the ridge, 'compute' at or above it."""
    return "memory" if intensity < ridge(peak_tflops, bandwidth_gbs) else "compute"


@dataclass(frozen=True)
class Ceilings:
    peak_tflops: Mapping[str, float]  # dtype -> TFLOP/s
    bandwidth_gbs: float  # device memory, GB/s
    source: str  # "spec" or "measured"
    notes: tuple[str, ...] = ()  # how a measured ceiling was found or raised

    def __post_init__(self):
        object.__setattr__(self, "notes", tuple(self.notes))  # also when rebuilt from JSON (a list there)
        if self.source not in SOURCES:
            raise ValueError(f"Ceilings.source must be one of {SOURCES}, got {self.source!r}")

    @classmethod
    def from_spec(cls, gpu: "GpuSpec") -> "Ceilings":
        return cls(peak_tflops=dict(gpu.peak_tflops), bandwidth_gbs=float(gpu.mem_bw_gbs), source="spec")

    def peak(self, dtype: str) -> float | None:
        return self.peak_tflops.get(dtype)

    def usable(self, dtype: str) -> bool:
        peak = self.peak(dtype)
        return bool(peak and peak > 0 and self.bandwidth_gbs > 0)

    def ridge(self, dtype: str) -> float | None:
        return ridge(self.peak_tflops[dtype], self.bandwidth_gbs) if self.usable(dtype) else None

    def attainable(self, intensity: float, dtype: str) -> float | None:
        if not self.usable(dtype):
            return None
        return attainable_tflops(intensity, self.peak_tflops[dtype], self.bandwidth_gbs)

    def place(self, flops: int, bytes: int, median_ms: float, dtype: str) -> "RooflinePoint":
        """Where one result sits under these ceilings."""
        return place(flops, bytes, median_ms, dtype, self)


@dataclass(frozen=True)
class RooflinePoint:
    """One result against one set of ceilings; None where the ceilings do not cover the dtype."""

    source: str
    intensity: float | None  # FLOP/byte
    tflops: float  # achieved
    gbs: float  # achieved
    attainable_tflops: float | None
    pct_of_roofline: float | None
    pct_of_bandwidth: float | None  # achieved GB/s over the bandwidth ceiling
    ridge: float | None
    bound: str | None  # "memory" | "compute"
    extra: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}


def place(flops: int, bytes: int, median_ms: float, dtype: str, ceilings: Ceilings) -> RooflinePoint:
    """Achieved rates of a result (FLOPs and bytes of one call, median time) and its place on the roofline."""
    if median_ms <= 0:
        raise ValueError(f"place: median_ms must be positive, got {median_ms!r}")
    seconds = median_ms * 1e-3
    tflops = flops / seconds / 1e12
    gbs = bytes / seconds / 1e9
    ai = flops / bytes if bytes > 0 else None
    pct_bw = 100.0 * gbs / ceilings.bandwidth_gbs if ceilings.bandwidth_gbs > 0 else None
    if ai is None or flops == 0 or not ceilings.usable(dtype):
        return RooflinePoint(ceilings.source, ai, tflops, gbs, None, None, pct_bw, ceilings.ridge(dtype),
                             "memory" if flops == 0 else None)
    peak = ceilings.peak_tflops[dtype]
    return RooflinePoint(
        source=ceilings.source,
        intensity=ai,
        tflops=tflops,
        gbs=gbs,
        attainable_tflops=attainable_tflops(ai, peak, ceilings.bandwidth_gbs),
        pct_of_roofline=roofline_pct(tflops, ai, peak, ceilings.bandwidth_gbs),
        pct_of_bandwidth=pct_bw,
        ridge=ridge(peak, ceilings.bandwidth_gbs),
        bound=bound(ai, peak, ceilings.bandwidth_gbs),
    )


# --- measured ceilings -------------------------------------------------------------------------------

MATMUL_DTYPES = ("bf16", "fp16", "fp32")  # what a plain torch.matmul measures (tf32 and fp8 need other paths)
MATMUL_N = 8192
# (m, n, k) shapes searched for the matmul peak: square and flat, multiples of the large tiles and wave counts that
# differ, so that one of them sits near the best the library reaches on the machine.
MATMUL_SHAPES = ((8192, 8192, 8192), (4096, 4096, 4096), (6144, 6144, 6144), (16384, 8192, 4096), (8192, 4096, 16384),
                 (12288, 12288, 4096))
COPY_BYTES = 2**30  # 1 GiB read + 1 GiB written
COPY_SIZES = (2**28, 2**30, 2**31)
CEILING_WARMUP_MS = 1000.0  # at least this long a warm-up before the first ceiling workload: clocks ramp, caches settle
CEILING_NEXT_WARMUP_MS = 150.0  # before each later one (they run back to back: the GPU is warm already)


def matmul_workload(target: "Target", dtype: str, n: int = MATMUL_N, m: int | None = None,
                    k: int | None = None) -> tuple[Prepared, int]:
    """An (m, k) x (k, n) matmul in `dtype` on the target's device (square n when m and k are not given), and its FLOPs."""
    if dtype not in MATMUL_DTYPES:
        raise ValueError(f"measure_ceilings: dtype {dtype!r} is not measurable with a plain matmul; use one of {MATMUL_DTYPES}")
    import torch

    m = n if m is None else m
    k = n if k is None else k
    gen = torch.Generator(device=target.device).manual_seed(0)
    tdtype = target.torch_dtype(dtype)
    a = torch.randn((m, k), device=target.device, dtype=tdtype, generator=gen)
    b = torch.randn((k, n), device=target.device, dtype=tdtype, generator=gen)
    out = torch.empty((m, n), device=target.device, dtype=tdtype)

    def fn():
        torch.matmul(a, b, out=out)

    return Prepared(fn=fn), 2 * m * n * k


def copy_workload(target: "Target", nbytes: int = COPY_BYTES) -> tuple[Prepared, int]:
    """A device-to-device copy of `nbytes`, and the bytes it moves (read + written)."""
    import torch

    numel = nbytes // 4
    src = torch.rand(numel, device=target.device, dtype=torch.float32)
    dst = torch.empty_like(src)

    def fn():
        dst.copy_(src)

    return Prepared(fn=fn), 2 * numel * 4


def measure_ceilings(
    target: "Target",
    measure: Callable[[Prepared], float],
    dtypes: tuple[str, ...] = ("bf16",),
    *,
    matmul_shapes: tuple[tuple[int, int, int], ...] = MATMUL_SHAPES,
    copy_sizes: tuple[int, ...] = COPY_SIZES,
) -> Ceilings:
    """Ceilings measured on the target's device: `measure(prepared) -> median_ms` times each workload (give it a
    long warm-up first, CEILING_WARMUP_MS, then CEILING_NEXT_WARMUP_MS); the ceiling is the best over the shapes and
    sizes, and the notes say which."""
    peaks: dict[str, float] = {}
    notes: list[str] = []
    for dtype in dtypes:
        best = (0.0, None)
        for m, n, k in matmul_shapes:
            prepared, flops = matmul_workload(target, dtype, n, m, k)
            best = max(best, (flops / (measure(prepared) * 1e-3) / 1e12, (m, n, k)), key=lambda b: b[0])
            del prepared
        peaks[dtype] = best[0]
        notes.append(f"{dtype} peak {best[0]:.4g} TFLOP/s at m,n,k = {best[1]} (best of {len(matmul_shapes)} shapes)")
    bandwidth, best_size = 0.0, None
    for size in copy_sizes:
        prepared, moved = copy_workload(target, size)
        gbs = moved / (measure(prepared) * 1e-3) / 1e9
        bandwidth, best_size = max((bandwidth, best_size), (gbs, size), key=lambda b: b[0])
        del prepared
    notes.append(f"bandwidth {bandwidth:.4g} GB/s copying {best_size} bytes (best of {len(copy_sizes)} sizes)")
    return Ceilings(peak_tflops=peaks, bandwidth_gbs=bandwidth, source="measured", notes=tuple(notes))


def timed_ceilings(target: "Target", settings) -> Ceilings:
    """measure_ceilings timed by the suite's timer with `settings` (perf.measure.timing.TimingSettings), the first
    workload after a warm-up of at least CEILING_WARMUP_MS, each later one after CEILING_NEXT_WARMUP_MS."""
    import dataclasses
    import itertools

    from perf.measure import timing

    first = dataclasses.replace(settings, warmup_ms=max(settings.warmup_ms, CEILING_WARMUP_MS))
    then = dataclasses.replace(settings, warmup_ms=max(settings.warmup_ms, CEILING_NEXT_WARMUP_MS))
    warmups = itertools.chain([first], itertools.repeat(then))  # the workloads run back to back: warm after one

    def median_ms(prepared):
        return timing.measure(prepared, target, next(warmups)).summary().median_ms

    return measure_ceilings(target, median_ms, MATMUL_DTYPES)


def raise_to_achieved(ceilings: Ceilings, achieved: Iterable[tuple[str, str, float, float]]) -> Ceilings:
    """These ceilings, raised where a result of the same run went past them: `achieved` holds (key, dtype,
    TFLOP/s, GB/s) per result. A peak below a result's TFLOP/s becomes that result (per dtype), the bandwidth
    below a result's GB/s becomes that result; the notes name the result. A ceiling is a claim about the
    machine, and a result has just shown the machine does better."""
    peaks = dict(ceilings.peak_tflops)
    bandwidth = ceilings.bandwidth_gbs
    raised_by: dict[str, tuple[str, float, float]] = {}
    for key, dtype, tflops, gbs in achieved:
        if dtype in peaks and tflops > peaks[dtype]:
            raised_by[f"{dtype} peak"] = (key, peaks.get(dtype) if f"{dtype} peak" not in raised_by
                                          else raised_by[f"{dtype} peak"][1], tflops)
            peaks[dtype] = tflops
        if gbs > bandwidth:
            raised_by["bandwidth"] = (key, bandwidth if "bandwidth" not in raised_by else raised_by["bandwidth"][1], gbs)
            bandwidth = gbs
    if not raised_by:
        return ceilings
    notes = [f"{what} raised from {old:.4g} to {new:.4g} ({'GB/s' if what == 'bandwidth' else 'TFLOP/s'}) by {key}, "
             f"a result of this run" for what, (key, old, new) in sorted(raised_by.items())]
    return Ceilings(peak_tflops=peaks, bandwidth_gbs=bandwidth, source=ceilings.source,
                    notes=ceilings.notes + tuple(notes))
