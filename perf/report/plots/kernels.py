"""Family "kernel": throughput and median time over tokens, one panel per kernel group, one line per provider."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from perf.report.plots.figure import (
    RunInfo, _ci, _figure, _grid, _hide_unused, _intensity, _legend, _log2_ticks, _num, _param, _provider, _save,
    _series, family, median_ms,
)


MEMORY_BOUND_INTENSITY = 8.0  # FLOP/byte: a kernel panel whose largest intensity is below this is shown in GB/s


def kernel_throughput(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """TFLOP/s over tokens (log-log) per kernel group, ours against the reference; GB/s where memory-bound."""
    panels = _series(family(doc, "kernel"), lambda r: r.get("group") or r["family"], _provider, _param("tokens"))
    if not panels:
        return None
    info = RunInfo.of(doc)
    fig, axes = _figure(*_grid(len(panels)))
    for ax, (name, series) in zip(axes, panels.items()):
        intensities = [_intensity(r) or 0.0 for pts in series.values() for _, r in pts]
        memory_bound = max(intensities, default=0.0) < MEMORY_BOUND_INTENSITY
        field, unit = ("gbs", "GB/s") if memory_bound else ("tflops", "TFLOP/s")
        xs = []
        for provider, pts in series.items():
            pairs = [(x, _num(r.get(field))) for x, r in pts]
            pairs = [(x, y) for x, y in pairs if y and y > 0]
            if pairs:
                ax.plot(*zip(*pairs), marker="o", label=provider)
                xs += [x for x, _ in pairs]
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        _log2_ticks(ax, xs)
        ax.set_xlabel("tokens")
        ax.set_ylabel(unit + (" (memory-bound)" if memory_bound else ""))
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, fontsize=8)
    _hide_unused(axes, len(panels))
    fig.suptitle(info.title("Kernel throughput over tokens", suffix))
    return _save(fig, out_dir / "kernel_throughput.png")


def kernel_time(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """Median time (ms) over tokens per kernel group, one line per provider, error bars = 95% CI of the median."""
    panels = _series(family(doc, "kernel"), lambda r: r.get("group") or r["family"], _provider, _param("tokens"))
    if not panels:
        return None
    info = RunInfo.of(doc)
    fig, axes = _figure(*_grid(len(panels)))
    for ax, (name, series) in zip(axes, panels.items()):
        xs = []
        for provider, pts in series.items():
            x = [p[0] for p in pts]
            y = [median_ms(r) for _, r in pts]
            lo = [max(m - _ci(r["summary"], "ci_low_ms"), 0) for m, (_, r) in zip(y, pts)]
            hi = [max(_ci(r["summary"], "ci_high_ms") - m, 0) for m, (_, r) in zip(y, pts)]
            ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=2, label=provider)
            xs += x
        ax.set_xscale("log", base=2)
        _log2_ticks(ax, xs)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("tokens")
        ax.set_ylabel("median time (ms)")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        _legend(ax, fontsize=8, loc="upper left")
    _hide_unused(axes, len(panels))
    fig.suptitle(info.title("Kernel time over tokens (95% CI)", suffix))
    return _save(fig, out_dir / "kernel_time.png")
