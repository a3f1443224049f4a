"""What a person reads of an A/B run (`python -m perf ab`): the terminal table, the markdown of the GitHub step
summary, and the results document (`--perf-json`) that the report (`--perf-report`, `python -m perf report`)
draws from, with BASE as the baseline."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Mapping

from perf.report.cells import counts_line as verdicts_text, verdict_counts, verdict_rank
from perf.report.table import Table
from perf.report.text_table import format_table
from perf.verdict.ab import Look, Row, Sides, order_text

METHOD = ("paired per-round medians; change = Hodges-Lehmann estimate of ln(HEAD/BASE), interval = exact "
          "Wilcoxon signed-rank interval")
# pytest-benchmark's part of a side's results file describes that side alone: it is left out of the A/B document.
_BENCHMARK_LAYOUT = ("benchmarks", "machine_info", "commit_info", "version")
_RATES = ("tflops", "gbs", "peak_pct", "bandwidth_pct")


@dataclass(frozen=True)
class Revision:
    name: str  # as given ("origin/main", "HEAD"), or "working tree"
    commit: str  # the full commit id (of HEAD's commit for a working tree)
    working_tree: bool = False
    changed: bool = False  # a working tree with uncommitted changes to tracked files
    untracked: int = 0  # untracked files (not ignored) in a working tree: measured as they are

    def label(self) -> str:
        if not self.working_tree:
            return f"{self.name} ({self.commit[:10]})"
        state = " + uncommitted changes" if self.changed else ", no changes to tracked files"
        extra = f"; {self.untracked} untracked file{'s' * (self.untracked != 1)}" if self.untracked else ""
        return f"the working tree ({self.commit[:10]}{state}{extra})"


@dataclass
class Run:
    base: Revision
    head: Revision
    rounds: int
    threshold: float
    sides: Sides
    errors: list[str] = field(default_factory=list)  # one line each: revision, benchmark, what happened
    base_doc: dict | None = None  # the last results file of each side (environment, GPU)
    head_doc: dict | None = None
    wall_s: float = 0.0
    rounds_done: int = 0
    schedule: list[Look] = field(default_factory=list)  # the looks at the data (docs/ab.md); empty: one look
    looks_done: int = 0
    max_time_s: float = 0.0  # the wall time within which later looks may be measured

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.sides.rows if r.paired.verdict.value == "regression"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _medians(values) -> float | None:
    used = [v for v in values if v is not None]
    return statistics.median(used) if used else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (verdict_rank(r.paired.verdict.value), r.key))


def _cells(row: Row) -> tuple[str, ...]:
    p, i = row.paired, row.paired.interval
    used = [k for k in range(len(p.base_ms)) if k not in p.dropped]
    return (row.key, _ms(_medians(p.base_ms[k] for k in used)), _ms(_medians(p.head_ms[k] for k in used)),
            _pct(i.change if i else None), f"[{_pct(i.low)}, {_pct(i.high)}]" if i else "-",
            f"{len(used)}/{len(p.base_ms)}", p.verdict.value)


HEADER = ("benchmark", "BASE ms", "HEAD ms", "change", "interval", "rounds", "verdict")


def looks_text(run: Run) -> str:
    """The later looks in words, or '' when there are none."""
    later = run.schedule[1:]
    if not later:
        return ""
    return (f"still unreliable after them: more rounds for those alone, looks at "
            f"{', '.join(str(look.rounds) for look in later)} rounds ({later[0].confidence:.2%} intervals; "
            f"the first look's {1 - run.schedule[0].alpha:.2%}: the 5% error split over the looks) within "
            f"{run.max_time_s / 60:.3g} min")


def header_lines(run: Run) -> list[str]:
    lines = [f"perf ab: HEAD {run.head.label()} against BASE {run.base.label()}",
             f"perf ab: {run.rounds} rounds, one process per side per round, order {order_text(run.rounds)}; "
             f"regression threshold {run.threshold:.1%}"]
    if looks_text(run):
        lines.append(f"perf ab: {looks_text(run)}")
    return lines


def counts_line(run: Run) -> str:
    counts = verdict_counts({"verdict": r.paired.verdict.value} for r in run.sides.rows)
    parts = [verdicts_text(counts)] if counts else []
    parts += [f"{len(run.sides.added)} added", f"{len(run.sides.removed)} removed"]
    if run.errors:
        parts.append(f"{len(run.errors)} errors")
    return "verdicts: " + ", ".join(parts)


def terminal_lines(run: Run) -> list[str]:
    """The table (regressions first), the benchmarks on one side only, the errors, the counts."""
    lines = format_table(HEADER, [_cells(r) for r in _sorted(run.sides.rows)])
    for r in run.regressions:
        lines.append(f"regression: {r.key}: {r.paired.reason}")
    if run.sides.added:
        lines.append(f"added in HEAD ({len(run.sides.added)}, not compared): {', '.join(run.sides.added)}")
    if run.sides.removed:
        lines.append(f"removed in HEAD ({len(run.sides.removed)}, not compared): {', '.join(run.sides.removed)}")
    lines += [f"error: {e}" for e in run.errors]
    lines.append(counts_line(run))
    more = _resolved_later(run)
    if more:
        lines.append(f"more rounds: {more}")
    lines.append("change = HEAD / BASE - 1 (positive is slower), from the rounds' paired medians; interval at "
                 f"{_confidence(run)} confidence")
    return lines


def _resolved_later(run: Run) -> str:
    """What the later looks did, in words ('' when there were none)."""
    if run.looks_done < 2:
        return ""
    later = [r for r in run.sides.rows if r.paired.look > 1]
    resolved = [r for r in later if r.paired.verdict.value != "unreliable"]
    still = [r for r in later if r.paired.verdict.value == "unreliable"]
    return (f"{len(later)} benchmarks measured beyond the first {run.rounds} rounds (up to "
            f"{run.schedule[run.looks_done - 1].rounds}, {run.wall_s:.0f} s in all): {len(resolved)} resolved, "
            f"{len(still)} still unreliable")


def _confidence(run: Run) -> str:
    levels = sorted({round(r.paired.interval.confidence, 3) for r in run.sides.rows if r.paired.interval})
    return " / ".join(f"{c:.1%}" for c in levels) or "-"


def markdown(run: Run) -> str:
    """The GitHub step summary (and ab.md of the report)."""
    rows = _sorted(run.sides.rows)
    lines = [f"# Performance A/B: HEAD {run.head.label()} against BASE {run.base.label()}", "",
             f"{run.rounds} rounds (order {order_text(run.rounds)}), threshold {run.threshold:.1%}. "
             f"{counts_line(run)}.", ""]
    if _resolved_later(run):
        lines += [f"More rounds: {_resolved_later(run)}.", ""]
    flagged = [r for r in rows if r.paired.verdict.value != "pass"]
    if flagged:
        lines += ["## Not passing", "", Table(HEADER + ("reason",), tuple((*_cells(r), r.paired.reason)
                                                                          for r in flagged)).markdown(), ""]
    for title, keys in (("Added in HEAD", run.sides.added), ("Removed in HEAD", run.sides.removed)):
        if keys:
            lines += [f"## {title} ({len(keys)}, not compared)", "", ", ".join(f"`{k}`" for k in keys), ""]
    if run.errors:
        lines += ["## Errors", "", *(f"- {e}" for e in run.errors), ""]
    if rows:
        lines += [f"<details><summary>All {len(rows)} compared benchmarks</summary>", "",
                  Table(HEADER, tuple(_cells(r) for r in rows)).markdown(), "", "</details>", "",
                  f"change = HEAD / BASE - 1 (positive is slower); {METHOD}.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the document

def _summary_block(median: float, low: float, high: float, rounds: list[float]) -> dict:
    """A summary block: the median and its interval as given; quartiles and extremes of the rounds' medians."""
    s = sorted(rounds) or [median]
    return {"median_ms": median, "ci_low_ms": low, "ci_high_ms": high, "q1_ms": statistics.quantiles(s, n=4)[0]
            if len(s) > 1 else s[0], "q3_ms": statistics.quantiles(s, n=4)[2] if len(s) > 1 else s[0],
            "min_ms": s[0], "max_ms": s[-1], "n": len(rounds)}


