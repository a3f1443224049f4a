"""The report's plots: one PNG per chart, drawn only from what a results document contains.

Every chart has axes in physical units, a legend, and the GPU and the run's date in its title. A chart whose
family is absent from the results is skipped (its function returns None). Figures are drawn on matplotlib's
Agg canvas created inside each function (no pyplot, no global backend switch), so importing this module and
drawing from a pytest run or a CI job never touches a display.

    kernel_throughput   family "kernel": TFLOP/s (GB/s for memory-bound kernels) over tokens, log-log, ours vs
                        the reference provider, one panel per kernel group
    kernel_time         family "kernel": median time (ms, with its 95% CI) over tokens
    decode_steps        family "decode" through perf.report.decode_model: tokens/s, KV-cache GB and GFLOPs per step
                        over decoding steps (skipped when perf.report.decode_model is absent)
    decode_attention    family "decode", op "attention": GB/s over KV-cache length per provider
    roofline            every family: achieved TFLOP/s over FLOP/byte, with the GPU's spec (and measured) ceilings
    sweeps              family "sweep": TFLOP/s over the swept variable, the predicted wave-quantization dips marked
    baseline_vs_now     per family: median time relative to the baseline median, both with their 95% CI
    gemm_layer          family "gemm": layer throughput per model (sum of FLOPs / sum of median times, no logits)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

VERDICT_COLOURS = {"regression": "#d62728", "improvement": "#2ca02c", "pass": "#7f7f7f", "unreliable": "#ff7f0e",
                   "new": "#1f77b4"}
MEMORY_BOUND_INTENSITY = 8.0  # FLOP/byte: a kernel panel whose largest intensity is below this is shown in GB/s
DIP_FRACTION = 0.9  # a predicted wave efficiency below this fraction of its series' best marks a dip
DPI = 100


# ---------------------------------------------------------------------------------------------- run facts

@dataclass(frozen=True)
class RunInfo:
    gpu: str  # the GPU's name
    date: str  # YYYY-MM-DD of the run

    @classmethod
    def of(cls, doc: Mapping) -> "RunInfo":
        spec = doc.get("gpu_spec") or {}
        env = doc.get("environment") or {}
        date = str(env.get("date") or doc.get("datetime") or "")[:10] or "undated"
        return cls(gpu=str(spec.get("name") or doc.get("gpu") or "unknown GPU"), date=date)

    def title(self, what: str, suffix: str = "") -> str:
        """Three lines at most: what the chart shows, the GPU and date, and the suffix (e.g. what is compared)."""
        import textwrap

        extra = "\n".join(textwrap.wrap(suffix.strip(), 80)) if suffix.strip() else ""
        return f"{what}\n{self.gpu} · {self.date}" + (f"\n{extra}" if extra else "")


def family(doc: Mapping, name: str) -> list[dict]:
    return [r for r in doc.get("results", []) if r.get("family") == name]


def median_ms(r: Mapping) -> float:
    return float(r["summary"]["median_ms"])


def _num(value) -> float | None:
    """A finite float, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _ci(summary: Mapping, name: str) -> float:
    """An interval bound of a summary block (ms); the median where the bound is missing."""
    value = _num(summary.get(name))
    return value if value is not None else float(summary["median_ms"])


def _intensity(r: Mapping) -> float | None:
    flops, nbytes = _num(r.get("flops")), _num(r.get("bytes"))
    if flops is None or not nbytes:
        return _num(r.get("intensity"))
    return flops / nbytes


# ---------------------------------------------------------------------------------------------- canvas

