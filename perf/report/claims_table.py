"""The paper's claims evaluated on a results document, as tables: one row per claim (verdict, the deciding numbers,
the paper's own), and one row per case or sweep behind them. Used by the report, `python -m perf claims` and the
suite's terminal summary."""

from __future__ import annotations

from typing import Mapping, Sequence

from perf import gpus
from perf.shape.claims import ClaimVerdict, Evidence, evaluate_all

CLAIM_HEADER = ("claim", "verdict", "measured", "paper", "source")
DETAIL_HEADER = ("claim", "case")


def evidence_of(doc: Mapping) -> Evidence:
    """A results document's records, its measured copy bandwidth and its GPU (the spec table's, by name)."""
    measured = ((doc.get("ceilings") or {}).get("measured") or {}).get("bandwidth_gbs")
    try:
        gpu = gpus.resolve(str(doc.get("gpu"))) if doc.get("gpu") else None
    except gpus.UnknownGpu:
        gpu = None
    return Evidence(doc.get("results") or (), copy_gbs=measured if isinstance(measured, (int, float)) else None, gpu=gpu)


def claim_rows(verdicts: Sequence[ClaimVerdict]) -> tuple[tuple[str, ...], ...]:
    return tuple((v.claim.id, v.verdict, v.numbers, v.claim.paper, v.claim.source) for v in verdicts)


def detail_rows(verdicts: Sequence[ClaimVerdict]) -> tuple[tuple[str, ...], ...]:
    return tuple((v.claim.id, line) for v in verdicts for line in v.details)


def counts_line(verdicts: Sequence[ClaimVerdict]) -> str:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def evaluate_document(doc: Mapping) -> list[ClaimVerdict]:
    return evaluate_all(evidence_of(doc))
