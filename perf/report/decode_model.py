"""A decode-step model from measured results: tokens/s, KV-cache bytes and FLOPs over decoding steps.

For a model with `layers` layers, at batch B and decoding step t (cache length L = prompt + t + 1,
the new token included; L_eff = min(L, budget) when a fixed KV budget caps the cache, as eviction
methods do):

    step_ms   = layers x (sum of the layer's projection GEMMs at M = B  +  attention(B, L_eff)) + logits(M = B)
    tokens/s  = B / step_ms x 1000
    KV bytes  = 2 x layers x B x kv_heads x head_dim x L_eff x dtype bytes
    FLOPs     = layers x (projection FLOPs at M = B + 4 x B x heads x head_dim x L_eff) + logits FLOPs

GEMM times are the measured decode GEMM results (family "decode", op "gemm", kind "batch", else
"draft") at M = B, linearly interpolated between measured M. Attention time is the bytes the model's
attention moves at L_eff divided by the achieved GB/s of the measured decode attention results
(op "attention"; our Triton provider first), interpolated piecewise-linearly in log2(L) and held
constant past the measured ends; the measured shape (heads, kv heads, head dim) and batch nearest to
the model's are used when there is no exact match. Pure over its inputs: a list of result dicts as
the results file holds them.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from perf.shape import models
from perf.shape.models import ModelConfig
from perf.shape.shapes import DTYPE_BYTES, layer_gemms

DEFAULT_STEPS = tuple(range(0, 16384 + 1, 512))
ATTENTION_BMMS = ("attn_score", "attn_over_value")
PROVIDER_ORDER = ("triton", "torch")


class DecodeModelError(ValueError):
    """The results do not hold what the model needs: names the model, GEMM, batch or shape missing."""


# ------------------------------------------------------------------------------------------- inputs

def load_results(path: str | Path) -> list[dict]:
    """The result dicts of a results file ({"results": [...]}) or of a bare JSON list."""
    data = json.loads(Path(path).read_text())
    records = data.get("results") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise DecodeModelError(f"{path}: expected a JSON list of results or an object with a 'results' list")
    return records


def _ms(result: Mapping) -> float:
    return float(result["summary"]["median_ms"])


def _decode(results: Iterable[Mapping], op: str) -> list[Mapping]:
    return [r for r in results if r.get("family") == "decode" and r.get("params", {}).get("op") == op]


def _interp(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear interpolation; constant past the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def gemm_ms(results: Iterable[Mapping], model: str, batch: int) -> dict[str, float]:
    """Measured ms of each projection of `model` (and the logits) at M = batch."""
    by_gemm: dict[str, dict[int, float]] = {}
    for kind in ("draft", "batch"):  # "batch" overwrites "draft" where both measured the same M
        for r in _decode(results, "gemm"):
            p = r["params"]
            if p.get("model") == model and p.get("kind") == kind:
                by_gemm.setdefault(p["gemm"], {})[int(p["m"])] = _ms(r)
    if not by_gemm:
        raise DecodeModelError(f"no decode GEMM results for model {model!r}: run the decode family with --model {model}")
    out = {}
    for gemm, points in by_gemm.items():
        ms = sorted(points)
        if not ms[0] <= batch <= ms[-1]:
            raise DecodeModelError(f"decode GEMM {model}:{gemm}: batch {batch} is outside the measured M {ms}")
        out[gemm] = _interp(batch, ms, [points[m] for m in ms])
    return out


def _nearest(value: float, options: Iterable[float]) -> float:
    return min(options, key=lambda o: (abs(math.log2(o) - math.log2(value)), o))


def attention_ms(results: Iterable[Mapping], heads: int, kv_heads: int, head_dim: int, batch: int,
                 lengths: Sequence[int], dtype_bytes: int, provider: str | None = None) -> list[float]:
    """Estimated decode attention ms at each cache length, from measured achieved GB/s (see module doc)."""
    from perf_kernels.decode_attention import bytes as attn_bytes

    attn = _decode(results, "attention")
    order = (provider,) if provider else PROVIDER_ORDER
    chosen = next(([r for r in attn if r["params"].get("provider") == p] for p in order
                   if any(r["params"].get("provider") == p for r in attn)), [])
    if not chosen:
        raise DecodeModelError(f"no decode attention results (op 'attention', provider in {order})")
    shapes = {(r["params"]["heads"], r["params"]["kv_heads"], r["params"]["head_dim"]) for r in chosen}
    want = (heads, kv_heads, head_dim)
    shape = want if want in shapes else min(
        shapes, key=lambda s: (abs(math.log2(s[0] / s[1]) - math.log2(heads / kv_heads)), abs(s[2] - head_dim)))
    rows = [r for r in chosen if (r["params"]["heads"], r["params"]["kv_heads"], r["params"]["head_dim"]) == shape]
    b = _nearest(batch, {r["params"]["batch"] for r in rows})
    points = sorted((int(r["params"]["L"]), r["bytes"] / _ms(r) / 1e6) for r in rows if r["params"]["batch"] == b)
    xs = [math.log2(length) for length, _ in points]
    gbs = [g for _, g in points]
    return [
        attn_bytes(batch, heads, kv_heads, length, head_dim, dtype_bytes) / (_interp(math.log2(length), xs, gbs) * 1e6)
        for length in lengths
    ]


# ------------------------------------------------------------------------------------------- the model

def decode_rows(results: Sequence[Mapping], model: str | ModelConfig, batch: int = 1, *,
                steps: Sequence[int] = DEFAULT_STEPS, prompt: int = 0, kv_budget: int | None = None,
                dtype: str | None = None, provider: str | None = None) -> list[dict]:
    """One row per decoding step: times (ms), tokens/s, KV-cache bytes, FLOPs and achieved TFLOP/s."""
    cfg = models.get(model) if isinstance(model, str) else model
    if kv_budget is not None and kv_budget < 1:
        raise DecodeModelError(f"kv_budget must be a positive number of tokens or None, got {kv_budget!r}")
    if dtype is None:
        dtypes = {r.get("dtype") for r in _decode(results, "gemm") if r["params"].get("model") == cfg.name}
        dtype = sorted(d for d in dtypes if d)[0] if dtypes else "bf16"
    elem = DTYPE_BYTES[dtype]
    measured = gemm_ms(results, cfg.name, batch)
    gemms = [g for g in layer_gemms(cfg, b=batch, s=1) if g.name not in ATTENTION_BMMS]
    missing = [g.name for g in gemms if g.name not in measured]
    if missing:
        raise DecodeModelError(f"decode GEMM results for {cfg.name} lack {missing} (measured: {sorted(measured)})")
    layer_names = [g.name for g in gemms if g.name != "logits"]
    layer_gemm_ms = sum(measured[n] for n in layer_names)
    logits_ms = measured["logits"]
    layer_gemm_flops = sum(g.flops() for g in gemms if g.name != "logits")
    logits_flops = next(g.flops() for g in gemms if g.name == "logits")

    lengths = [prompt + t + 1 for t in steps]
    effective = [min(n, kv_budget) if kv_budget else n for n in lengths]
    heads, kv, d = cfg.heads, cfg.n_kv_heads, cfg.d_head
    attn = attention_ms(results, heads, kv, d, batch, effective, elem, provider)
    rows = []
    for step, length, eff, a_ms in zip(steps, lengths, effective, attn):
        step_ms = cfg.layers * (layer_gemm_ms + a_ms) + logits_ms
        flops = cfg.layers * (layer_gemm_flops + 4 * batch * heads * d * eff) + logits_flops
        kv_bytes = 2 * cfg.layers * batch * kv * d * eff * elem
        rows.append({
            "model": cfg.name, "batch": batch, "kv_budget": kv_budget, "step": step, "cache_len": length,
            "kv_len": eff, "gemm_ms": cfg.layers * layer_gemm_ms, "attention_ms": cfg.layers * a_ms,
            "logits_ms": logits_ms, "step_ms": step_ms, "tokens_per_s": batch * 1e3 / step_ms,
            "kv_cache_bytes": kv_bytes, "kv_cache_gb": kv_bytes / 1e9, "flops": flops, "gflops": flops / 1e9,
            "tflops": flops / (step_ms * 1e-3) / 1e12,
        })
    return rows


def decode_frame(results: Sequence[Mapping], model_names: Sequence[str], batches: Sequence[int] = (1,),
                 budgets: Sequence[int | None] = (None,), **kwargs):
    """A pandas DataFrame of `decode_rows` over models, batches and KV budgets."""
    import pandas as pd

    rows = [row for name in model_names for b in batches for budget in budgets
            for row in decode_rows(results, name, b, kv_budget=budget, **kwargs)]
    return pd.DataFrame(rows)


def plot(frame, path: str | Path) -> Path:
    """The three-panel chart over decoding steps: tokens/s, KV memory (GB), GFLOPs per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    for (model, batch, budget), g in frame.groupby(["model", "batch", frame["kv_budget"].fillna(0)], sort=False):
        label = f"{model} b{batch}" + (f" budget {int(budget)}" if budget else "")
        for ax, col in zip(axes, ("tokens_per_s", "kv_cache_gb", "gflops")):
            ax.plot(g["step"], g[col], marker=".", label=label)
    for ax, title in zip(axes, ("Throughput (tokens/s)", "KV memory (GB)", "GFLOPs per step")):
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("Decoding steps")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
