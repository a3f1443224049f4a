"""`python -m perf claims FILE [FILE ...] [--markdown] [--strict]`: the paper's claims (perf/shape/claims.toml)
evaluated on the measurements of a results file (`pytest perf/ --perf-json FILE`) or of a baseline file
(`baselines/<GPU>.json`: each entry's pooled median, with the FLOPs, bytes and parameters of the suite's spec of
the same key). Prints one table per file: claim, verdict (holds, contradicted, not measured), the deciding
numbers and the paper's own; then the cases behind each verdict.

With --html DIR, DIR/index.html shows the same tables as one page.

Exit status: 0; 1 with --strict when a claim is contradicted; 2 for a file that cannot be read (the message names
the file and the field). Files are only read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Mapping, Sequence

from perf import gpus
from perf.measure.target import Target
from perf.report import claims_table
from perf.report.text_table import format_table
from perf.shape.claims import CONTRADICTED, ClaimError, ClaimVerdict, Evidence, evaluate_all
from perf.suite.decode_specs import decode_specs
from perf.suite.gemm_specs import gemm_specs
from perf.suite.sweep_specs import sweep_specs
from perf.verdict import baselines, destination, results

EXIT_OK, EXIT_CONTRADICTED, EXIT_USAGE = 0, 1, 2


class InputError(ValueError):
    """A file the command cannot evaluate: exit 2."""


def _spec_table(gpu: gpus.GpuSpec, dtypes: set[str]) -> dict:
    """Every GEMM, sweep (compact and full) and decode spec the suite would list for this GPU, by key."""
    table = {}
    for dtype in sorted(dtypes):
        for sweep in ("full", "compact"):
            target = Target(gpu=gpu, present=gpu, dtype=dtype, sweep=sweep)
            for spec in (*gemm_specs(target), *sweep_specs(target), *decode_specs(target)):
                table[spec.key] = spec
    return table


def baseline_records(base: baselines.Baselines, gpu: gpus.GpuSpec) -> list[dict]:
    """A baseline file's entries as result records: the entry's pooled median with its spec's parameters."""
    specs = _spec_table(gpu, {e.get("dtype") for e in base.entries.values() if e.get("dtype") in ("bf16", "fp16")})
    records = []
    for key, entry in sorted(base.entries.items()):
        spec = specs.get(key)
        records.append({
            "key": key,
            "family": key.split("/", 1)[0],
            "group": spec.group if spec else "",
            "dtype": entry.get("dtype") or (spec.dtype if spec else None),
            "params": dict(spec.params) if spec else {},
            "flops": spec.flops if spec else entry.get("flops") or 0,
            "bytes": spec.bytes if spec else entry.get("bytes") or 0,
            "summary": {"median_ms": entry["median_ms"]},
            "method": entry.get("method"),
        })
    return records


def evidence_from(path: Path) -> tuple[Evidence, str]:
    """The evidence of a results or baseline file, and a line saying what it is."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    schema = data.get("schema") if isinstance(data, Mapping) else None
    if schema == results.SCHEMA:
        try:
            doc = results.read(path)
        except results.ResultsError as exc:
            raise InputError(str(exc)) from None
        evidence = claims_table.evidence_of(doc)
        copy = f"copy ceiling {evidence.copy_gbs:.0f} GB/s" if evidence.copy_gbs else "no measured copy ceiling"
        return evidence, f"results file, {len(evidence.records)} results on {doc.get('gpu')}, {copy}"
    if schema in baselines.READABLE:
        key = data.get("gpu")
        try:
            gpu = gpus.resolve(str(key))
            base = baselines.parse(path.read_text(), path, key)
        except gpus.UnknownGpu as exc:
            raise InputError(f"{path}: gpu: {exc}") from None
        except baselines.BaselineError as exc:
            raise InputError(str(exc)) from None
        records = baseline_records(base, gpu)
        return (Evidence(records, gpu=gpu),
                f"baseline file, {len(records)} entries' medians on {gpu.key} (no copy ceiling: baselines keep none)")
    raise InputError(f"{path}: schema: expected {results.SCHEMA!r} (a results file) or one of "
                     f"{sorted(baselines.READABLE)} (a baseline file), got {schema!r}")


def markdown(verdicts: Sequence[ClaimVerdict]) -> str:
    from perf.report.table import Table

    lines = [Table(claims_table.CLAIM_HEADER, claims_table.claim_rows(verdicts)).markdown(), ""]
    details = claims_table.detail_rows(verdicts)
    if details:
        lines += [Table(claims_table.DETAIL_HEADER, details).markdown(), ""]
    return "\n".join(lines)


def text(verdicts: Sequence[ClaimVerdict]) -> str:
    lines = format_table(("claim", "verdict", "measured"), [(v.claim.id, v.verdict, v.numbers) for v in verdicts])
    for v in verdicts:
        if v.details:
            lines += ["", f"{v.claim.id} ({v.claim.source}; paper: {v.claim.paper}):"]
            lines += [f"  {line}" for line in v.details]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m perf claims", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a results file or a baseline file")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs and job summaries)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a claim is contradicted")
    p.add_argument("--html", type=Path, metavar="DIR", default=None,
                   help="also write DIR/index.html: one page with every file's claims (no server, no network)")
    return p


def page(found: Sequence[tuple[Path, str, Sequence[ClaimVerdict]]]) -> str:
    """One HTML page of every file's claims: the claims' table and the cases behind each verdict, per file."""
    import html as escape

    from perf.report.html_page import CSS
    from perf.report.table import Table

    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width,initial-scale=1'><title>The paper's claims</title>"
             f"<style>{CSS}</style></head><body><h1>The co-design paper's claims</h1>",
             "<p class='note'>Each claim decided by a file's measurements; 'paper' is the paper's own figure (A100 "
             "unless said).</p>"]
    for path, what, verdicts in found:
        parts += [f"<h2>{escape.escape(str(path))}</h2>",
                  f"<p class='note'>{escape.escape(what)}: {escape.escape(claims_table.counts_line(verdicts))}.</p>",
                  Table(claims_table.CLAIM_HEADER, claims_table.claim_rows(verdicts),
                        tuple(v.verdict.replace(" ", "-") for v in verdicts)).html()]
        details = claims_table.detail_rows(verdicts)
        if details:
            parts.append("<details><summary>The cases behind each verdict</summary>"
                         f"{Table(claims_table.DETAIL_HEADER, details).html()}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    contradicted = False
    found = []
    for path in args.files:
        try:
            evidence, what = evidence_from(path)
            verdicts = evaluate_all(evidence)
        except (InputError, ClaimError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        heading = f"{path}: {what}: {claims_table.counts_line(verdicts)}"
        print(f"## {heading}\n" if args.markdown else f"{heading}\n")
        print(markdown(verdicts) if args.markdown else text(verdicts) + "\n")
        contradicted |= any(v.verdict == CONTRADICTED for v in verdicts)
        found.append((path, what, verdicts))
    if args.html is not None:
        problem = destination.not_a_folder(args.html, "--html", "a folder for the claims' page")
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        args.html.mkdir(parents=True, exist_ok=True)
        (args.html / "index.html").write_text(page(found))
        print(f"wrote {args.html / 'index.html'}")
    return EXIT_CONTRADICTED if args.strict and contradicted else EXIT_OK
