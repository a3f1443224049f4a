"""Family "gemm": transformer-layer GEMM throughput per model (sum of FLOPs / sum of median times, no logits)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from perf.report.plots.figure import RunInfo, _figure, _legend, _num, _save, median_ms


@dataclass(frozen=True)
class LayerThroughput:
    label: str  # model (and workload when a model runs at several)
    gemms: int
    flops: float
    median_ms: float  # sum of the layer GEMMs' medians
    baseline_ms: float | None  # sum of their baseline medians, when every one has a baseline

    @property
    def tflops(self) -> float:
        return self.flops / (self.median_ms * 1e-3) / 1e12

    @property
    def baseline_tflops(self) -> float | None:
        return self.flops / (self.baseline_ms * 1e-3) / 1e12 if self.baseline_ms else None


def layer_throughput(records: Iterable[Mapping]) -> list[LayerThroughput]:
    """Per model and workload: sum of the layer GEMMs' FLOPs / sum of their median times (logits excluded)."""
    groups: dict[tuple, list[Mapping]] = defaultdict(list)
    for r in records:
        p = r.get("params") or {}
        if r.get("family") != "gemm" or p.get("gemm") == "logits" or not _num(r.get("flops")):
            continue
        groups[(str(p.get("model", r.get("group"))), r.get("dtype"), p.get("b"), p.get("s"), p.get("t"))].append(r)
    models = defaultdict(int)
    for key in groups:
        models[key[0]] += 1
    out = []
    for key, rs in groups.items():
        model, dtype, b, s, t = key
        label = model if models[model] == 1 else f"{model} {dtype} b{b} s{s} t{t}"
        bases = [_num((r.get("baseline") or {}).get("median_ms")) for r in rs]
        out.append(LayerThroughput(label, len(rs), sum(float(r["flops"]) for r in rs), sum(median_ms(r) for r in rs),
                                   sum(bases) if all(bases) else None))
    return out


def gemm_layer(doc: Mapping, out_dir: Path, *, suffix: str = "", baseline_label: str = "baseline") -> Path | None:
    """Bar chart: layer GEMM throughput per model (the paper's Figure 1), with the baseline's beside it."""
    rows = layer_throughput(doc.get("results", []))
    if not rows:
        return None
    info = RunInfo.of(doc)
    fig, (ax,) = _figure(width=max(6.4, 1.1 * len(rows) + 2), height=4.6)
    has_base = any(r.baseline_tflops for r in rows)
    width = 0.4 if has_base else 0.7
    xs = list(range(len(rows)))
    bars = ax.bar([x - (width / 2 if has_base else 0) for x in xs], [r.tflops for r in rows], width=width,
                  color="C0", label="now")
    ax.bar_label(bars, fmt="%.3g", fontsize=8)
    if has_base:
        bb = ax.bar([x + width / 2 for x in xs], [r.baseline_tflops or 0 for r in rows], width=width, color="0.7",
                    hatch="//", edgecolor="0.4", label=baseline_label)
        ax.bar_label(bb, fmt="%.3g", fontsize=8)
    ax.set_xlim(-0.8, max(len(rows), 2) - 0.2)
    ax.set_xticks(xs)
    ax.set_xticklabels([r.label for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("layer GEMM throughput (TFLOP/s)")
    ax.set_xlabel("model (sum of FLOPs / sum of median times of the layer GEMMs, logits excluded)", fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    _legend(ax, fontsize=8)
    fig.suptitle(info.title("Transformer layer GEMM throughput per model", suffix))
    return _save(fig, out_dir / "gemm_layer_throughput.png")
