"""Two results files side by side (two commits, two GPUs, two stacks), for `python -m perf compare`
(perf/commands/compare.py).

B is the run looked at and A serves as its baseline: every record of B is matched with A's record of the same key
(failing that, of the same id, e.g. when the two files were written on different GPUs), its change and verdict
are recomputed against A's median with the usual rule (beyond the threshold and both measurements' noise), and
the report of perf/report/files.py is written for the pair: summary.md, index.html, results.csv and the plots, with A
as "baseline" and A's environment beside B's. Benchmarks only in B are "new"; those only in A are listed.
Each regression of B is named on the terminal, and the exit status is 1 when there is one (as the suite's), unless
--no-fail asks only for the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from perf.measure.summary import Summary
from perf.verdict import stats

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


def paired_record(b: Mapping, a: Mapping | None, threshold: float | None, fallback: float) -> dict:
    """B's record with A's summary as its baseline and the change and verdict recomputed against it, beyond
    `threshold`, else B's own threshold, else `fallback`."""
    t = threshold if threshold is not None else (b.get("threshold") if isinstance(b.get("threshold"), (int, float))
                                                 else fallback)
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
        "tolerance": comparison.tolerance,  # this comparison's, not the one B's own run was decided by
        "tolerance_source": comparison.tolerance_source,
        "reference": {"source": "file", "text": "A, the file compared with"} if a is not None else None,
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


def pair(a: Mapping, b: Mapping, *, fallback: float, a_path: str = "A", b_path: str = "B",
         threshold: float | None = None) -> dict:
    """The document of B compared with A: B's results with A as the baseline, A's environment as the baseline
    environment, and a "comparison" block (both files, how many matched, what only one side has)."""
    pairs, only_a = match(a["results"], b["results"])
    records = [paired_record(rb, ra, threshold, fallback) for rb, ra, _ in pairs]
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
