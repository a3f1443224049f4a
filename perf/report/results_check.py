"""Whether a results document can be reported: `check` names the file and the field of the first thing a report
cannot be drawn from (a ResultsError), `load` reads a results file and checks it."""

from __future__ import annotations

from pathlib import Path

from perf.measure import paired
from perf.report.cells import is_number
from perf.verdict.results import SCHEMA, ResultsError, read


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
            if not is_number(median) or median <= 0:
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
            if not is_number(p.get(name)) or p[name] <= 0:
                raise ResultsError(f"{where}.{name}: expected a positive number, got {p.get(name)!r}")


def load(path: Path) -> dict:
    """A results file read and checked for reporting (ResultsError names the file and the field)."""
    return check(read(path), str(path))
