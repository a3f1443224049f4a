"""Every family with baselines: each benchmark's median time relative to its baseline median."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Mapping

from perf.report.plots.figure import VERDICT_COLOURS, RunInfo, _ci, _figure, _legend, _num, _plain_ticks, _save


def baseline_vs_now(doc: Mapping, out_dir: Path, *, suffix: str = "", baseline_label: str = "baseline"
                    ) -> Path | None:
    """Per family: each benchmark's median time relative to its baseline median. The baseline's 95% CI is the
    grey bar centred on 1, the run's median and CI are coloured by verdict, the regression threshold is dashed."""
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
        tolerances = [(i, float(r["tolerance"])) for i, r in enumerate(records) if _num(r.get("tolerance")) is not None]
        if tolerances:
            xs = [i for i, _ in tolerances]
            ax.scatter(xs, [1 + t for _, t in tolerances], marker="_", s=160, linewidths=1.5, zorder=3,
                       color=VERDICT_COLOURS["regression"], label="tolerance: the change that counts")
            faster = [(i, 1 - t) for i, t in tolerances if 1 - t > 0.2]  # a tolerance near 100%: no faster bound
            if faster:
                ax.scatter(*zip(*faster), marker="_", s=160, linewidths=1.5, zorder=3,
                           color=VERDICT_COLOURS["improvement"])
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
            # Upright, one line each (wrapped only past LABEL_WIDTH): a label is one text line wide, so up to 40 fit
            # side by side without touching, where slanted or wrapped ones overlapped their neighbours.
            prefix, labels = tick_labels([str(r.get("id", r.get("key"))) for r in records], width=LABEL_WIDTH)
            ax.set_xticklabels(labels, rotation=90, ha="center", fontsize=7)
            if prefix:
                ax.set_xlabel(f"{prefix}:...", fontsize=8)
        else:
            ax.set_xticks([])
            ax.set_xlabel(f"{len(records)} benchmarks")
        ax.set_ylabel(f"median time / {baseline_label}")
        ax.set_title(f"{fam}: {len(records)} benchmarks compared with {baseline_label}", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        _legend(ax, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(info.title(f"Now against {baseline_label} (above 1 is slower)", suffix))
    return _save(fig, out_dir / "baseline_vs_now.png")


LABEL_WIDTH = 60  # characters of an upright tick label before it wraps at a ':'


def tick_labels(names: list[str], width: int = 34) -> tuple[str, list[str]]:
    """The names' common ':'-separated prefix, and each name without it, wrapped at ':' into lines of about `width`
    characters: never cut, so that two names stay two labels."""
    parts = [name.split(":") for name in names]
    common = 0
    while all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1 and len(names) > 1:
        common += 1
    labels = []
    for p in parts:
        lines, line = [], ""
        for word in p[common:]:
            piece = word if not line else f"{line}:{word}"
            if line and len(piece) > width:
                lines.append(line + ":")
                line = word
            else:
                line = piece
        labels.append("\n".join([*lines, line]))
    return ":".join(parts[0][:common]) if common else "", labels
