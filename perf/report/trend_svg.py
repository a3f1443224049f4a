"""One history series as an inline SVG (no matplotlib, no network: every series page of the history site gets one
quickly): each night's value and its interval band, the reference and the tolerance band that decided each night's
verdict (a benchmark's: reference ms x (1 ± tolerance)), a dot per night coloured by its verdict, environment
changes as dotted lines labelled on the time axis, change points as solid lines (red slower, green faster)."""

from __future__ import annotations

import html
import math
from typing import Sequence

from perf.report.plots.trend import Values, is_slower, run_labels

WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 34, 70
VERDICT_FILL = {"regression": "#d62728", "improvement": "#2ca02c", "unreliable": "#ff7f0e", "new": "#7f7f7f",
                "pass": "#1f77b4"}


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and isinstance(v, (int, float)) and math.isfinite(v)]


def _column(series, name: str) -> list[float | None]:
    if name not in series:
        return [None] * len(series)
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in series[name]]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) between lo and hi: about `count` of them."""
    raw = (hi - lo) / count
    if not raw > 0:
        return [lo]
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 12) for k in range(int((hi - first) / step) + 1)]


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(("M" if i == 0 else "L") + f"{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))


def series_svg(series, change_points: Sequence, environment: Sequence[tuple[int, str]], values: Values) -> str:
    """series: one (gpu, key)'s rows oldest first; change_points: objects with index and change; environment:
    (index of the first run after, "torch 2.11 -> 2.12")."""
    n = len(series)
    middle = _column(series, values.column)
    low = [m if v is None else v for v, m in zip(_column(series, values.low), middle)]
    high = [m if v is None else v for v, m in zip(_column(series, values.high), middle)]
    if values.level_column:
        level = _column(series, values.level_column)
        tolerance = _column(series, "tolerance")
    else:
        level, tolerance = [values.level] * n, [None] * n
    band = [(lv * (1 - t), lv * (1 + t)) if lv is not None and t is not None else None
            for lv, t in zip(level, tolerance)]
    ys = _finite([*middle, *low, *high, *level, *(b for pair in band if pair for b in pair)])
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(i: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * ((i + 0.5) / max(n, 1))

    def y(v: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))

    out = [f"<svg class='trend' viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' role='img' "
           f"xmlns='http://www.w3.org/2000/svg' font-family='sans-serif' font-size='11'>",
           f"<rect x='{LEFT}' y='{TOP}' width='{WIDTH - LEFT - RIGHT}' height='{HEIGHT - TOP - BOTTOM}' "
           "fill='#fff' stroke='#ccc'/>"]
    for v in nice_ticks(lo, hi):  # the value axis
        out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y(v):.1f}' y2='{y(v):.1f}' stroke='#eee'/>"
                   f"<text x='{LEFT - 6}' y='{y(v) + 4:.1f}' text-anchor='end'>{v:.4g}</text>")
    out.append(f"<text x='14' y='{(TOP + HEIGHT - BOTTOM) / 2:.0f}' transform='rotate(-90 14 "
               f"{(TOP + HEIGHT - BOTTOM) / 2:.0f})' text-anchor='middle'>{html.escape(values.ylabel)}</text>")
    # the tolerance band around the reference that decided each night, then the reference itself
    for i, b in enumerate(band):
        if b:
            out.append(f"<rect class='tolerance' x='{x(i - 0.5):.1f}' y='{y(b[1]):.1f}' "
                       f"width='{x(i + 0.5) - x(i - 0.5):.1f}' height='{max(y(b[0]) - y(b[1]), 0.5):.1f}' fill='#9467bd' fill-opacity='0.13'/>")
    runs = [(i, v) for i, v in enumerate(level) if v is not None]
    for i, v in runs:
        out.append(f"<line x1='{x(i - 0.5):.1f}' x2='{x(i + 0.5):.1f}' y1='{y(v):.1f}' y2='{y(v):.1f}' "
                   "stroke='#9467bd' stroke-dasharray='4 3'/>")
    known = [i for i, m in enumerate(middle) if m is not None]
    if known:
        upper = [(x(i), y(high[i])) for i in known]
        lower = [(x(i), y(low[i])) for i in reversed(known)]
        out.append(f"<path d='{_path(upper + lower)} Z' fill='#1f77b4' fill-opacity='0.18' stroke='none'/>")
        out.append(f"<path d='{_path([(x(i), y(middle[i])) for i in known])}' fill='none' stroke='#1f77b4'/>")
    labels = run_labels(series)
    verdicts = list(series["verdict"]) if "verdict" in series else [""] * n
    for i in known:
        tip = f"{labels[i]}: {middle[i]:.4g}" + (f", {verdicts[i]}" if verdicts[i] else "")
        out.append(f"<circle class='night' cx='{x(i):.1f}' cy='{y(middle[i]):.1f}' r='3' "
                   f"fill='{VERDICT_FILL.get(str(verdicts[i]), '#1f77b4')}'><title>{html.escape(tip)}</title></circle>")
    for index, text in environment:
        out.append(f"<line class='environment' x1='{x(index - 0.5):.1f}' x2='{x(index - 0.5):.1f}' y1='{TOP}' "
                   f"y2='{HEIGHT - BOTTOM}' stroke='#8c564b' stroke-dasharray='2 3'/>"
                   f"<text x='{x(index - 0.5) + 3:.1f}' y='{TOP + 11}' fill='#8c564b'>{html.escape(text)}</text>")
    for cp in change_points:
        colour = "#d62728" if is_slower(cp.change, values) else "#2ca02c"
        out.append(f"<line class='change-point' x1='{x(cp.index - 0.5):.1f}' x2='{x(cp.index - 0.5):.1f}' "
                   f"y1='{TOP}' y2='{HEIGHT - BOTTOM}' stroke='{colour}' stroke-width='2'>"
                   f"<title>change {cp.change:+.1%}</title></line>")
    step = max(1, math.ceil(n / 16))
    for i in range(0, n, step):
        out.append(f"<text x='{x(i):.1f}' y='{HEIGHT - BOTTOM + 12}' transform='rotate(40 {x(i):.1f} "
                   f"{HEIGHT - BOTTOM + 12})'>{html.escape(labels[i])}</text>")
    legend = [("#1f77b4", f"{values.name} and {values.band}"), ("#9467bd", "reference and the tolerance that decided"),
              ("#8c564b", "environment change"), ("#d62728", "change point (slower)"),
              ("#2ca02c", "change point (faster)")]
    if not values.level_column:
        legend[1] = ("#9467bd", values.level_label)
    pos = LEFT
    for colour, text in legend:
        out.append(f"<rect x='{pos}' y='8' width='10' height='10' fill='{colour}'/>"
                   f"<text x='{pos + 14}' y='17'>{html.escape(text)}</text>")
        pos += 24 + 6.2 * len(text)
    out.append("</svg>")
    return "".join(out)
