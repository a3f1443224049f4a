"""`python -m perf compare A B [-o DIR] [--no-fail]`: two results files side by side (two commits, two GPUs, two stacks).

B is the run looked at and A serves as its baseline: every record of B is matched with A's record of the same key
(failing that, of the same id, e.g. when the two files were written on different GPUs), its change and verdict
are recomputed against A's median with the usual rule (beyond the threshold and both measurements' noise), and
the report of perf/report/files.py is written for the pair: summary.md, index.html, results.csv and the plots, with A
as "baseline" and A's environment beside B's. Benchmarks only in B are "new"; those only in A are listed.
Each regression of B is named on the terminal, and the exit status is 1 when there is one (as the suite's), unless
--no-fail asks only for the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping, Sequence

from perf.measure.summary import Summary
from perf.verdict import destination, stats
from perf.report.files import load, write_report
from perf.verdict.results import ResultsError

DEFAULT_DIR = Path("perf-compare")
DEFAULT_THRESHOLD = 0.05
# pytest-benchmark's part of a results file describes B alone: it is left out of the pair.
_BENCHMARK_LAYOUT = ("benchmarks", "machine_info", "commit_info", "version")


def _summary(data: Mapping) -> Summary:
    """A Summary from a record's summary block; interval fields that are missing collapse onto the median."""
    median = float(data["median_ms"])
    return Summary(**{name: data.get(name, median) for name in Summary.__dataclass_fields__
                            if name != "n"}, n=int(data.get("n", 0)))


def match(a_records: Sequence[Mapping], b_records: Sequence[Mapping]) -> tuple[list[tuple[Mapping, Mapping | None, str]],
                                                                           list[str]]:
    """[(b record, matching a record or None, "key" | "id" | "")] and the keys of A that B lacks.
    A record is matched by key first; by id only where the id is unique in A and not matched by key."""
    by_key = {r["key"]: r for r in a_records}
    ids: dict[str, list[Mapping]] = {}
    for r in a_records:
        ids.setdefault(str(r.get("id")), []).append(r)
    b_keys = {r["key"] for r in b_records}
    used: set[str] = set()
    pairs = []
    for b in b_records:
        a, how = by_key.get(b["key"]), "key"
        if a is None:
            candidates = [r for r in ids.get(str(b.get("id")), []) if r["key"] not in used and r["key"] not in b_keys]
            a, how = (candidates[0], "id") if len(candidates) == 1 else (None, "")
        if a is not None:
            used.add(a["key"])
        pairs.append((b, a, how))
    only_a = [r["key"] for r in a_records if r["key"] not in used]
    return pairs, only_a


def paired_record(b: Mapping, a: Mapping | None, threshold: float | None) -> dict:
    """B's record with A's summary as its baseline and the change and verdict recomputed against it."""
    t = threshold if threshold is not None else (b.get("threshold") if isinstance(b.get("threshold"), (int, float))
                                                 else DEFAULT_THRESHOLD)
    current = _summary(b["summary"])
    base = _summary(a["summary"]) if a is not None else None
    throttled = bool(b.get("throttled")) or bool(a is not None and a.get("throttled"))
    # Two results files carry one run each: no between-run spread is known, so the tolerance is the threshold and
    # the two medians' own noise (the stored baseline's noise model needs several runs).
    reference = stats.Reference(base, method=a.get("method")) if base is not None else None
    comparison = stats.compare(current, reference, float(t), throttled=throttled, method=b.get("method"))
    reason = comparison.reason
    if a is not None and a["key"] != b["key"]:
        reason = f"{reason}; matched by id with A's {a['key']}".lstrip("; ")
    by_kernel = kernel_changes(a, b) if a is not None else {}
    if by_kernel and comparison.verdict.value != "pass":
        reason = f"{reason}; kernels: " + ", ".join(f"{name} {c:+.1%}" for name, c in by_kernel.items())
    return {
        **b,
        "baseline": base.to_dict() if base else None,
        "change": comparison.change,
        "noise": comparison.noise,
        "threshold": comparison.threshold,
        "verdict": comparison.verdict.value,
        "reason": reason if a is not None else "not in A",
        "remeasured": False,
        "compared_with": a["key"] if a is not None else None,
        "kernel_changes": by_kernel,
    }


