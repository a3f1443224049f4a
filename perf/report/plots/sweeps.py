"""Family "sweep": measured TFLOP/s over the swept variable, with the predicted wave-quantization dips."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from perf.report.plots.figure import (
    RunInfo, _figure, _grid, _hide_unused, _legend, _num, _param, _save, _series, family,
)


DIP_FRACTION = 0.9  # a predicted wave efficiency below this fraction of its series' best marks a dip


def predicted_dips(pts: list[tuple[float, Mapping]]) -> list[tuple[float, Mapping]]:
    """Points whose predicted wave efficiency falls below DIP_FRACTION of the best in their series."""
    effs = [(_num((r.get("params") or {}).get("predicted_wave_efficiency")), x, r) for x, r in pts]
    best = max((e for e, _, _ in effs if e is not None), default=None)
    if not best:
        return []
    return [(x, r) for e, x, r in effs if e is not None and e < DIP_FRACTION * best]


def sweeps(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """Measured TFLOP/s over the swept variable per sweep, the predicted wave efficiency on a second axis and
    its dips marked on the measured curve."""
    panels = _series(family(doc, "sweep"), lambda r: str((r.get("params") or {}).get("sweep") or r.get("group")),
                     lambda r: r.get("group") or "", _param("x"))
    if not panels:
        return None
    info = RunInfo.of(doc)
    fig, axes = _figure(*_grid(len(panels), 2), width=7.0)
    for ax, (name, series) in zip(axes, panels.items()):
        twin = ax.twinx()
        twin.set_ylim(0, 1.1)
        twin.set_ylabel("predicted wave efficiency", fontsize=8, color="0.4")
        marked = False
        first = next(iter(series.values()))[0][1]
        xlabel = str((first.get("params") or {}).get("x_name") or _swept_name(first))
        for i, (group, pts) in enumerate(series.items()):
            label = group.split(f"sweep/{name}")[-1].lstrip(":") or name
            xs = [x for x, _ in pts]
            ax.plot(xs, [_num(r.get("tflops")) or math.nan for _, r in pts], marker=".", color=f"C{i}", label=label)
            eff = [_num((r.get("params") or {}).get("predicted_wave_efficiency")) for _, r in pts]
            if any(e is not None for e in eff):
                twin.plot(xs, [e if e is not None else math.nan for e in eff], ":", color=f"C{i}", alpha=0.7)
            dips = predicted_dips(pts)
            if dips:
                ax.scatter([x for x, _ in dips], [_num(r.get("tflops")) or math.nan for _, r in dips], marker="v",
                           s=50, facecolors="none", edgecolors="red", zorder=5,
                           label=None if marked else f"predicted dip (< {DIP_FRACTION:.0%} of best wave efficiency)")
                marked = True
        ax.plot([], [], ":", color="0.4", label="predicted wave efficiency (right axis)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("TFLOP/s")
        ax.set_ylim(bottom=0)
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        _legend(ax, fontsize=7, loc="lower right")
    _hide_unused(axes, len(panels))
    fig.suptitle(info.title("GEMM sweeps: measured throughput and predicted wave quantization", suffix))
    return _save(fig, out_dir / "sweeps.png")


def _swept_name(r: Mapping) -> str:
    p = r.get("params") or {}
    sweep = str(p.get("sweep", ""))
    gemm = p.get("gemm", "")
    names = {"fig5a": "m (= n)", "fig5b": "k", "fig5c": "k", "fig20a": "vocabulary v", "fig20b": "vocabulary v"}
    if sweep in names:
        return names[sweep]
    if gemm in ("attn_score", "attn_over_value", "mlp_up", "mlp_down"):
        return "hidden size h"
    return "swept value"
