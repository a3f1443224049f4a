"""From a results file (or the run in memory) to the rows the database stores, checked field by field: a record
that cannot be stored names the file and the field, before anything is written."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from perf.history import store
from perf.measure import paired
from perf.verdict import results as results_file

NUMBERS = ("change", "tolerance", "flops", "bytes", "tflops", "gbs", "rel_noise")


@dataclass
class RunRows:
    source: str
    run: dict
    rows: list[dict]
    not_history: str | None = None  # why the run is not stored (a self-test's slowed times), or None
    pairs: list[dict] = field(default_factory=list)  # the side-by-side pairs (perf_pairs), if the run measured any


def _number(value, where: str, *, positive: bool = False) -> float | None:
    if value is None and not positive:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            positive and value <= 0):
        expected = "a positive number" if positive else "a number or null"
        raise store.HistoryError(f"{where}: expected {expected}, got {value!r}")
    return float(value)


def _text(value, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise store.HistoryError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _date(value, where: str) -> dt.datetime:
    try:
        date = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise store.HistoryError(f"{where}: expected an ISO date such as 2026-11-21T02:00:00+00:00, "
                                 f"got {value!r}") from None
    # Stored in UTC: SQLite keeps no offset, so every date is converted before it is written.
    return (date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def _row(r: Mapping, where: str) -> dict:
    summary = r.get("summary")
    if not isinstance(summary, Mapping):
        raise store.HistoryError(f"{where}.summary: expected an object with median_ms")
    params = r.get("params", {})
    if not isinstance(params, Mapping):
        raise store.HistoryError(f"{where}.params: expected an object, got {params!r}")
    baseline = r.get("baseline")
    placement = r.get("placement") if isinstance(r.get("placement"), Mapping) else {}
    reference = r.get("reference") if isinstance(r.get("reference"), Mapping) else {}
    return {
        "key": _text(r.get("key"), f"{where}.key"),
        "family": _text(r.get("family"), f"{where}.family"),
        "dtype": _text(r.get("dtype"), f"{where}.dtype", required=False),
        "params": dict(params),
        "median_ms": _number(summary.get("median_ms"), f"{where}.summary.median_ms", positive=True),
        "ci_low_ms": _number(summary.get("ci_low_ms"), f"{where}.summary.ci_low_ms"),
        "ci_high_ms": _number(summary.get("ci_high_ms"), f"{where}.summary.ci_high_ms"),
        "summary": dict(summary),
        "verdict": _text(r.get("verdict"), f"{where}.verdict"),
        "baseline_ms": _number(baseline.get("median_ms"), f"{where}.baseline.median_ms")
        if isinstance(baseline, Mapping) else None,
        "method": _text(r.get("method"), f"{where}.method", required=False),
        "throttled": bool(r.get("throttled")),
        **{name: _number(r.get(name), f"{where}.{name}") for name in NUMBERS},
        "host": _text(placement.get("host"), f"{where}.placement.host", required=False),
        "gpu_uuid": _text(placement.get("gpu_uuid"), f"{where}.placement.gpu_uuid", required=False),
        "reference": _text(reference.get("text"), f"{where}.reference.text", required=False),
    }


def _pair_row(p: Mapping, where: str) -> dict:
    """One side-by-side pair (perf/measure/paired.py's record, with the pair's id and key)."""
    rounds = p.get("rounds")
    if not isinstance(rounds, list) or not all(isinstance(r, Mapping) for r in rounds):
        raise store.HistoryError(f"{where}.rounds: expected a list of round objects, got {rounds!r}")
    return {
        "key": _text(p.get("key"), f"{where}.key"),
        "pair_id": _text(p.get("id"), f"{where}.id"),
        "ours": _text(p.get("ours"), f"{where}.ours", required=False),
        "reference": _text(p.get("reference"), f"{where}.reference", required=False),
        "dtype": _text(p.get("dtype"), f"{where}.dtype", required=False),
        # a pair timed on the CPU has no timing method: ""
        "method": _text(p.get("method") or None, f"{where}.method", required=False),
        "rounds": [dict(r) for r in rounds],
        **{name: _number(p.get(name), f"{where}.{name}", positive=True) for name in paired.NUMBERS},
    }


def _pair_rows(doc: Mapping, source: str) -> list[dict]:
    """The rows of the document's perf_pairs; none when it has no such list."""
    records = doc.get("perf_pairs")
    if records is None:
        return []
    if not isinstance(records, list):
        raise store.HistoryError(f"{source}: perf_pairs: expected a list of pair records, got {type(records).__name__}")
    rows = []
    for i, record in enumerate(records):
        where = f"{source}: perf_pairs[{i}]"
        if not isinstance(record, Mapping):
            raise store.HistoryError(f"{where}: expected an object, got {type(record).__name__}")
        rows.append(_pair_row(record, where))
    return rows