def kernel_changes(a: Mapping, b: Mapping) -> dict[str, float]:
    """Each kernel's change of its median share of the call's device time (B / A - 1), where both records break a
    call of several kernels down into the same kernels (`kernel_ms`, from the profiler): which kernel moved."""
    ka, kb = a.get("kernel_ms") or {}, b.get("kernel_ms") or {}
    if not ka or ka.keys() != kb.keys() or any(t <= 0 for t in ka.values()):
        return {}
    return {name: kb[name] / ka[name] - 1 for name in kb}


def _side(doc: Mapping, path: str) -> dict:
    env = doc.get("environment") or {}
    return {"path": path, "gpu": (doc.get("gpu_spec") or {}).get("name") or doc.get("gpu"),
            "commit": env.get("commit"), "date": env.get("date") or doc.get("datetime"),
            "results": len(doc["results"])}


def pair(a: Mapping, b: Mapping, *, a_path: str = "A", b_path: str = "B", threshold: float | None = None) -> dict:
    """The document of B compared with A: B's results with A as the baseline, A's environment as the baseline
    environment, and a "comparison" block (both files, how many matched, what only one side has)."""
    pairs, only_a = match(a["results"], b["results"])
    records = [paired_record(rb, ra, threshold) for rb, ra, _ in pairs]
    doc = {k: v for k, v in b.items() if k not in _BENCHMARK_LAYOUT}
    doc.update(
        results=records,
        baseline_environment=dict(a.get("environment") or {}),
        comparison={
            "a": _side(a, a_path),
            "b": _side(b, b_path),
            "matched": sum(1 for _, ra, _ in pairs if ra is not None),
            "matched_by_id": sum(1 for _, _, how in pairs if how == "id"),
            "only_in_a": only_a,
            "only_in_b": [rb["key"] for rb, ra, _ in pairs if ra is None],
        },
    )
    return doc


def title_suffix(a: Mapping, b: Mapping, a_path: str, b_path: str) -> str:
    a_gpu, b_gpu = _side(a, a_path)["gpu"], _side(b, b_path)["gpu"]
    where = f" on {a_gpu}" if a_gpu != b_gpu else ""
    return f" ({Path(b_path).name} against {Path(a_path).name}{where})"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m perf compare",
                                description="Compare two results files: B against A as its baseline.")
    p.add_argument("a", type=Path, metavar="A", help="results file taken as the baseline")
    p.add_argument("b", type=Path, metavar="B", help="results file compared with A")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_DIR, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_DIR})")
    p.add_argument("--threshold", type=float, default=None, metavar="FRACTION",
                   help="regression threshold for every pair, e.g. 0.05 (default: each B record's own)")
    p.add_argument("--no-fail", action="store_true",
                   help="only report: exit 0 even when B regressed (default: exit 1 on a regression, as the suite)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.threshold is not None and not 0 <= args.threshold < 10:
        print(f"perf compare: error: --threshold: expected a fraction such as 0.05, got {args.threshold}",
              file=sys.stderr)
        return 2
    problem = destination.not_a_folder(args.out, "-o", "a folder for the comparison's report")
    if problem:
        print(f"perf compare: error: {problem}", file=sys.stderr)
        return 2
    try:
        a, b = load(args.a), load(args.b)
        doc = pair(a, b, a_path=str(args.a), b_path=str(args.b), threshold=args.threshold)
        paths = write_report(doc, args.out, title_suffix=title_suffix(a, b, str(args.a), str(args.b)),
                             baseline_label=f"A ({args.a.name})", source=f"{args.b} compared with {args.a}")
    except ResultsError as exc:
        print(f"perf compare: error: {exc}", file=sys.stderr)
        return 2
    c = doc["comparison"]
    counts: dict[str, int] = {}
    for r in doc["results"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(f"perf compare: {c['matched']} matched, {len(c['only_in_b'])} only in B, {len(c['only_in_a'])} only in A; "
          + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    regressions = [r for r in doc["results"] if r["verdict"] == stats.Verdict.REGRESSION.value]
    for r in regressions:
        print(f"perf compare: regression: {r['key']}: {r['baseline']['median_ms']:.4g} ms in A, "
              f"{r['summary']['median_ms']:.4g} ms in B ({r['change']:+.1%}, beyond the {r['threshold']:.1%} threshold)")
    print(f"perf compare: wrote {len(paths)} files to {args.out}/ (open {args.out / 'index.html'})")
    if regressions and not args.no_fail:
        print(f"perf compare: {len(regressions)} regressions in B (exit 1; --no-fail only reports)", file=sys.stderr)
        return 1
    return 0
