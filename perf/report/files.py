"""The report of a run: what a person reads of a results file (`pytest perf/ --perf-json RESULTS`), written by
`python -m perf report` (perf/commands/report.py), the plugin's --perf-report, compare and ab into a folder:

    summary.md     verdict counts; regressions, improvements and unreliable results first; shape-rule
                   violations; the paper's claims with their verdicts on this run (perf/shape/claims.toml);
                   the kernels timed side by side with their references (--perf-pairs);
                   the environment beside the baseline's, changed fields marked; every result
    index.html     one self-contained page: the same tables and every plot (PNGs inline as data URIs)
    results.csv    tidy: one row per benchmark and statistic (key, family, group, dtype, statistic, value, unit)
    *.png          the plots of perf/report/plots/ that the results support

When GITHUB_STEP_SUMMARY is set, summary.md is appended to that file too. A missing or malformed results file
is a ResultsError that names the file and the field.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from perf.report import cells, claims_table, kernel_targets, offsets, pairs_table, per_gpu, plots
from perf.report.cells import verdict_counts
from perf.report.plots.figure import RunInfo
from perf.measure import paired
from perf.measure.environment import COMPARED
from perf.verdict.results import SCHEMA, ResultsError, read

FOLD_ROWS = 30  # summary.md folds longer tables (GitHub's job page shows the summary inline)
SUMMARY_STATISTICS = ("median_ms", "ci_low_ms", "ci_high_ms", "q1_ms", "q3_ms", "min_ms", "max_ms")

# (statistic, unit, how to read it off a record) for the tidy CSV; rows with no value are left out.
STATISTICS: tuple[tuple[str, str, str], ...] = (
    *((name, "ms", f"summary.{name}") for name in SUMMARY_STATISTICS),
    ("samples", "count", "summary.n"),
    ("rel_noise", "fraction", "rel_noise"),
    ("tflops", "TFLOP/s", "tflops"),
    ("gbs", "GB/s", "gbs"),
    ("intensity", "FLOP/byte", "intensity"),
    ("peak_pct", "%", "peak_pct"),
    ("bandwidth_pct", "%", "bandwidth_pct"),
    ("flops", "FLOP", "flops"),
    ("bytes", "byte", "bytes"),
    *((f"baseline_{name}", "ms", f"baseline.{name}") for name in SUMMARY_STATISTICS),
    ("change", "fraction", "change"),
    ("noise", "fraction", "noise"),
    ("threshold", "fraction", "threshold"),
)
CSV_COLUMNS = ("key", "family", "group", "dtype", "statistic", "value", "unit")


# ---------------------------------------------------------------------------------------------- input

def check(doc: object, source: str) -> dict:
    """The document, if a report can be drawn from it; otherwise a ResultsError naming `source` and the field."""
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: expected a JSON object with schema {SCHEMA!r}, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise ResultsError(f"{source}: schema: expected {SCHEMA!r}, got {doc.get('schema')!r}")
    for where, r in _objects(doc.get("results"), "results", "result records", source):
        for name in ("key", "family", "verdict"):
            if not isinstance(r.get(name), str):
                raise ResultsError(f"{where}.{name}: expected a string, got {r.get(name)!r}")
        for block, required in (("summary", True), ("baseline", False)):
            value = r.get(block)
            if value is None and not required:
                continue
            if not isinstance(value, dict):
                raise ResultsError(f"{where}.{block}: expected an object with median_ms, got {value!r}")
            median = value.get("median_ms")
            if not _is_number(median) or median <= 0:
                raise ResultsError(f"{where}.{block}.median_ms: expected a positive number of ms, got {median!r}")
    if doc.get("perf_pairs") is not None:
        _check_pairs(doc["perf_pairs"], source)
    return doc


def _objects(value: object, name: str, what: str, source: str) -> list[tuple[str, dict]]:
    """(where, record) for each record of the list `name`; a ResultsError unless it is a list of objects."""
    if not isinstance(value, list):
        raise ResultsError(f"{source}: {name}: expected a list of {what}, got {type(value).__name__}")
    found = []
    for i, record in enumerate(value):
        where = f"{source}: {name}[{i}]"
        if not isinstance(record, dict):
            raise ResultsError(f"{where}: expected an object, got {type(record).__name__}")
        found.append((where, record))
    return found


def _check_pairs(pairs: object, source: str) -> None:
    """The side-by-side pairs (perf_pairs): each an object with an id and positive numbers."""
    for where, p in _objects(pairs, "perf_pairs", "pair records", source):
        if not isinstance(p.get("id"), str):
            raise ResultsError(f"{where}.id: expected a string, got {p.get('id')!r}")
        for name in paired.NUMBERS:
            if not _is_number(p.get(name)) or p[name] <= 0:
                raise ResultsError(f"{where}.{name}: expected a positive number, got {p.get(name)!r}")


def load(path: Path) -> dict:
    """A results file read and checked for reporting (ResultsError names the file and the field)."""
    return check(read(path), str(path))


_is_number = cells.is_number


def _get(record: Mapping, path: str):
    value: object = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# ---------------------------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    classes: tuple[str, ...] = field(default=())  # optional CSS class per row (HTML only)

    def markdown(self) -> str:
        esc = lambda cell: str(cell).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = []
        for i, row in enumerate(self.rows):
            cls = f' class="{self.classes[i]}"' if i < len(self.classes) and self.classes[i] else ""
            body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def sorted_records(doc: Mapping) -> list[dict]:
    return cells.sorted_records(doc["results"])


RESULT_HEADER = cells.REPORT_COLUMNS


def result_row(r: Mapping) -> tuple[str, ...]:
    return cells.row(r, RESULT_HEADER)


def results_table(records: Sequence[Mapping]) -> Table:
    return Table(RESULT_HEADER, tuple(result_row(r) for r in records), tuple(r["verdict"] for r in records))


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
    return Table(RULE_HEADER, tuple((*(_cell(f.get(k)) for k in fields), "yes" if f.get("expected") else "no")
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
        out[name] = Table(tuple(columns), tuple(tuple(_cell(e.get(c)) for c in columns) for e in rows))
    return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".4g")
    return str(value)


def environment_table(doc: Mapping) -> tuple[Table, list[str]]:
    """Baseline and current environment side by side, and the compared fields that changed."""
    now = doc.get("environment") or {}
    then = doc.get("baseline_environment") or {}
    fields = list(dict.fromkeys([*COMPARED, *now, *then]))
    fields = [f for f in fields if f in now or f in then]
    changed = [f for f in COMPARED if (f in now or f in then) and now.get(f) != then.get(f)] if then else []
    rows = tuple((f, _cell(then.get(f)) if then else "-", _cell(now.get(f)),
                  "changed" if f in changed else "") for f in fields)
    return Table(("field", "baseline", "now", ""), rows, tuple("changed" if r[3] else "" for r in rows)), changed


# ---------------------------------------------------------------------------------------------- summary.md

def _title(doc: Mapping, title_suffix: str) -> str:
    return f"Performance report: {RunInfo.of(doc).gpu}{title_suffix}"


def _sections(doc: Mapping) -> list[tuple[str, Table | None, str]]:
    """(heading, table, note) in reading order; shared by summary.md and index.html."""
    records = sorted_records(doc)
    sections: list[tuple[str, Table | None, str]] = []
    counts = verdict_counts(records)
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


def summary_markdown(doc: Mapping, *, title_suffix: str = "") -> str:
    env = doc.get("environment") or {}
    info = RunInfo.of(doc)
    lines = [f"# {_title(doc, title_suffix)}", "",
             f"Run of {info.date}, commit `{env.get('commit') or 'unknown'}`, {len(doc['results'])} benchmarks.", ""]
    for heading, table, note in _sections(doc):
        lines += [f"## {heading}", ""]
        if note:
            lines += [note, ""]
        if table is not None and len(table.rows) > FOLD_ROWS:
            lines += [f"<details><summary>{len(table.rows)} rows</summary>", "", table.markdown(), "", "</details>", ""]
        elif table is not None:
            lines += [table.markdown(), ""]
    records = sorted_records(doc)
    if records:
        lines += ["## All results", "", f"<details><summary>{len(records)} benchmarks</summary>", "",
                  results_table(records).markdown(), "", "</details>", "",
                  "Times are medians in ms; change = now / baseline - 1 (positive is slower); noise = both medians' "
                  "95% CI half-widths combined; * = re-measured.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- results.csv

def tidy_frame(doc: Mapping):
    """One row per benchmark and statistic: key, family, group, dtype, statistic, value, unit."""
    import pandas as pd

    rows = []
    for r in doc["results"]:
        ids = (r["key"], r["family"], r.get("group") or "", r.get("dtype") or "")
        for statistic, unit, path in STATISTICS:
            value = _get(r, path)
            if _is_number(value):
                rows.append((*ids, statistic, float(value), unit))
        for statistic, value in _flatten(r.get("roofline"), "roofline"):
            rows.append((*ids, statistic, value, _unit_of(statistic)))
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS))


def _flatten(value: object, prefix: str) -> list[tuple[str, float]]:
    """Numeric leaves of a nested block as (dotted.name, value)."""
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in _flatten(v, f"{prefix}.{k}")]
    return [(prefix, float(value))] if _is_number(value) else []


def _unit_of(name: str) -> str:
    leaf = name.rsplit(".", 1)[-1]
    for needle, unit in (("pct", "%"), ("tflops", "TFLOP/s"), ("gbs", "GB/s"), ("intensity", "FLOP/byte"),
                         ("ridge", "FLOP/byte"), ("_ms", "ms")):
        if needle in leaf:
            return unit
    return ""


# ---------------------------------------------------------------------------------------------- index.html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
td:last-child{white-space:normal;text-align:left}
tr.regression td{background:#fde2e2}tr.improvement td{background:#e3f6e3}tr.unreliable td{background:#fff1dc}
tr.changed td{background:#fff7c2}tr.holds td{background:#e3f6e3}tr.contradicted td{background:#fde2e2}
tr.not-measured td{background:#f4f4f4}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85rem;color:#555}
details summary{cursor:pointer;margin:.5rem 0}.note{color:#444}.wide{overflow-x:auto}
"""

