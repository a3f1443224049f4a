"""Family "decode": the decoding steps modelled by perf.report.decode_model, and attention bandwidth over L."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from perf.report.plots.figure import (
    RunInfo, _figure, _grid, _hide_unused, _legend, _log2_ticks, _num, _param, _provider, _save, _series, family,
)


DECODE_BATCH = 1
DECODE_BUDGETS = (None, 2048)  # the full cache, and a cache capped at 2048 tokens (as eviction methods do)


def decode_step_table(records: list[Mapping]):
    """Rows per decoding step from perf.report.decode_model (tokens/s, KV-cache GB, GFLOPs) for every model with decode
    GEMM results, with the full cache and with a fixed KV budget, as a pandas DataFrame; None when that module
    is absent or no model can be built from these results. The module is optional: another part of the suite
    provides it."""
    import importlib

    import pandas as pd

    try:
        model = importlib.import_module("perf.report.decode_model")
    except ImportError:
        return None
    names = sorted({str(r["params"]["model"]) for r in records
                    if (r.get("params") or {}).get("op") == "gemm" and (r.get("params") or {}).get("model")})
    rows = []
    for name in names:
        for budget in DECODE_BUDGETS:
            try:
                rows += model.decode_rows(records, name, DECODE_BATCH, kv_budget=budget)
            except Exception:  # a model these results cannot build is left out of the plot, not a failed report
                continue
    return pd.DataFrame(rows) if rows else None


DECODE_PANELS = (("tokens_per_s", "throughput (tokens/s)"), ("kv_cache_gb", "KV-cache memory (GB)"),
                 ("gflops", "GFLOPs per step"))


def decode_steps(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """Throughput, KV-cache memory and GFLOPs per step over decoding steps, one line per model and KV budget."""
    records = family(doc, "decode")
    frame = decode_step_table(records) if records else None
    if frame is None:
        return None
    info = RunInfo.of(doc)
    fig, axes = _figure(len(DECODE_PANELS), 1, width=8.0, height=2.8, sharex=True)
    budget = frame["kv_budget"].astype(object).where(frame["kv_budget"].notna(), None)
    models = sorted(set(zip(frame["model"], frame["batch"])))
    for i, ((model, batch, cap), part) in enumerate(frame.groupby([frame["model"], frame["batch"], budget.fillna(0)],
                                                                  sort=True)):
        label = f"{model} b{batch}, " + (f"KV budget {int(cap)} tokens" if cap else "full KV cache")
        style = "--" if cap else "-"
        for ax, (column, _) in zip(axes, DECODE_PANELS):
            ax.plot(part["step"], part[column], style, color=f"C{models.index((model, batch))}", label=label)
    for ax, (_, ylabel) in zip(axes, DECODE_PANELS):
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    _legend(axes[0], fontsize=8, loc="upper right")
    axes[-1].set_xlabel("decoding step (tokens generated; the KV cache grows by one per step)")
    fig.suptitle(info.title("Decoding modelled from the measured decode GEMMs and attention", suffix))
    return _save(fig, out_dir / "decode_steps.png")


def decode_attention(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """Decode attention: achieved GB/s over KV-cache length, one line per provider, one panel per shape/batch."""
    records = [r for r in family(doc, "decode") if (r.get("params") or {}).get("op") == "attention"]
    panels = _series(records, lambda r: r.get("group") or r["family"], _provider, _param("L"))
    if not panels:
        return None
    info = RunInfo.of(doc)
    bw = _num((doc.get("gpu_spec") or {}).get("mem_bw_gbs"))
    if all(len(pts) < 2 for series in panels.values() for pts in series.values()):
        return _attention_bars(panels, bw, info, out_dir, suffix)
    fig, axes = _figure(*_grid(len(panels)))
    for ax, (name, series) in zip(axes, panels.items()):
        xs = []
        for provider, pts in series.items():
            pairs = [(x, _num(r.get("gbs"))) for x, r in pts]
            pairs = [(x, y) for x, y in pairs if y]
            if pairs:
                ax.plot(*zip(*pairs), marker="o", label=provider)
                xs += [x for x, _ in pairs]
        if bw:
            ax.axhline(bw, color="k", linestyle="--", linewidth=1, label=f"spec bandwidth {bw:.0f} GB/s")
        ax.set_xscale("log", base=2)
        _log2_ticks(ax, xs)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("KV-cache length L (tokens)")
        ax.set_ylabel("GB/s")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        _legend(ax, fontsize=8)
    _hide_unused(axes, len(panels))
    fig.suptitle(info.title("Decode attention bandwidth over cache length", suffix))
    return _save(fig, out_dir / "decode_attention.png")


def _attention_bars(panels, bw, info, out_dir: Path, suffix: str) -> Path:
    """One cache length per shape (a short selection, the CPU's): a bar per shape and provider instead of curves
    of one point each."""
    bars = [(f"{name}\n{provider} · L={x:g}", _num(r.get("gbs")) or 0.0)
            for name, series in panels.items() for provider, pts in series.items() for x, r in pts]
    fig, (ax,) = _figure(width=max(6.4, 1.1 * len(bars)), height=4.2)
    ax.bar(range(len(bars)), [y for _, y in bars], color="#1f77b4", width=0.6, label="achieved")
    ax.set_xticks(range(len(bars)), [label for label, _ in bars], fontsize=7)
    if bw:
        ax.axhline(bw, color="k", linestyle="--", linewidth=1, label=f"spec bandwidth {bw:.0f} GB/s")
    ax.set_ylabel("GB/s")
    ax.grid(True, axis="y", alpha=0.3)
    _legend(ax, fontsize=8)
    fig.suptitle(info.title("Decode attention bandwidth (one cache length per shape)", suffix))
    return _save(fig, out_dir / "decode_attention.png")
