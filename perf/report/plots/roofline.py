"""Every family: achieved TFLOP/s over arithmetic intensity under the GPU's spec and measured ceilings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from perf.report.plots.figure import RunInfo, _figure, _intensity, _legend, _num, _plain_ticks, _save


@dataclass(frozen=True)
class Ceiling:
    source: str  # "spec" or "measured"
    dtype: str
    peak_tflops: float
    bandwidth_gbs: float

    @property
    def ridge(self) -> float:
        return self.peak_tflops * 1e3 / self.bandwidth_gbs


def ceilings(doc: Mapping, dtypes: Iterable[str]) -> list[Ceiling]:
    """Spec ceilings from gpu_spec and measured ones from a top-level "ceilings" block, for these dtypes.

    "ceilings" may be one {"peak_tflops": {dtype: TFLOP/s}, "bandwidth_gbs": GB/s, "source": ...} object, a list
    of them, or an object of them keyed by source; anything else is ignored."""
    dtypes = sorted(set(dtypes))
    blocks: list[tuple[str, Mapping]] = []
    spec = doc.get("gpu_spec") or {}
    blocks.append(("spec", {"peak_tflops": spec.get("peak_tflops") or {}, "bandwidth_gbs": spec.get("mem_bw_gbs")}))
    extra = doc.get("ceilings")
    if isinstance(extra, Mapping) and "peak_tflops" in extra:
        blocks.append((str(extra.get("source") or "measured"), extra))
    elif isinstance(extra, Mapping):
        blocks += [(str(k), v) for k, v in extra.items() if isinstance(v, Mapping)]
    elif isinstance(extra, list):
        blocks += [(str(v.get("source") or "measured"), v) for v in extra if isinstance(v, Mapping)]
    out: dict[tuple[str, str], Ceiling] = {}  # a later block of the same source and dtype wins
    for source, block in blocks:
        bw = _num(block.get("bandwidth_gbs", block.get("mem_bw_gbs")))
        peaks = block.get("peak_tflops") or {}
        if not bw or bw <= 0 or not isinstance(peaks, Mapping):
            continue
        for dtype in dtypes:
            peak = _num(peaks.get(dtype))
            if peak and peak > 0:
                out[(source, dtype)] = Ceiling(source, dtype, peak, bw)
    return list(out.values())


def roofline(doc: Mapping, out_dir: Path, *, suffix: str = "") -> Path | None:
    """Achieved TFLOP/s over arithmetic intensity (log-log) for every result with FLOPs and bytes, one colour
    per family, under the GPU's ceilings (spec: solid, measured: dashed)."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    dtypes = set()
    for r in doc.get("results", []):
        ai, tflops = _intensity(r), _num(r.get("tflops"))
        if ai and ai > 0 and tflops and tflops > 0:
            points[str(r.get("family"))].append((ai, tflops))
            dtypes.add(str(r.get("dtype")))
    if not points:
        return None
    info = RunInfo.of(doc)
    fig, (ax,) = _figure(width=8.0, height=5.5)
    all_x = [x for pts in points.values() for x, _ in pts]
    all_y = [y for pts in points.values() for _, y in pts]
    roofs = ceilings(doc, dtypes)
    x_lo = min(all_x) / 2
    x_hi = max([max(all_x) * 2] + [c.ridge * 4 for c in roofs])
    for i, c in enumerate(roofs):
        xs = [x_lo, c.ridge, x_hi]
        ys = [min(c.peak_tflops, x * c.bandwidth_gbs / 1e3) for x in xs]
        style = "-" if c.source == "spec" else "--"
        ax.plot(xs, ys, style, color=f"C{(i + 5) % 10}", linewidth=2,
                label=f"{c.source} roof {c.dtype}: {c.peak_tflops:.3g} TFLOP/s, {c.bandwidth_gbs:.0f} GB/s")
    for i, (fam, pts) in enumerate(sorted(points.items())):
        ax.scatter(*zip(*pts), s=18, color=f"C{i}", alpha=0.8, edgecolors="none", label=f"{fam} ({len(pts)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax, "x")
    _plain_ticks(ax, "y")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(min(all_y) / 3, max(all_y + [c.peak_tflops for c in roofs]) * 2)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved TFLOP/s")
    ax.grid(True, which="both", alpha=0.3)
    if not roofs:
        ax.text(0.02, 0.97, "no peak or bandwidth known for this device: points only", transform=ax.transAxes,
                va="top", fontsize=8, color="0.3")
    _legend(ax, fontsize=8, loc="lower right")
    fig.suptitle(info.title("Roofline", suffix))
    return _save(fig, out_dir / "roofline.png")
