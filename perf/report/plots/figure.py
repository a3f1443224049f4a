"""What every plot of the report shares: the run's facts (GPU, date), reading numbers from result records, and
drawing on matplotlib's Agg canvas created inside each function (no pyplot, no global backend switch).

The helpers keep the leading underscore they had as module-private names; they are this package's own API,
not the report's.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from perf.verdict import file_writes

VERDICT_COLOURS = {"regression": "#d62728", "improvement": "#2ca02c", "pass": "#7f7f7f", "unreliable": "#ff7f0e",
                   "new": "#1f77b4"}
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    file_writes.write_bytes(path, buffer.getvalue())  # atomic: a full disk leaves no half a PNG
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