def _figure(rows: int = 1, cols: int = 1, *, width: float = 6.4, height: float = 4.2, sharex: bool = False):
    """A figure on the Agg canvas (set here, not at import) and its axes as a flat list."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * cols, height * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=sharex)
    return fig, [ax for row in axes for ax in row]


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def _hide_unused(axes: list, used: int) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)


def _log2_ticks(ax, xs: Iterable[float]) -> None:
    """Ticks at the measured x values (powers of two read best as plain numbers)."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ticks = sorted(set(xs))
    if len(ticks) > 16:
        ticks = ticks[:: math.ceil(len(ticks) / 16)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.xaxis.set_major_formatter(fmt)
    ax.tick_params(axis="x", labelrotation=45)


def _plain_ticks(ax, axis: str) -> None:
    """Log-axis labels as plain numbers (0.05, 20, 300) on the decades' 1-2-3-5 steps."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def _legend(ax, **kwargs) -> None:
    """A legend where the axes have labelled artists (an empty panel gets none, and no warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _series(records: Iterable[Mapping], panel: Callable[[Mapping], str], series: Callable[[Mapping], str],
            x: Callable[[Mapping], float | None]) -> dict[str, dict[str, list[tuple[float, Mapping]]]]:
    """panel -> series -> [(x, record)] sorted by x; records without an x are left out."""
    out: dict[str, dict[str, list[tuple[float, Mapping]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        xv = _num(x(r))
        if xv is not None:
            out[panel(r)][series(r)].append((xv, r))
    return {p: {s: sorted(pts, key=lambda t: t[0]) for s, pts in sorted(ss.items(), key=lambda kv: _natural(kv[0]))}
            for p, ss in sorted(out.items(), key=lambda kv: _natural(kv[0]))}


def _natural(name: str) -> tuple:
    """Sort key that puts fig5a before fig10a and a12 before a100."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(name)))


def _param(name: str) -> Callable[[Mapping], object]:
    return lambda r: (r.get("params") or {}).get(name)


def _provider(r: Mapping) -> str:
    return str((r.get("params") or {}).get("provider") or "default")


# ---------------------------------------------------------------------------------------------- kernels

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


# ---------------------------------------------------------------------------------------------- decode

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


# ---------------------------------------------------------------------------------------------- roofline

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


# ---------------------------------------------------------------------------------------------- sweeps

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


# ---------------------------------------------------------------------------------------------- baselines

def baseline_vs_now(doc: Mapping, out_dir: Path, *, suffix: str = "", baseline_label: str = "baseline"
                    ) -> Path | None:
    """Per family: each benchmark's median time relative to its baseline median. The baseline's 95% CI is the
    grey bar around 1, the run's median and CI are coloured by verdict, the regression threshold is dashed."""
    by_family: dict[str, list[Mapping]] = defaultdict(list)
    for r in doc.get("results", []):
        base = r.get("baseline")
        if isinstance(base, Mapping) and _num(base.get("median_ms")):
            by_family[str(r.get("family"))].append(r)
    if not by_family:
        return None
    info = RunInfo.of(doc)
    fams = sorted(by_family)
    fig, axes = _figure(len(fams), 1, width=max(8.0, min(18.0, 0.25 * max(map(len, by_family.values())))),
                        height=4.4)
    for ax, fam in zip(axes, fams):
        records = by_family[fam]
        base = [float(r["baseline"]["median_ms"]) for r in records]
        base_lo = [_ci(r["baseline"], "ci_low_ms") / b for r, b in zip(records, base)]
        base_hi = [_ci(r["baseline"], "ci_high_ms") / b for r, b in zip(records, base)]
        ax.bar(range(len(records)), [hi - lo for lo, hi in zip(base_lo, base_hi)], bottom=base_lo, width=0.7,
               color="0.85", edgecolor="0.6", linewidth=0.5, label=f"{baseline_label} (95% CI)")
        by_verdict: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            by_verdict[str(r.get("verdict"))].append(i)
        for verdict, idx in sorted(by_verdict.items()):
            now = [float(records[i]["summary"]["median_ms"]) / base[i] for i in idx]
            lo = [max(n - _ci(records[i]["summary"], "ci_low_ms") / base[i], 0) for n, i in zip(now, idx)]
            hi = [max(_ci(records[i]["summary"], "ci_high_ms") / base[i] - n, 0) for n, i in zip(now, idx)]
            ax.errorbar(idx, now, yerr=[lo, hi], fmt="o", capsize=3, markersize=5,
                        color=VERDICT_COLOURS.get(verdict, "k"), label=f"now: {verdict} ({len(idx)})")
        thresholds = sorted({float(r["threshold"]) for r in records if _num(r.get("threshold")) is not None})
        if thresholds:
            t = thresholds[0]
            ax.axhline(1 + t, color=VERDICT_COLOURS["regression"], linestyle="--", linewidth=1,
                       label=f"threshold ±{t:.0%}" + (" (smallest)" if len(thresholds) > 1 else ""))
            ax.axhline(1 - t, color=VERDICT_COLOURS["improvement"], linestyle="--", linewidth=1)
        ax.axhline(1, color="0.4", linewidth=0.8)
        ratios = [float(r["summary"]["median_ms"]) / float(r["baseline"]["median_ms"]) for r in records]
        if min(ratios) < 0.5 or max(ratios) > 2:
            ax.set_yscale("log")
            _plain_ticks(ax, "y")
        ax.set_xlim(-0.7, len(records) - 0.3)
        if len(records) <= 40:
            ax.set_xticks(range(len(records)))
            ax.set_xticklabels([str(r.get("id", r.get("key")))[:40] for r in records], rotation=60, ha="right",
                               fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_xlabel(f"{len(records)} benchmarks")
        ax.set_ylabel(f"median time / {baseline_label}")
        ax.set_title(f"{fam}: {len(records)} benchmarks compared with {baseline_label}", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        _legend(ax, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(info.title(f"Now against {baseline_label} (above 1 is slower)", suffix))
    return _save(fig, out_dir / "baseline_vs_now.png")


# ---------------------------------------------------------------------------------------------- GEMM layer

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


# ---------------------------------------------------------------------------------------------- all

PLOTS: tuple[Callable[..., Path | None], ...] = (
    baseline_vs_now, gemm_layer, roofline, kernel_throughput, kernel_time, decode_steps, decode_attention, sweeps,
)


def draw_all(doc: Mapping, out_dir: Path, *, suffix: str = "", baseline_label: str = "baseline") -> list[Path]:
    """Every plot the results support, in reading order; the PNGs written."""
    out_dir = Path(out_dir)
    paths = []
    for plot in PLOTS:
        kwargs = {"suffix": suffix}
        if plot in (baseline_vs_now, gemm_layer):
            kwargs["baseline_label"] = baseline_label
        path = plot(doc, out_dir, **kwargs)
        if path is not None:
            paths.append(path)
    return paths
