"""The shape rules' check functions, one per rule: each takes its `Rule` and a `Context` and returns `Finding`s
(with fixes and, where predictable, payoffs from the efficiency model); plus the MLP-size search they share
with `perf advise` (`ffn_candidates`, `ffn_center`) and which model expression each GEMM dimension comes from."""

from __future__ import annotations

import dataclasses
import math

from perf.gpus import GpuSpec
from perf.shape.estimate import (MLP_GEMMS, PAPER_TILE, alignment_efficiency, estimate_gemm, estimate_layer, pow2_divisor,
                                 speedup, wave_free, wave_quantization)
from perf.shape.findings import Context, Finding, Rule
from perf.shape.layout import Layout
from perf.shape.models import ModelConfig
from perf.shape.shapes import Gemm

POW2_GOAL = 64  # sec. VI-B: "divisible by a power of two, though there is no further benefit to going beyond 64"
NOT_SLOWER = 0.995  # a fix predicted at x0.995 or better (x1.00 as printed) is not called slower
QUANT_WARN = 0.8  # tile or wave efficiency below this is a warning; below 1.0 an info


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _payoff(ratio: float, what: str = "layer") -> str:
    return f"predicted {what} throughput x{ratio:.2f}"


def _info(rule: Rule, dimension: str, value: int, text: str) -> Finding:
    return Finding(rule=rule.id, level="info", gemm="", dimension=dimension, value=value, message=text)


# --- vocabulary ---------------------------------------------------------------------------------------


def check_vocab(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_tokens(rule: Rule, ctx: Context) -> list[Finding]:
    b, s = ctx.layout.b, ctx.s
    p = pow2_divisor(b * s, POW2_GOAL)
    if p >= POW2_GOAL:
        return [_info(rule, "b*s", b * s, f"b*s = {b * s} is divisible by {POW2_GOAL}")]
    return [rule.finding(dimension="b*s", value=b * s, b=b, s=s, bs=b * s, p=p, s_fix=_round_up(s, POW2_GOAL),
                         b_fix=POW2_GOAL // math.gcd(POW2_GOAL, s))]


def _heads_with_head_dim(h: int, t: int, want: int = POW2_GOAL) -> list[int]:
    """Head counts a with h/a a multiple of `want` and a divisible by t."""
    return [a for a in range(t, h // want + 1, t) if h % a == 0 and (h // a) % want == 0]


def check_head_dim(rule: Rule, ctx: Context) -> list[Finding]:
    m = ctx.model
    d = m.d_head
    p = pow2_divisor(d, POW2_GOAL)
    if p >= POW2_GOAL:
        return [_info(rule, "h/a", d, f"h/a = {d} is divisible by {POW2_GOAL}")]
    if m.head_dim is None or m.head_dim * m.heads == m.hidden:
        options = sorted(_heads_with_head_dim(m.hidden, ctx.layout.t), key=lambda a: (abs(a - m.heads), -a))[:2]
    else:
        options = []
    ratios = {}
    if ctx.gemms:  # of the two nearest, only those predicted not slower, best first; if neither, the better, said so
        for a in options:
            fixed = dataclasses.replace(m, heads=a, head_dim=None,
                                        kv_heads=None if m.kv_heads in (None, m.heads) else _kv_for(m, a))
            ratios[a] = speedup(m, fixed, ctx.gpu, ctx.layout)
        ranked = sorted(options, key=lambda a: -ratios[a])
        options = [a for a in ranked if ratios[a] >= NOT_SLOWER] or ranked[:1]
    parts = [f"a = {a} (h/a = {m.hidden // a})" for a in options]
    payoffs = [f"a={a}: {_payoff(ratios[a])}" if ratios[a] >= NOT_SLOWER else
               f"a={a}: predicted layer throughput x{ratios[a]:.3f}, slower than today: no head count near "
               f"a = {m.heads} fixes the rule without a loss on this GPU" for a in options if a in ratios]
    fix_options = " or ".join(parts) if parts else f"a head size of {_round_up(d, POW2_GOAL)}"
    head = (f"h/a = {m.hidden}/{m.heads} = {d}" if m.head_dim is None or m.head_dim * m.heads == m.hidden
            else f"the head size {d} (head_dim in the config; h/a = {m.hidden}/{m.heads} would be {m.hidden / m.heads:g})")
    return [rule.finding(gemm="attn_score", dimension="h/a", value=d, payoff="; ".join(payoffs),
                         d=d, h=m.hidden, a=m.heads, p=p, options=fix_options, head=head)]


def _kv_for(m: ModelConfig, heads: int) -> int:
    """Keep the GQA group size when the heads change, where it divides evenly; else one kv head per group of the old size."""
    group = m.heads // m.n_kv_heads
    return heads // group if heads % group == 0 else heads


def check_hidden_per_tp(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_heads_per_tp(rule: Rule, ctx: Context) -> list[Finding]:
    b, a, t = ctx.layout.b, ctx.model.heads, ctx.layout.t
    if (b * a) % t == 0 and a % t == 0:
        return [_info(rule, "(b*a)/t", b * a // t, f"(b*a)/t = {b * a // t} and a/t = {a // t} are integers")]
    why = f"(b*a)/t = {b * a}/{t} is not an integer" if (b * a) % t else f"a/t = {a}/{t} is not an integer: each GPU must hold whole heads"
    return [rule.finding(gemm="attn_score", dimension="(b*a)/t", value=b * a / t, why=why, a=a, t=t,
                         options=" or ".join(str(x) for x in _divisors_near(a, t)))]


def check_kv_heads(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_layers_per_pp(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_ffn(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_alignment(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_tiles(rule: Rule, ctx: Context) -> list[Finding]:
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


def check_waves(rule: Rule, ctx: Context) -> list[Finding]:
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