def _each_key_once(rows: list[dict], where: str) -> None:
    keys = [r["key"] for r in rows]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})[0]
        raise store.HistoryError(f"{where}: the key {twice!r} appears more than once")


def _uid(gpu: str, env: Mapping, rows: list[dict], pairs: list[dict]) -> str:
    """The run's content hash. Pairs enter it only when there are some, so that a run without pairs keeps the uid
    it had before pairs were stored (and is still recognised as stored)."""
    identity = [gpu, dict(env), [(r["key"], r["median_ms"], r["verdict"]) for r in rows]]
    if pairs:
        identity.append([(p["key"], p["ratio"], p["ours_ms"], p["reference_ms"]) for p in pairs])
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def run_rows(doc: Mapping, source: str) -> RunRows:
    """The run, result and pair rows of a results document; HistoryError names `source` and the field."""
    env = doc.get("environment")
    if not isinstance(env, Mapping):
        raise store.HistoryError(f"{source}: environment: expected an object")
    gpu = _text(doc.get("gpu") or env.get("gpu"), f"{source}: gpu")
    date = _date(env.get("date") or doc.get("datetime"), f"{source}: environment.date")
    rows = [_row(r, f"{source}: results[{i}]") for i, r in enumerate(doc["results"])]
    _each_key_once(rows, f"{source}: results")
    pairs = _pair_rows(doc, source)
    _each_key_once(pairs, f"{source}: perf_pairs")
    text = lambda name: None if env.get(name) is None else str(env.get(name))  # noqa: E731
    run = {
        "uid": _uid(gpu, env, rows, pairs),
        "date": date, "commit": text("commit"), "gpu": gpu, "device": text("device"), "driver": text("driver"),
        "cuda": text("cuda"), "torch": text("torch"), "triton": text("triton"),
        "environment": json.loads(json.dumps(dict(env), default=str)),
        "options": {"timing": env.get("timing"), "baseline_file": doc.get("baseline_file")},
        "source": source,
    }
    injected = sum(1 for r in doc["results"] if isinstance(r, Mapping) and r.get("injected"))
    why = (f"{source}: {injected} results carry an injected slowdown (a self-test): not history, not stored"
           if injected else None)
    return RunRows(source, run, rows, why, pairs)


def read_file(path: Path) -> RunRows:
    try:
        doc = results_file.read(path)
    except results_file.ResultsError as exc:
        raise store.HistoryError(str(exc)) from None
    return run_rows(doc, str(path))


def import_files(db: store.Database, paths: Sequence[Path],
                 progress: Callable[[RunRows, int | None], None] | None = None, jobs: int | None = None) -> list[int | None]:
    """Store the files' runs in one transaction: a bad file (or an interruption) leaves the database as it was.
    Files are parsed in `jobs` worker processes (default: one per core) while the runs before them are written.
    Runs stored before are skipped (None in the returned ids), and so are runs with injected slowdowns (self-tests:
    their times are slowed on purpose; the suite does not store them either)."""
    paths = [Path(p) for p in paths]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    ids: list[int | None] = []
    with contextlib.ExitStack() as stack:
        if jobs > 1:
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(jobs))
            parsed = pool.map(read_file, paths)
        else:
            parsed = map(read_file, paths)
        conn = stack.enter_context(db.begin())
        for item in parsed:
            run_id = None if item.not_history else store.insert_run(conn, item.run, item.rows, item.pairs)
            ids.append(run_id)
            if progress is not None:
                progress(item, run_id)
    return ids


def store_document(db: store.Database, doc: Mapping, source: str) -> int | None:
    """Store a run held in memory (the plugin's document at the end of a session, its perf_pairs included); its id,
    or None if stored before."""
    item = run_rows(doc, source)
    return store.write_run(db, item.run, item.rows, item.pairs)