PLOT_CAPTIONS = {
    "baseline_vs_now.png": "Each benchmark's median time over its baseline median: the grey bar is the baseline's "
                           "95% CI, the dot and whiskers the run's median and CI, coloured by verdict.",
    "gemm_layer_throughput.png": "Sum of the layer GEMMs' FLOPs over the sum of their median times, per model "
                                 "(logits excluded).",
    "roofline.png": "Achieved TFLOP/s over arithmetic intensity; the roofs are min(peak, intensity x bandwidth).",
    "kernel_throughput.png": "Kernels over the number of tokens, ours against the reference provider.",
    "kernel_time.png": "Kernel median times with their 95% confidence intervals.",
    "decode_steps.png": "Decode steps modelled from the measured decode GEMMs and attention.",
    "decode_attention.png": "Decode attention bandwidth over the KV-cache length.",
    "sweeps.png": "Measured throughput over the swept dimension; triangles mark the predicted wave-quantization dips.",
}


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def index_html(doc: Mapping, pngs: Sequence[Path], *, title_suffix: str = "") -> str:
    env = doc.get("environment") or {}
    info = RunInfo.of(doc)
    title = html.escape(_title(doc, title_suffix))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{title}</h1>",
             f"<p class='note'>Run of {html.escape(info.date)}, commit <code>{html.escape(str(env.get('commit') or 'unknown'))}"
             f"</code>, {len(doc['results'])} benchmarks.</p>"]
    for heading, table, note in _sections(doc):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if note:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        if table is not None:
            parts.append(f"<div class='wide'>{table.html()}</div>")
    if pngs:
        parts.append("<h2>Plots</h2>")
        for png in pngs:
            caption = html.escape(PLOT_CAPTIONS.get(png.name, png.stem))
            parts.append(f"<figure><img alt='{html.escape(png.stem)}' src='{_data_uri(png)}'>"
                         f"<figcaption>{caption}</figcaption></figure>")
    records = sorted_records(doc)
    if records:
        parts.append(f"<h2>All results</h2><details><summary>{len(records)} benchmarks</summary>"
                     f"<div class='wide'>{results_table(records).html()}</div></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------- entry points

def write_report(doc: dict, out_dir: Path, *, title_suffix: str = "", baseline_label: str = "baseline",
                 source: str = "results", step_summary: bool = True) -> list[Path]:
    """Write summary.md, index.html, results.csv and the plots into out_dir; return the paths written.
    Raises ResultsError (naming `source` and the field) when the document cannot be reported. With
    step_summary, summary.md is appended to GITHUB_STEP_SUMMARY when that is set."""
    check(doc, source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = title_suffix
    pngs = plots.draw_all(doc, out_dir, suffix=suffix, baseline_label=baseline_label)
    summary = summary_markdown(doc, title_suffix=suffix)
    summary_path = out_dir / "summary.md"
    summary_path.write_text(summary)
    csv_path = out_dir / "results.csv"
    tidy_frame(doc).to_csv(csv_path, index=False)
    html_path = out_dir / "index.html"
    html_path.write_text(index_html(doc, pngs, title_suffix=suffix))
    step_summary_path = os.environ.get("GITHUB_STEP_SUMMARY") if step_summary else None
    if step_summary_path:
        with open(step_summary_path, "a", encoding="utf-8") as fh:
            fh.write(summary + "\n")
    return [summary_path, html_path, csv_path, *pngs]
