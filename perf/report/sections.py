"""The report's sections in reading order, each a heading, a table and a note: verdict counts, per-GPU table,
offsets, regressions / improvements / unreliable results, shape-rule violations, the paper's claims, side-by-side
pairs and kernel targets, other perf_* lists, the compared files and the environment. summary.md
(perf/report/markdown.py) and index.html (perf/report/html_page.py) both lay these out; the cells are
perf.report.cells'."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from perf.measure.environment import COMPARED
from perf.report import cells, claims_table, kernel_targets, offsets, pairs_table, per_gpu
from perf.report.cells import difference_text, value_text
from perf.report.table import Table


def sorted_records(doc: Mapping) -> list[dict]:
    return cells.sorted_records(doc["results"])


RESULT_HEADER = cells.REPORT_COLUMNS


def result_row(r: Mapping) -> tuple[str, ...]:
    return cells.row(r, RESULT_HEADER)


def row_id(record: Mapping) -> str:
    """The anchor of a benchmark's row in the report's table of all results."""
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", record["key"]).strip("-")


def results_table(records: Sequence[Mapping], *, anchored: bool = False) -> Table:
    """The result rows. anchored: the table of all results, each row with its anchor; otherwise each row's benchmark
    links to its row there."""
    ids = tuple(row_id(r) for r in records)
    return Table(RESULT_HEADER, tuple(result_row(r) for r in records), tuple(r["verdict"] for r in records),
                 ids=ids if anchored else (), links=() if anchored else tuple("#" + i for i in ids))


def rule_findings(doc: Mapping) -> list[dict]:
    """Rule violations from the perf_* lists that carry them ("perf_rule", "perf_shape_rules", ...): each entry is
    a finding, or a per-model record with its "findings" and the rules it breaks on purpose ("expected").
    Unexpected violations come first."""
    out = []
    for name, entries in doc.items():
        if not (str(name).startswith("perf_") and "rule" in str(name) and isinstance(entries, list)):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            context = {k: entry.get(k) for k in ("model", "gpu") if entry.get(k) is not None}
            expected = entry.get("expected") if isinstance(entry.get("expected"), list) else []
            inner = entry.get("findings")
            for f in (inner if isinstance(inner, list) else [entry]):
                if isinstance(f, Mapping) and f.get("level", "error") in ("error", "warning"):
                    out.append({**context, **f, "expected": f.get("rule") in expected})
    return sorted(out, key=lambda f: (bool(f["expected"]), f.get("level") != "error"))


RULE_HEADER = ("model", "GPU", "rule", "level", "GEMM", "dimension", "value", "message", "fix", "payoff",
               "expected")


def rules_table(findings: Sequence[Mapping]) -> Table:
    fields = ("model", "gpu", "rule", "level", "gemm", "dimension", "value", "message", "fix", "payoff")
    return Table(RULE_HEADER, tuple((*(value_text(f.get(k)) for k in fields), "yes" if f.get("expected") else "no")
                                    for f in findings))


OWN_SECTIONS = ("perf_claims", "perf_pairs")  # perf_* lists with a section of their own


def extra_tables(doc: Mapping) -> dict[str, Table]:
    """Other perf_* lists (audits, ...) as generic tables: one column per field seen."""
    out = {}
    for name, entries in sorted(doc.items()):
        if not (str(name).startswith("perf_") and "rule" not in str(name) and name not in OWN_SECTIONS
                and isinstance(entries, list)):
            continue
        rows = [e for e in entries if isinstance(e, Mapping)]
        if not rows:
            continue
        columns = list(dict.fromkeys(k for e in rows for k in e))
        out[name] = Table(tuple(columns), tuple(tuple(value_text(e.get(c)) for c in columns) for e in rows))
    return out


def environment_table(doc: Mapping) -> tuple[Table, list[str]]:
    """Baseline and current environment side by side, the compared fields that differ first (with what differs in
    them), and those fields."""
    now = doc.get("environment") or {}
    then = doc.get("baseline_environment") or {}
    fields = list(dict.fromkeys([*COMPARED, *now, *then]))
    fields = [f for f in fields if f in now or f in then]
    changed = [f for f in COMPARED if (f in now or f in then) and now.get(f) != then.get(f)] if then else []
    fields = changed + [f for f in fields if f not in changed]
    rows = tuple((f, value_text(then.get(f)) if then else "-", value_text(now.get(f)),
                  difference_text(f, then.get(f), now.get(f)) if f in changed else "") for f in fields)
    return (Table(("field", "baseline", "now", "differs"), rows, tuple("changed" if r[3] else "" for r in rows)),
            changed)


def sections(doc: Mapping) -> list[tuple[str, Table | None, str]]:
    """(heading, table, note) in reading order; shared by summary.md and index.html."""
    records = sorted_records(doc)
    sections: list[tuple[str, Table | None, str]] = []
    counts = cells.verdict_counts(records)
    sections.append(("Verdicts", Table(("verdict", "count"), tuple((v, str(n)) for v, n in counts.items()),
                                       tuple(counts)), f"{len(records)} benchmarks."))
    by_gpu = per_gpu.rows(records)
    if by_gpu:
        sections.append((f"Per GPU ({len(by_gpu)})", Table(per_gpu.HEADER, tuple(by_gpu)), per_gpu.NOTE))
    family_offsets = offsets.offsets(records)
    if family_offsets:
        told = " ".join(o.sentence() + "." for o in family_offsets if o.notable)
        sections.append((f"Offset from the entries ({len(family_offsets)} families)",
                         Table(offsets.HEADER, tuple(o.row() for o in family_offsets)),
                         offsets.NOTE + (" " + told if told else "")))
    for verdict, heading, note in (
        ("regression", "Regressions", "Slower than the baseline beyond the threshold and both measurements' noise."),
        ("improvement", "Improvements", "Faster beyond threshold and noise: refresh the baseline "
                                        "(`python -m perf refresh`) to keep them."),
        ("unreliable", "Unreliable", "A change that the noise or a throttled GPU does not let us call."),
    ):
        picked = [r for r in records if r["verdict"] == verdict]
        if picked:
            sections.append((f"{heading} ({len(picked)})", results_table(picked), note))
    findings = rule_findings(doc)
    if any(str(k).startswith("perf_") and "rule" in str(k) for k in doc):
        errors = sum(1 for f in findings if not f["expected"] and f.get("level") == "error")
        warnings = sum(1 for f in findings if not f["expected"] and f.get("level") != "error")
        note = (f"{errors} unexpected errors, {warnings} warnings, {len(findings) - errors - warnings} expected "
                "(rules a model breaks on purpose, listed in its config)." if findings else "No rule violations.")
        sections.append((f"Shape-rule violations ({len(findings)})", rules_table(findings) if findings else None,
                         note))
    if records:
        sections += claims_sections(doc)
    pairs = doc.get("perf_pairs") or []
    if pairs:
        note = ("Ours and the reference timed in alternation in one process (ABBA rounds); ratio = reference time / "
                "ours, above 1 ours is faster. " + " ".join(line + "." for line in pairs_table.summary_lines(pairs)))
        sections.append((f"Side by side ({len(pairs)} pairs)", Table(pairs_table.HEADER, tuple(pairs_table.rows(pairs))),
                         note))
        verdicts = kernel_targets.decided(pairs)
        if verdicts:
            sections.append(("Kernel targets", Table(kernel_targets.HEADER, tuple(kernel_targets.rows(verdicts)),
                                                     tuple(v["verdict"].replace(" ", "-") for v in verdicts)),
                             "The speed targets of docs/kernels.md, each decided by this run's side-by-side pairs."))
    for name, table in extra_tables(doc).items():
        sections.append((f"{name} ({len(table.rows)})", table, ""))
    comparison = doc.get("comparison")
    if isinstance(comparison, Mapping):
        sections.append(("Compared files", comparison_table(comparison), comparison_note(comparison)))
    env, changed = environment_table(doc)
    if not doc.get("baseline_environment"):
        note = "No baseline environment recorded."
    elif changed:
        note = "Changed since the baseline: " + ", ".join(changed) + ". Timings may shift with these."
    else:
        note = "Same compared fields as the baseline (" + ", ".join(COMPARED) + ")."
    sections.append(("Environment", env, note))
    return sections


def claims_sections(doc: Mapping) -> list[tuple[str, Table | None, str]]:
    """The paper's claims evaluated on this run (perf/shape/claims.toml), and the cases behind each verdict."""
    verdicts = claims_table.evaluate_document(doc)
    note = (f"{claims_table.counts_line(verdicts)}. Each claim of the co-design paper decided by this run's "
            "measurements; 'paper' is the paper's own figure (A100 unless said). A contradicted claim is information "
            "about this GPU, not a failure (`--perf-claims strict` makes it one).")
    sections = [("Claims", Table(claims_table.CLAIM_HEADER, claims_table.claim_rows(verdicts),
                                 tuple(v.verdict.replace(" ", "-") for v in verdicts)), note)]
    details = claims_table.detail_rows(verdicts)
    if details:
        sections.append(("Claims: the cases behind each verdict", Table(claims_table.DETAIL_HEADER, details), ""))
    return sections


def comparison_table(comparison: Mapping) -> Table:
    rows = []
    for side in ("a", "b"):
        info = comparison.get(side) or {}
        rows.append((side.upper() + (" (baseline)" if side == "a" else " (now)"), str(info.get("path", "")),
                     str(info.get("gpu", "")), str(info.get("commit", "")), str(info.get("date", "")),
                     str(info.get("results", ""))))
    return Table(("file", "path", "GPU", "commit", "date", "results"), tuple(rows))


def comparison_note(comparison: Mapping) -> str:
    parts = [f"{comparison.get('matched', 0)} benchmarks matched ({comparison.get('matched_by_id', 0)} by id "
             "across different keys)."]
    for side, label in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        keys = comparison.get(side) or []
        if keys:
            shown = ", ".join(keys[:10]) + (f", and {len(keys) - 10} more" if len(keys) > 10 else "")
            parts.append(f"{len(keys)} {label}: {shown}.")
    return " ".join(parts)
