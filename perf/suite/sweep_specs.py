"""The paper's GEMM sweeps (family "sweep"), each point with its predicted wave-quantization efficiency.

    fig5a   (m, 4096) x (4096, m)            over m
    fig5b   (27648, 4096) x (4096, k)        over k
    fig5c   (2304, 4096) x (4096, k)         over k
    fig7a   attention score BMM, a = 32      over h (h/a = h/32; params carry h/a and its power of two)
    fig7b   attention over value, a = 32     over h
    fig8    attention score BMM              over h, one series per a (h/a kept a multiple of 8)
    fig9    attention over value             over h, one series per a
    fig10a  MLP h -> 4h, a = 128             over h
    fig10b  MLP 4h -> h, a = 128             over h
    fig20a  logits (b*s, h) x (h, v)         over v, coarse
    fig20b  logits                           over v, zoomed in on 51200 (multiples of 64 and neighbours)
    swiglu  SwiGLU MLP up and down, h = 4096 over the intermediate size near 8h/3 (sec. VII-B)
    align   (4096, 4096) x (4096, 4096) and the same with one of m, n, k off alignment by one element (4095)

The attention and MLP sweeps use the paper's layer at b = 4, s = 2048 (b*s = 8192 tokens); the logits
use h = 4096. Compact by default; target.sweep == "full" adds points. Every spec's params carry
"sweep" (figure), "x" (the swept value) and "predicted_wave_efficiency" (128x256 tiles, the better
orientation, against the target GPU's SM count), so a report can mark the predicted dips next to the
measured curve. id: <sweep>:<gemm>:<dtype>:x<x>[:a<a>][:<label>]   group: sweep/<sweep>[:a<a>][:<gemm>]
(label: the align sweep's dimension off by one, m, n or k, or "none"; the swiglu sweep's groups name the GEMM)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from perf.shape.quantization import DEFAULT_TILE, tile_efficiency, wave_efficiency
from perf.shape.shapes import DTYPE_BYTES, Gemm
from perf.spec import BenchSpec
from perf.suite.gemm_specs import gemm_build
from perf.measure.target import Target

B, S = 4, 2048  # the layer the attention and MLP sweeps use
TOKENS = B * S
LOGITS_HIDDEN = 4096
CPU_DTYPE = "fp32"


@dataclass(frozen=True)
class Point:
    sweep: str
    x: int
    gemm: Gemm
    extra: Mapping[str, int]  # other parameters of the point (a, h/a, ...), also a series key for plots
    label: str = ""  # tells apart points of one sweep at the same x (the align sweep's dimension)


def _pow2(n: int, cap: int = 64) -> int:
    """Largest power of two dividing n, capped (the paper colours h/a by it, up to 64)."""
    p = 1
    while n % (p * 2) == 0 and p * 2 <= cap:
        p *= 2
    return p


def fig5a(ms) -> list[Point]:
    return [Point("fig5a", m, Gemm("gemm", m=m, n=m, k=4096), {}) for m in ms]


def fig5bc(sweep: str, m: int, ks) -> list[Point]:
    return [Point(sweep, k, Gemm("gemm", m=m, n=k, k=4096), {}) for k in ks]


def attention_points(sweep: str, which: str, a: int, ds, b: int = B, s: int = S) -> list[Point]:
    """Score: b*a BMMs (s, d) x (d, s); over value: b*a BMMs (s, s) x (s, d); d = h/a, x = h."""
    points = []
    for d in ds:
        g = (Gemm("attn_score", m=s, n=s, k=d, batch=b * a) if which == "score"
             else Gemm("attn_over_value", m=s, n=d, k=s, batch=b * a))
        points.append(Point(sweep, a * d, g, {"a": a, "h_over_a": d, "h_over_a_pow2": _pow2(d)}))
    return points


def mlp_points(sweep: str, up: bool, hs, tokens: int = TOKENS) -> list[Point]:
    return [
        Point(sweep, h, Gemm("mlp_up", m=tokens, n=4 * h, k=h) if up else Gemm("mlp_down", m=tokens, n=h, k=4 * h),
              {"a": 128})
        for h in hs
    ]


def logits_points(sweep: str, vs, tokens: int = TOKENS, h: int = LOGITS_HIDDEN) -> list[Point]:
    return [Point(sweep, v, Gemm("logits", m=tokens, n=v, k=h), {"h": h, "v_mod_64": v % 64}) for v in vs]


SWIGLU_HIDDEN = 4096
# Near 8h/3 = 10922.67: the rounded value, multiples of 8, 32, 64, 128 and 256 around it (Llama-2-7B: 11008).
SWIGLU_SIZES = (10752, 10880, 10912, 10920, 10923, 10944, 11008, 11136, 11264)


def swiglu_points(sizes, h: int = SWIGLU_HIDDEN, tokens: int = TOKENS) -> list[Point]:
    return [Point("swiglu", f, g, {"h": h, "ffn_mod_64": f % 64})
            for f in sizes for g in (Gemm("mlp_up", m=tokens, n=f, k=h), Gemm("mlp_down", m=tokens, n=h, k=f))]


ALIGN_SIZE = 4096


def align_points(size: int = ALIGN_SIZE) -> list[Point]:
    """A square GEMM, and the same with one dimension one element short of the alignment."""
    off = size - 1
    return [
        Point("align", size, Gemm("gemm", m=size, n=size, k=size), {"off_by": 0}, "none"),
        Point("align", off, Gemm("gemm", m=off, n=size, k=size), {"off_by": 1}, "m"),
        Point("align", off, Gemm("gemm", m=size, n=off, k=size), {"off_by": 1}, "n"),
        Point("align", off, Gemm("gemm", m=size, n=size, k=off), {"off_by": 1}, "k"),
    ]


def _fig89_ds(a: int, hs) -> list[int]:
    """h/a for each target hidden size, rounded to a multiple of 8 (so the lines stay tensor-core friendly)."""
    return sorted({max(8, 8 * round(h / a / 8)) for h in hs})


FIG89_AS = {"compact": (12, 32, 64, 96), "full": (12, 24, 32, 40, 64, 80, 96)}


def gpu_points(full: bool) -> list[Point]:
    if full:
        ms = range(128, 16384 + 1, 128)
        ks = range(64, 6144 + 1, 64)
        ds7 = range(4, 256 + 1, 4)
        hs89 = range(2048, 16384 + 1, 1024)
        hs10 = range(1024, 32768 + 1, 1024)
        vs_coarse = (8000, 8192, 16000, 16384, 32000, 32064, 32768, 50257, 50304, 51200, 64000, 65536, 100000,
                     100352, 128000, 128256)
        vs_zoom = range(51136, 51264 + 1, 4)
    else:
        ms = range(512, 8192 + 1, 512)
        ks = range(256, 6144 + 1, 256)
        ds7 = (32, 40, 48, 56, 60, 64, 72, 80, 96, 100, 112, 120, 128, 136, 160, 192, 256)
        hs89 = (2048, 4096, 8192, 12288, 16384)
        hs10 = (2048, 4096, 6144, 8192, 10240, 12288, 16384)
        vs_coarse = (32000, 32768, 50257, 50304, 65536, 128000, 128256)
        vs_zoom = (51136, 51150, 51192, 51199, 51200, 51201, 51208, 51216, 51232, 51250, 51264)
    a_series = FIG89_AS["full" if full else "compact"]
    return [
        *fig5a(ms),
        *fig5bc("fig5b", 27648, ks),
        *fig5bc("fig5c", 2304, ks),
        *attention_points("fig7a", "score", 32, ds7),
        *attention_points("fig7b", "over_value", 32, ds7),
        *(p for a in a_series for p in attention_points("fig8", "score", a, _fig89_ds(a, hs89))),
        *(p for a in a_series for p in attention_points("fig9", "over_value", a, _fig89_ds(a, hs89))),
        *mlp_points("fig10a", True, hs10),
        *mlp_points("fig10b", False, hs10),
        *logits_points("fig20a", vs_coarse),
        *logits_points("fig20b", vs_zoom),
        *swiglu_points(SWIGLU_SIZES),
        *align_points(),
    ]


def cpu_points() -> list[Point]:
    """A handful of tiny points so that the flow runs on the CPU device."""
    return [
        *fig5a((64, 96)),
        *attention_points("fig7a", "score", 4, (8, 12), b=1, s=64),
        *mlp_points("fig10a", True, (64,), tokens=64),
        *logits_points("fig20b", (500, 512), tokens=64, h=64),
        *swiglu_points((170, 192), h=64, tokens=64),
        *align_points(64),
    ]


def spec_for(point: Point, dtype: str, sms: int, requires: tuple[str, ...]) -> BenchSpec:
    g = point.gemm
    a = point.extra.get("a")
    series = f":a{a}" if point.sweep in ("fig8", "fig9") else ""
    group = f"sweep/{point.sweep}{series}" + (f":{g.name}" if point.sweep == "swiglu" else "")
    label = f":{point.label}" if point.label else ""
    return BenchSpec(
        family="sweep",
        id=f"{point.sweep}:{g.name}:{dtype}:x{point.x}{series}{label}",
        dtype=dtype,
        flops=g.flops(),
        bytes=g.bytes(DTYPE_BYTES[dtype]),
        build=gemm_build(g, dtype),
        group=group,
        params={
            "sweep": point.sweep,
            "x": point.x,
            "gemm": g.name,
            "m": g.m, "n": g.n, "k": g.k, "batch": g.batch,
            **point.extra,
            "tile": f"{DEFAULT_TILE[0]}x{DEFAULT_TILE[1]}",
            "sms": sms,
            "predicted_wave_efficiency": round(wave_efficiency(g.m, g.n, sms, DEFAULT_TILE, g.batch), 4),
            "predicted_tile_efficiency": round(tile_efficiency(g.m, g.n, DEFAULT_TILE), 4),
            "provider": "torch",
        },
        requires=requires,
    )


def sweep_specs(target: Target) -> list[BenchSpec]:
    if target.is_cpu:
        return [spec_for(p, CPU_DTYPE, target.gpu.sms, ()) for p in cpu_points()]
    points = gpu_points(full=target.sweep == "full")
    return [spec_for(p, target.dtype, target.gpu.sms, ("gpu",)) for p in points]