def _compared_record(row: Row, threshold: float) -> dict:
    """HEAD's record with BASE as its baseline: BASE's time is the median of its rounds, HEAD's is BASE's times
    the paired change (its interval as the CI), so that 'now / baseline' is the paired estimate."""
    p, i = row.paired, row.paired.interval
    used = [k for k in range(len(p.base_ms)) if k not in p.dropped]
    base = _medians(p.base_ms[k] for k in used) or row.base_record["summary"]["median_ms"]
    record = {k: v for k, v in row.head_record.items()}
    measured_head = row.head_record["summary"]["median_ms"]
    if i is not None:
        head, low, high = base * (1 + i.change), base * (1 + i.low), base * (1 + i.high)
    else:
        head = low = high = _medians(p.head_ms[k] for k in used) or measured_head
    record.update(
        summary=_summary_block(head, low, high, [p.head_ms[k] for k in used]),
        baseline=_summary_block(base, base, base, [p.base_ms[k] for k in used]),
        change=i.change if i else None, noise=None, threshold=threshold, tolerance=None,
        tolerance_source="A/B interval", verdict=p.verdict.value, reason=p.reason, remeasured=False,
        rel_noise=(high - low) / 2 / head if head else None,
        **{k: record[k] * measured_head / head for k in _RATES if isinstance(record.get(k), (int, float)) and head},
        ab=_ab_entry(row),
    )
    return record


