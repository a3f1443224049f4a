"""What a baseline refresh prints: each entry's median before and after, how far it moved, the independent runs
behind it, their between-run sigma and the quality flags."""

from __future__ import annotations

from typing import Sequence

from perf.report.cells import fmt as _fmt
from perf.report.text_table import format_table
from perf.verdict.baselines import Move


def moves_lines(moves: Sequence[Move]) -> list[str]:
    rows = [(m.key, _fmt(m.before_ms, ".4g", "new"), f"{m.after_ms:.4g}", _fmt(m.change, "+.1%"), str(m.runs),
             _fmt(m.sigma, ".2%"), ",".join(m.flags)) for m in moves]
    return format_table(("benchmark", "before ms", "after ms", "moved", "runs", "sigma", "flags"), rows,
                        numbers_right=True)
