"""The paper's shape rules as data: each rule has a stable id, a level, what it checks, a message, a fix
and a check function; `evaluate(model, gpu, layout)` runs them all and returns `Finding`s.

Sources (Anthony et al., 'The Case for Co-Designing Model Architectures with Hardware'):
  III-B  tensor-core alignment (16 bytes on V100, 128 bytes on A100 and later), tile and wave quantization
  VI-B   the wave-quantization formula; vocabulary % 64; b*s, h/a and h/t divisible by a power of two up
         to 64; (b*a)/t an integer; layers divisible by the pipeline stages
  VII-B  SwiGLU: 8h/3 breaks the MLP's alignment, search nearby intermediate sizes
  GQA    kv heads must divide the heads and split evenly over (or be replicated across) t GPUs

Levels: "error" breaks a rule of the paper that holds on every GPU (the suite fails on it by default);
"warning" is a GPU-dependent inefficiency (alignment, quantization) that does not fail the suite;
"info" reports a measured quantity (the power of two found, a quantization efficiency) and breaks nothing.

The efficiency model used for payoffs and by `perf advise` (see docs/shape-rules.md) predicts each GEMM's
time as a roofline, max(compute, memory), where compute runs at peak x tile efficiency x wave efficiency x
tile-shape speed (best of the common tiles), and both terms are divided by a tensor-core alignment
penalty read off the paper's Figure 7. A layer's throughput is its FLOPs over the sum of its GEMM times.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

from perf.shape import quantization
from perf.gpus import GpuSpec
from perf.shape.models import ModelConfig, ModelConfigError, validate
from perf.shape.shapes import DTYPE_BYTES, Gemm, ShapeError, layer_gemms

LEVELS = ("error", "warning", "info")
PAPER = "Anthony et al. 2024, 'The Case for Co-Designing Model Architectures with Hardware'"

# ------------------------------------------------------------------------------------------------ layout


@dataclass(frozen=True)
class Layout:
    """How the model runs: micro-batch b, sequence s (None: the model's context), tensor- and pipeline-parallel
    sizes t and pp, and the GEMM dtype."""

    b: int = 1
    s: int | None = None
    t: int = 1
    pp: int = 1
    dtype: str = "bf16"

    def seq(self, model: ModelConfig) -> int:
        return self.s if self.s is not None else model.seq

    def describe(self, model: ModelConfig) -> str:
        return f"{self.dtype}, b={self.b} s={self.seq(model)} t={self.t} pp={self.pp}"


def check_layout(layout: Layout) -> Layout:
    for name in ("b", "t", "pp") + (("s",) if layout.s is not None else ()):
        value = getattr(layout, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ModelConfigError(f"layout: field {name!r} must be a positive integer, got {value!r}")
    if layout.dtype not in DTYPE_BYTES:
        raise ModelConfigError(f"layout: field 'dtype' must be one of {sorted(DTYPE_BYTES)}, got {layout.dtype!r}")
    return layout


# ------------------------------------------------------------------------------ quantization arithmetic

PAPER_TILE = (128, 256)  # sec. VI-B: "a tile size of 128x256 which is the most efficient"
TILES = ((128, 256), (256, 128), (128, 128), (64, 128), (128, 64), (64, 64))
# Relative per-SM throughput of each tile shape when every tile is full. An assumption, not a measurement:
# larger tiles reuse each loaded operand for more multiply-adds, and the paper calls 128x256 the most
# efficient. `perf advise --measure` replaces the whole prediction with timings.
TILE_SPEED = {(128, 256): 1.0, (256, 128): 1.0, (128, 128): 0.9, (64, 128): 0.8, (128, 64): 0.8, (64, 64): 0.65}
# Tensor-core alignment penalty by the number of halvings the dimension's largest power-of-two divisor (in
# bytes) falls short of the GPU's alignment: read off the paper's Figure 7b (A100, attention over value,
# h = 16384, a = 32: 64 -> 230, 16 -> 210, 8 -> 190, 4 -> 150, 2 -> 120, 1 -> 90 TFLOP/s), halvings = 0..6.
ALIGN_PENALTY = (1.0, 0.95, 0.91, 0.83, 0.65, 0.52, 0.39)
POW2_GOAL = 64  # sec. VI-B: "divisible by a power of two, though there is no further benefit to going beyond 64"
QUANT_WARN = 0.8  # tile or wave efficiency below this is a warning; below 1.0 an info


def pow2_divisor(n: int, cap: int | None = None) -> int:
    """The largest power of two dividing n (n > 0), capped at `cap` when given."""
    if n <= 0:
        raise ValueError(f"pow2_divisor: need a positive integer, got {n!r}")
    p = n & -n
    return min(p, cap) if cap else p


tile_efficiency = quantization.tile_efficiency  # m*n / (ceil(m/t1)*t1 * ceil(n/t2)*t2)


@dataclass(frozen=True)
class Waves:
    tiles: int  # thread blocks: batch * ceil(m/t1) * ceil(n/t2)
    sms: int
    waves: int  # ceil(tiles / sms)
    last_wave_fill: float  # fraction of SMs busy in the last wave
    efficiency: float  # tiles / (waves * sms): busy SM-slots over scheduled SM-slots

    @property
    def fractional(self) -> float:
        return self.tiles / self.sms


def wave_quantization(m: int, n: int, tile: tuple[int, int], sms: int, batch: int = 1) -> Waves:
    """Waves of thread blocks for an (m, n) output cut into t1 x t2 tiles on `sms` SMs (paper III-B, VI-B)."""
    tiles = quantization.tiles(m, n, tile, batch)
    waves = quantization.waves(tiles, sms)
    last = tiles - (waves - 1) * sms
    return Waves(tiles=tiles, sms=sms, waves=waves, last_wave_fill=last / sms, efficiency=tiles / (waves * sms))


def wave_free(x: int, y: int, tile: tuple[int, int], sms: int) -> bool:
    """Paper VI-B: no wave-quantization loss when ceil(X/t1)*ceil(Y/t2) or ceil(X/t2)*ceil(Y/t1) is 0 mod #SMs."""
    t1, t2 = tile
    return (math.ceil(x / t1) * math.ceil(y / t2)) % sms == 0 or (math.ceil(x / t2) * math.ceil(y / t1)) % sms == 0


def alignment_efficiency(dim: int, elem_bytes: int, align_bytes: int) -> float:
    """Predicted fraction of tensor-core throughput for a GEMM dimension (1.0 when aligned)."""
    p = pow2_divisor(dim * elem_bytes)
    if p >= align_bytes:
        return 1.0
    halvings = int(math.log2(align_bytes // p))
    return ALIGN_PENALTY[min(halvings, len(ALIGN_PENALTY) - 1)]


def peak_tflops(gpu: GpuSpec, dtype: str) -> float:
    """Dense peak for the dtype; a GPU without that dtype (V100 and bf16) falls back to its fp16 rate."""
    peak = gpu.peak(dtype) or gpu.peak("fp16")
    if not peak or gpu.mem_bw_gbs <= 0:
        raise ModelConfigError(f"GPU {gpu.key}: no peak TFLOP/s or bandwidth in its spec; shape rules need a GPU profile")
    return peak


@dataclass(frozen=True)
class GemmEstimate:
    gemm: Gemm
    tile: tuple[int, int]
    tile_eff: float
    waves: Waves
    align_eff: float
    time_s: float
    bound: str  # "compute" or "memory"

    @property
    def tflops(self) -> float:
        return self.gemm.flops() / self.time_s / 1e12


def estimate_gemm(g: Gemm, gpu: GpuSpec, dtype: str) -> GemmEstimate:
    """Predicted time of one GEMM: the best common tile, its quantization, alignment, and the roofline."""
    elem = DTYPE_BYTES[dtype]

    def quality(tile):
        return tile_efficiency(g.m, g.n, tile) * wave_quantization(g.m, g.n, tile, gpu.sms, g.batch).efficiency * TILE_SPEED[tile]

    tile = max(TILES, key=quality)  # ties keep the earlier (larger) tile
    align = min(alignment_efficiency(d, elem, gpu.tc_align_bytes) for d in (g.m, g.n, g.k))
    compute_s = g.flops() / (peak_tflops(gpu, dtype) * 1e12 * quality(tile))
    memory_s = g.bytes(elem) / (gpu.mem_bw_gbs * 1e9)
    return GemmEstimate(
        gemm=g,
        tile=tile,
        tile_eff=tile_efficiency(g.m, g.n, tile),
        waves=wave_quantization(g.m, g.n, tile, gpu.sms, g.batch),
        align_eff=align,
        time_s=max(compute_s, memory_s) / align,
        bound="compute" if compute_s >= memory_s else "memory",
    )


@dataclass(frozen=True)
class LayerEstimate:
    gemms: tuple[GemmEstimate, ...]

    @property
    def flops(self) -> int:
        return sum(e.gemm.flops() for e in self.gemms)

    @property
    def time_s(self) -> float:
        return sum(e.time_s for e in self.gemms)

    @property
    def tflops(self) -> float:
        """Predicted throughput: FLOPs over the summed GEMM times (each GEMM weighted by its FLOPs)."""
        return self.flops / self.time_s / 1e12

    def of(self, name: str) -> GemmEstimate | None:
        return next((e for e in self.gemms if e.gemm.name == name), None)


MLP_GEMMS = ("mlp_up", "mlp_gate", "mlp_down")


def estimate_layer(model: ModelConfig, gpu: GpuSpec, layout: Layout, *, logits: bool = False,
                   only: tuple[str, ...] = ()) -> LayerEstimate:
    """Predicted time of one layer's GEMMs (with `logits`, the logits GEMM alone; `only`: those GEMMs alone)."""
    gemms = layer_gemms(model, layout.b, layout.seq(model), layout.t)
    if only:
        chosen = [g for g in gemms if g.name in only]
    else:
        chosen = [g for g in gemms if (g.name == "logits") == logits]
    return LayerEstimate(tuple(estimate_gemm(g, gpu, layout.dtype) for g in chosen))


def speedup(model: ModelConfig, changed: ModelConfig, gpu: GpuSpec, layout: Layout, *, logits: bool = False,
            only: tuple[str, ...] = ()) -> float:
    """Predicted throughput of `changed` over `model`: the layer's GEMMs, the logits GEMM, or `only` those GEMMs."""
    new = estimate_layer(changed, gpu, layout, logits=logits, only=only).tflops
    return new / estimate_layer(model, gpu, layout, logits=logits, only=only).tflops


# ----------------------------------------------------------------------------------------- rules as data


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # "error", "warning" or "info"
    gemm: str  # the GEMM concerned, or "" for a model-level rule
    dimension: str  # "h/a", "vocab", "k (h/a)", ...
    value: int | float
    message: str
    fix: str = ""
    payoff: str = ""  # predicted payoff of the fix, where predictable

    @property
    def is_violation(self) -> bool:
        return self.level in ("error", "warning")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


Violation = Finding  # a Finding at level error or warning


@dataclass(frozen=True)
class Context:
    model: ModelConfig
    gpu: GpuSpec
    layout: Layout
    gemms: tuple[Gemm, ...]  # empty when the layout does not split the model evenly

    @property
    def s(self) -> int:
        return self.layout.seq(self.model)

    @property
    def elem_bytes(self) -> int:
        return DTYPE_BYTES[self.layout.dtype]

    @property
    def align_elems(self) -> int:
        return self.gpu.align_elements(self.elem_bytes)


@dataclass(frozen=True)
class Rule:
    id: str
    level: str  # level of a finding when the rule is broken
    checks: str  # what the rule checks, in words
    message: str  # template, formatted by the check
    fix: str  # template, formatted by the check
    source: str  # where in the paper
    check: Callable[["Rule", Context], list[Finding]] = field(compare=False, repr=False)

    def finding(self, *, gemm: str = "", dimension: str, value, level: str | None = None, payoff: str = "", **fmt) -> Finding:
        return Finding(rule=self.id, level=level or self.level, gemm=gemm, dimension=dimension, value=value,
                       message=self.message.format(**fmt), fix=self.fix.format(**fmt) if self.fix else "", payoff=payoff)

    def evaluate(self, ctx: Context) -> list[Finding]:
        return self.check(self, ctx)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _payoff(ratio: float, what: str = "layer") -> str:
    return f"predicted {what} throughput x{ratio:.2f}"


def _info(rule: Rule, dimension: str, value: int, text: str) -> Finding:
    return Finding(rule=rule.id, level="info", gemm="", dimension=dimension, value=value, message=text)


# --- vocabulary ---------------------------------------------------------------------------------------


def _check_vocab(rule: Rule, ctx: Context) -> list[Finding]:
    v, t = ctx.model.vocab, ctx.layout.t
    multiple = POW2_GOAL * t
    if v % multiple == 0:
        return [_info(rule, "vocab", v, f"vocab = {v} is divisible by {multiple} (64 x t)")]
    padded = _round_up(v, multiple)
    fixed = dataclasses.replace(ctx.model, vocab=padded)
    payoff = ""
    if ctx.gemms:
        payoff = _payoff(speedup(ctx.model, fixed, ctx.gpu, ctx.layout, logits=True), "logits GEMM")
    return [rule.finding(gemm="logits", dimension="vocab", value=v, payoff=payoff, v=v, multiple=multiple,
                         p=pow2_divisor(v), padded=padded, extra=padded - v,
                         per_gpu=f": v/t = {v / t:g} per GPU is not a multiple of 64" if t > 1 else "")]


# --- powers of two: b*s, h/a, h/t ------------------------------------------------------------------------


def _check_tokens(rule: Rule, ctx: Context) -> list[Finding]:
    b, s = ctx.layout.b, ctx.s
    p = pow2_divisor(b * s, POW2_GOAL)
    if p >= POW2_GOAL:
        return [_info(rule, "b*s", b * s, f"b*s = {b * s} is divisible by {POW2_GOAL}")]
    return [rule.finding(dimension="b*s", value=b * s, b=b, s=s, bs=b * s, p=p, s_fix=_round_up(s, POW2_GOAL),
                         b_fix=POW2_GOAL // math.gcd(POW2_GOAL, s))]


def _heads_with_head_dim(h: int, t: int, want: int = POW2_GOAL) -> list[int]:
    """Head counts a with h/a a multiple of `want` and a divisible by t."""
    return [a for a in range(t, h // want + 1, t) if h % a == 0 and (h // a) % want == 0]


def _check_head_dim(rule: Rule, ctx: Context) -> list[Finding]:
    m = ctx.model
    d = m.d_head
    p = pow2_divisor(d, POW2_GOAL)
    if p >= POW2_GOAL:
        return [_info(rule, "h/a", d, f"h/a = {d} is divisible by {POW2_GOAL}")]
    if m.head_dim is None or m.head_dim * m.heads == m.hidden:
        options = sorted(_heads_with_head_dim(m.hidden, ctx.layout.t), key=lambda a: (abs(a - m.heads), -a))[:2]
    else:
        options = []
    parts, payoffs = [], []
    for a in options:
        fixed = dataclasses.replace(m, heads=a, head_dim=None, kv_heads=None if m.kv_heads in (None, m.heads) else _kv_for(m, a))
        parts.append(f"a = {a} (h/a = {m.hidden // a})")
        if ctx.gemms:
            payoffs.append(f"a={a}: {_payoff(speedup(m, fixed, ctx.gpu, ctx.layout))}")
    fix_options = " or ".join(parts) if parts else f"a head size of {_round_up(d, POW2_GOAL)}"
    return [rule.finding(gemm="attn_score", dimension="h/a", value=d, payoff="; ".join(payoffs),
                         d=d, h=m.hidden, a=m.heads, p=p, options=fix_options)]


def _kv_for(m: ModelConfig, heads: int) -> int:
    """Keep the GQA group size when the heads change, where it divides evenly; else one kv head per group of the old size."""
    group = m.heads // m.n_kv_heads
    return heads // group if heads % group == 0 else heads


def _check_hidden_per_tp(rule: Rule, ctx: Context) -> list[Finding]:
    h, t = ctx.model.hidden, ctx.layout.t
    bounds = dict(lower=max(POW2_GOAL * t, h - h % (POW2_GOAL * t)), upper=_round_up(h, POW2_GOAL * t))
    if h % t:
        return [rule.finding(dimension="h/t", value=h / t, h=h, t=t, ht=f"{h}/{t}", how="not an integer", **bounds)]
    p = pow2_divisor(h // t, POW2_GOAL)
    if p >= POW2_GOAL:
        return [_info(rule, "h/t", h // t, f"h/t = {h // t} is divisible by {POW2_GOAL}")]
    return [rule.finding(gemm="qkv", dimension="h/t", value=h // t, h=h, t=t, ht=h // t,
                         how=f"divisible by {p}, not {POW2_GOAL}", **bounds)]


# --- parallel layouts -----------------------------------------------------------------------------------


def _divisors_near(n: int, near: int, count: int = 2) -> list[int]:
    return sorted((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (abs(d - near), -d))[:count]


def _check_heads_per_tp(rule: Rule, ctx: Context) -> list[Finding]:
    b, a, t = ctx.layout.b, ctx.model.heads, ctx.layout.t
    if (b * a) % t == 0 and a % t == 0:
        return [_info(rule, "(b*a)/t", b * a // t, f"(b*a)/t = {b * a // t} and a/t = {a // t} are integers")]
    why = f"(b*a)/t = {b * a}/{t} is not an integer" if (b * a) % t else f"a/t = {a}/{t} is not an integer: each GPU must hold whole heads"
    return [rule.finding(gemm="attn_score", dimension="(b*a)/t", value=b * a / t, why=why, a=a, t=t,
                         options=" or ".join(str(x) for x in _divisors_near(a, t)))]


def _check_kv_heads(rule: Rule, ctx: Context) -> list[Finding]:
    m, t = ctx.model, ctx.layout.t
    kv = m.n_kv_heads
    if m.heads % kv:  # validate() rejects this already; kept so that the rule is complete on its own
        return [rule.finding(dimension="kv_heads", value=kv, kv=kv, a=m.heads, t=t, why=f"{kv} does not divide a = {m.heads}",
                             options=", ".join(str(x) for x in _divisors_near(m.heads, kv)))]
    if kv % t and t % kv:
        return [rule.finding(gemm="qkv", dimension="kv_heads", value=kv, kv=kv, a=m.heads, t=t,
                             why=f"t = {t} neither divides kv = {kv} nor is a multiple of it",
                             options=", ".join(str(x) for x in sorted({*_divisors_near(kv, t), kv * max(1, round(t / kv))})))]
    return []


def _check_layers_per_pp(rule: Rule, ctx: Context) -> list[Finding]:
    L, pp = ctx.model.layers, ctx.layout.pp
    if L % pp == 0:
        return [] if pp == 1 else [_info(rule, "L/pp", L // pp, f"{L} layers = {pp} stages x {L // pp}")]
    return [rule.finding(dimension="L/pp", value=L / pp, L=L, pp=pp, options=" or ".join(str(x) for x in _divisors_near(L, pp)),
                         lower=max(pp, L - L % pp), upper=_round_up(L, pp))]


# --- MLP intermediate size --------------------------------------------------------------------------------


def ffn_candidates(model: ModelConfig, gpu: GpuSpec, layout: Layout, *, center: int | None = None,
                   spread: float = 0.03, step: int = POW2_GOAL) -> list[tuple[int, float]]:
    """(ffn, predicted MLP-block TFLOP/s) for multiples of step*t within +-spread of `center` (default: the
    model's ffn), best first (ties: nearest the centre). The MLP block alone is scored: a layer's throughput
    would favour larger MLPs only because they dilute the memory-bound attention BMMs."""
    t = layout.t
    centre = center if center is not None else model.ffn
    lo, hi = int(centre * (1 - spread)), int(centre * (1 + spread)) + 1
    unit = step * t
    sizes = range(_round_up(max(lo, unit), unit), hi + 1, unit)
    scored = [(f, estimate_layer(dataclasses.replace(model, ffn=f), gpu, layout, only=MLP_GEMMS).tflops) for f in sizes]
    return sorted(scored, key=lambda x: (-x[1], abs(x[0] - centre)))


def ffn_center(m: ModelConfig) -> int:
    """Where to search for an MLP size: 8h/3 for a gated MLP sized near that rule of thumb (sec. VII-B), else the model's."""
    return round(8 * m.hidden / 3) if m.gated and abs(m.ffn - 8 * m.hidden / 3) < 0.05 * m.ffn else m.ffn


def _check_ffn(rule: Rule, ctx: Context) -> list[Finding]:
    m, t = ctx.model, ctx.layout.t
    what = "SwiGLU intermediate size (8h/3 breaks alignment)" if m.gated else "MLP intermediate size"
    if m.ffn % t == 0 and pow2_divisor(m.ffn // t, POW2_GOAL) >= POW2_GOAL:
        return [_info(rule, "ffn/t", m.ffn // t, f"ffn/t = {m.ffn // t} is divisible by {POW2_GOAL}")]
    value = m.ffn // t if m.ffn % t == 0 else m.ffn / t
    how = f"divisible by {pow2_divisor(m.ffn // t, POW2_GOAL)}, not {POW2_GOAL}" if m.ffn % t == 0 else "not an integer"
    layout_ok = m.heads % t == 0 and (m.n_kv_heads % t == 0 or t % m.n_kv_heads == 0)
    best, payoff = [], ""
    if layout_ok and m.hidden % t == 0:
        best = ffn_candidates(m, ctx.gpu, ctx.layout, center=ffn_center(m))[:3]
        if best and ctx.gemms:
            payoff = _payoff(speedup(m, dataclasses.replace(m, ffn=best[0][0]), ctx.gpu, ctx.layout, only=MLP_GEMMS), "MLP block")
    options = ", ".join(str(f) for f, _ in best) if best else f"{_round_up(m.ffn, POW2_GOAL * t)}"
    return [rule.finding(gemm="mlp_up", dimension="ffn/t", value=value, payoff=payoff, what=what, ffn=m.ffn, t=t, how=how,
                         options=options, ratio=f"{m.ffn / m.hidden:.4f}")]


# --- per-GEMM rules: tensor-core alignment, tile and wave quantization --------------------------------------

# Which model expression each GEMM dimension comes from (paper Table II, with GQA and SwiGLU).
DIM_ORIGIN = {
    ("qkv", "m"): "b*s", ("qkv", "n"): "(a+2kv)*d/t", ("qkv", "k"): "h",
    ("attn_score", "m"): "s", ("attn_score", "n"): "s", ("attn_score", "k"): "h/a",
    ("attn_over_value", "m"): "s", ("attn_over_value", "n"): "h/a", ("attn_over_value", "k"): "s",
    ("out_proj", "m"): "b*s", ("out_proj", "n"): "h", ("out_proj", "k"): "a*d/t",
    ("mlp_up", "m"): "b*s", ("mlp_up", "n"): "ffn/t", ("mlp_up", "k"): "h",
    ("mlp_gate", "m"): "b*s", ("mlp_gate", "n"): "ffn/t", ("mlp_gate", "k"): "h",
    ("mlp_down", "m"): "b*s", ("mlp_down", "n"): "h", ("mlp_down", "k"): "ffn/t",
    ("logits", "m"): "b*s", ("logits", "n"): "v/t", ("logits", "k"): "h",
}


def _check_alignment(rule: Rule, ctx: Context) -> list[Finding]:
    align, found = ctx.align_elems, []
    for g in ctx.gemms:
        for dim in ("m", "n", "k"):
            value = getattr(g, dim)
            if value % align == 0:
                continue
            eff = alignment_efficiency(value, ctx.elem_bytes, ctx.gpu.tc_align_bytes)
            origin = DIM_ORIGIN[(g.name, dim)]
            found.append(rule.finding(
                gemm=g.name, dimension=f"{dim} ({origin})", value=value,
                payoff=f"predicted GEMM throughput x{1 / eff:.2f} when aligned" if eff < 1 else "",
                gemm_name=g.name, dim=dim, origin=origin, v=value, align=align, bytes=ctx.gpu.tc_align_bytes,
                dtype=ctx.layout.dtype, gpu=ctx.gpu.key, p=pow2_divisor(value),
                lower=max(align, value - value % align), upper=_round_up(value, align)))
    return found


def _check_tiles(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for g in ctx.gemms:
        est = estimate_gemm(g, ctx.gpu, ctx.layout.dtype)
        if est.tile_eff >= 1.0:
            continue
        t1, t2 = est.tile
        level = "warning" if est.tile_eff < QUANT_WARN else "info"
        found.append(rule.finding(
            gemm=g.name, dimension="m x n", value=round(est.tile_eff, 4), level=level,
            payoff=f"up to x{1 / est.tile_eff:.2f} on this GEMM's compute" if level == "warning" else "",
            gemm_name=g.name, m=g.m, n=g.n, t1=t1, t2=t2, eff=est.tile_eff,
            fill=" and ".join(f"{d} = {_round_up(v, t)} ({DIM_ORIGIN[(g.name, d)]})"
                              for d, v, t in (("m", g.m, t1), ("n", g.n, t2)) if v % t)))
    return found


def _best_batch(ctx: Context, g: Gemm, tile: tuple[int, int]) -> tuple[int, float] | None:
    """A larger micro-batch that fills the waves of this GEMM better (the paper: b as large as possible)."""
    if DIM_ORIGIN[(g.name, "m")] != "b*s":
        return None
    b, s = ctx.layout.b, ctx.s
    best = max(range(b + 1, 2 * b + 8), key=lambda bb: (wave_quantization(bb * s, g.n, tile, ctx.gpu.sms, g.batch).efficiency, -bb))
    eff = wave_quantization(best * s, g.n, tile, ctx.gpu.sms, g.batch).efficiency
    return (best, eff)


def _check_waves(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for g in ctx.gemms:
        est = estimate_gemm(g, ctx.gpu, ctx.layout.dtype)
        w = est.waves
        if w.efficiency >= 1.0:
            continue
        level = "warning" if w.efficiency < QUANT_WARN else "info"
        batch_fix = _best_batch(ctx, g, est.tile)
        if batch_fix and batch_fix[1] > w.efficiency:
            fix_hint = f"b = {batch_fix[0]} gives {batch_fix[1]:.0%} wave efficiency on this GEMM"
        else:
            fix_hint = f"a size of {g.name} whose tile count is a multiple of {ctx.gpu.sms}"
        paper = "wave-free" if wave_free(g.m, g.n, PAPER_TILE, ctx.gpu.sms) else "not wave-free"
        t1, t2 = est.tile
        found.append(rule.finding(
            gemm=g.name, dimension="tiles", value=w.tiles, level=level,
            payoff=f"up to x{1 / w.efficiency:.2f} on this GEMM's compute" if level == "warning" else "",
            gemm_name=g.name, tiles=w.tiles, t1=t1, t2=t2, sms=w.sms, waves=w.fractional, fill=w.last_wave_fill,
            eff=w.efficiency, paper=paper, hint=fix_hint))
    return found


_VI_B = "sec. VI-B"
RULES: tuple[Rule, ...] = (
    Rule("vocab_multiple_64", "error", "the vocabulary size v is divisible by 64 (by 64*t under tensor parallelism)",
         "vocab = {v} is not divisible by {multiple} (largest power-of-two divisor {p}){per_gpu}",
         "pad the vocabulary to {padded} (+{extra} unused rows)", _VI_B, _check_vocab),
    Rule("tokens_pow2", "error", "b*s is divisible by a power of two up to 64",
         "b*s = {b}*{s} = {bs} is divisible by {p}, not 64",
         "use s = {s_fix}, or a micro-batch b that is a multiple of {b_fix}", _VI_B, _check_tokens),
    Rule("head_dim_pow2", "error", "the head size h/a is divisible by a power of two up to 64",
         "h/a = {h}/{a} = {d} is divisible by {p}, not 64: the attention GEMMs miss tensor-core alignment",
         "{options} at the same parameter count", _VI_B, _check_head_dim),
    Rule("hidden_per_tp_pow2", "error", "h/t is an integer divisible by a power of two up to 64",
         "h/t = {ht} (h = {h}, t = {t}) is {how}",
         "h = {lower} or {upper} (multiples of 64*t), or a t for which h/t is a multiple of 64", _VI_B, _check_hidden_per_tp),
    Rule("heads_per_tp", "error", "(b*a)/t is an integer, and so is a/t",
         "{why}", "t in {options} (divisors of a = {a})", _VI_B, _check_heads_per_tp),
    Rule("gqa_kv_heads", "error", "kv heads divide the heads, and t divides the kv heads or is a multiple of them",
         "kv heads = {kv} with a = {a}, t = {t}: {why}", "kv heads or t in {options}", "GQA layout (Megatron-style)",
         _check_kv_heads),
    Rule("layers_per_pp", "error", "the number of layers L is divisible by the pipeline stages pp",
         "L = {L} is not divisible by pp = {pp}: the stages get unequal layers",
         "pp in {options} (divisors of L), or L = {lower} or {upper}", _VI_B, _check_layers_per_pp),
    Rule("ffn_multiple_64", "error", "the MLP intermediate size per GPU, ffn/t, is divisible by 64 (SwiGLU: 8h/3 is not)",
         "{what}: ffn/t = {ffn}/{t} is {how} (ffn/h = {ratio})",
         "ffn in {options} (best predicted nearby multiples of 64*t)", "sec. VII-B", _check_ffn),
    Rule("tensor_core_alignment", "warning",
         "every GEMM dimension is a multiple of the tensor-core alignment (V100: 16 bytes, A100 and later: 128 bytes)",
         "{gemm_name} {dim} = {v} ({origin}) is not a multiple of {align} elements ({bytes} bytes of {dtype} on {gpu}); "
         "largest power-of-two divisor {p}", "make {origin} a multiple of {align}: {lower} or {upper}", "sec. III-B, VI-B",
         _check_alignment),
    Rule("tile_quantization", "warning", "the output m x n divides into the chosen tile (128x256, 256x128, 128x128, 64x128 ...)",
         "{gemm_name} output {m}x{n} in {t1}x{t2} tiles: {eff:.1%} of the tiles' area is useful",
         "{fill} would fill the tiles", "sec. III-B, VI-B", _check_tiles),
    Rule("wave_quantization", "warning", "the tile count is a multiple of the SM count (last wave full)",
         "{gemm_name}: {tiles} tiles of {t1}x{t2} on {sms} SMs = {waves:.2f} waves; last wave {fill:.0%} full; "
         "wave efficiency {eff:.1%} (at 128x256: {paper})", "{hint}", "sec. III-B, VI-B", _check_waves),
)
RULE_IDS = tuple(r.id for r in RULES)


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(RULE_IDS)}")


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Report:
    model: ModelConfig
    gpu: GpuSpec
    layout: Layout
    findings: tuple[Finding, ...]

    def at(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.level == level]

    @property
    def errors(self) -> list[Finding]:
        return self.at("error")

    @property
    def warnings(self) -> list[Finding]:
        return self.at("warning")

    def broken(self) -> set[str]:
        """Ids of the rules with an error or warning."""
        return {f.rule for f in self.findings if f.is_violation}


def context(model: ModelConfig, gpu: GpuSpec, layout: Layout) -> Context:
    validate(model)
    check_layout(layout)
    if not gpu.is_gpu:
        raise ModelConfigError(f"GPU {gpu.key!r}: shape rules need a GPU profile (e.g. H100, A100), not the CPU")
    try:
        gemms = tuple(layer_gemms(model, layout.b, layout.seq(model), layout.t))
    except ShapeError:
        gemms = ()  # the layout rules (heads_per_tp, gqa_kv_heads, ffn_multiple_64) say why
    return Context(model=model, gpu=gpu, layout=layout, gemms=gemms)


def evaluate(model: ModelConfig, gpu: GpuSpec, layout: Layout = Layout()) -> Report:
    """Every rule on one model, GPU and layout. Raises ModelConfigError for a config that is not a transformer."""
    ctx = context(model, gpu, layout)
    findings = [f for r in RULES for f in r.evaluate(ctx)]
    return Report(model=model, gpu=gpu, layout=layout, findings=tuple(findings))