def _ab_entry(row: Row) -> dict:
    p, i = row.paired, row.paired.interval
    return {"key": row.key, "base_ms": list(p.base_ms), "head_ms": list(p.head_ms),
            "change": i.change if i else None, "low": i.low if i else None, "high": i.high if i else None,
            "confidence": i.confidence if i else None, "rounds_used": i.pairs if i else 0, "look": p.look,
            "rounds_left_out": [k + 1 for k in p.dropped], "verdict": p.verdict.value, "reason": p.reason}


def _side(doc: Mapping | None, revision: Revision, results: int) -> dict:
    env = (doc or {}).get("environment") or {}
    return {"path": f"{'BASE' if not revision.working_tree else 'HEAD'} {revision.label()}",
            "gpu": ((doc or {}).get("gpu_spec") or {}).get("name") or (doc or {}).get("gpu"),
            "commit": env.get("commit") or revision.commit[:10], "date": env.get("date"), "results": results}


def document(run: Run, head_rounds, base_rounds) -> dict:
    """A results document (schema perf-results/1, readable by `python -m perf report`): HEAD's records with
    BASE as the baseline, an "ab" block with both sides' per-round medians and the comparison, and a
    "comparison" block (what the report shows of two sides)."""
    source = run.head_doc or run.base_doc or {"schema": "perf-results/1"}
    doc = {k: v for k, v in source.items() if k not in _BENCHMARK_LAYOUT}
    records = [_compared_record(r, run.threshold) for r in run.sides.rows]
    for key in run.sides.added:
        last = next(r[key] for r in reversed(head_rounds) if key in r)
        records.append({**last, "baseline": None, "change": None, "threshold": run.threshold, "verdict": "new",
                        "reason": f"added in HEAD: BASE {run.base.label()} has no such benchmark"})
    doc.update(
        schema="perf-results/1",
        results=records,
        environment=(run.head_doc or {}).get("environment") or {},
        baseline_environment=(run.base_doc or {}).get("environment"),
        comparison={"a": _side(run.base_doc, run.base, len(run.sides.rows) + len(run.sides.removed)),
                    "b": _side(run.head_doc, run.head, len(run.sides.rows) + len(run.sides.added)),
                    "matched": len(run.sides.rows), "matched_by_id": 0,
                    "only_in_a": list(run.sides.removed), "only_in_b": list(run.sides.added)},
        ab={"base": {"name": run.base.name, "commit": run.base.commit},
            "head": {"name": run.head.name, "commit": run.head.commit, "working_tree": run.head.working_tree,
                     "uncommitted_changes": run.head.changed},
            "rounds": run.rounds, "rounds_done": run.rounds_done, "order": order_text(run.rounds),
            "threshold": run.threshold, "method": METHOD, "wall_s": run.wall_s,
            "looks": [{"rounds": look.rounds, "confidence": look.confidence, "alpha": look.alpha}
                      for look in run.schedule], "looks_done": run.looks_done, "max_time_s": run.max_time_s,
            "benchmarks": [_ab_entry(r) for r in run.sides.rows],
            "added": list(run.sides.added), "removed": list(run.sides.removed), "errors": list(run.errors),
            "base_rounds": [_round_medians(r) for r in base_rounds],
            "head_rounds": [_round_medians(r) for r in head_rounds]},
    )
    return doc


def _round_medians(records: Mapping[str, Mapping]) -> dict:
    """One side's round: key -> its median (ms), and the injected slowdown where one was."""
    out = {}
    for key, r in sorted(records.items()):
        entry = {"median_ms": r["summary"]["median_ms"], "throttled": bool(r.get("throttled"))}
        if r.get("injected"):
            entry["injected"] = r["injected"].get("measured")
        out[key] = entry
    return out
