"""The runner's own history as the reference of a verdict.

Hosts of one GPU kind sit up to 5% apart, while one runner moves 0.4-0.9% between nights. So where a results history
holds enough earlier runs of the same runner (host and GPU UUID, or the host's GPUs of the kind pooled) in the same
environment (GPU kind, driver, CUDA, torch, Triton, timing settings; the commit may differ, it is what is tested),
a benchmark's reference is those runs, and its tolerance comes from their spread. Otherwise the committed per-kind
baseline decides, as before.

What enters a benchmark's reference: its last HISTORY_RUNS results that were not throttled and that its history did
not flag. A result whose verdict this runner's history decided enters only as pass (or new): a regression or an
improvement against the history is never absorbed, it stays red (or reported) until fixed or accepted
(`python -m perf history accept`), and an unreliable one stays out too. A result the committed baseline decided
enters whatever its verdict: that verdict measured the host's offset from other hosts, not a change of this runner
(a host 5% slower than the baseline's would otherwise never build a history). An acceptance cuts the series at the
accepted step: the flagged results just before it are the new level, nothing older counts, and from then on even
one run is a reference (the family's spread standing in for its own).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping

import sqlalchemy as sa

from perf.history import schema, store
from perf.measure.summary import Summary
from perf.verdict import noise
from perf.verdict.stats import Reference

HISTORY_RUNS = 5  # the newest clean results of a benchmark that form its reference
MIN_HISTORY_RUNS = 3  # fewer than this (and no acceptance): the committed baseline decides
CANDIDATE_RUNS = 120  # the newest runs of the runner in the environment that are read (a long red streak included)
CLEAN = ("pass", "new")  # the verdicts whose results may enter a reference
FLAGGED = ("regression", "improvement")  # stay out of the reference until accepted
SCOPES = ("gpu", "host")  # one GPU's own runs, or the host's GPUs of the kind pooled


@dataclass(frozen=True)
class Runner:
    """Who measures: the host and the GPU (UUID; None on the CPU device), and the GPU kind."""
    host: str
    gpu_uuid: str | None
    gpu: str  # the GPU kind as stored (H100-SXM, cpu, ...)
    scope: str = "gpu"

    def label(self) -> str:
        if self.scope == "host" or not self.gpu_uuid:
            return f"{self.gpu} on {self.host}"
        return f"{self.gpu_uuid[:12]} on {self.host}"


@dataclass(frozen=True)
class HistoryReference:
    reference: Reference
    text: str  # "history: 5 runs of GPU-3a9e... on host since 2026-12-01"
    runner: str  # Runner.label()
    runs: int
    since: str  # date of the oldest run in the reference
    accepted: str | None = None  # the acceptance that cut the series, if one did


def environment_facts(env: Mapping) -> dict:
    """The environment fields that must match for earlier runs to be a reference (the commit is not one)."""
    return {"driver": _text(env.get("driver")), "cuda": _text(env.get("cuda")), "torch": _text(env.get("torch")),
            "triton": _text(env.get("triton")), "timing": env.get("timing")}


def _text(value) -> str | None:
    return None if value is None else str(value)


def _run_facts(row) -> dict:
    options = row.options if isinstance(row.options, Mapping) else {}
    return {"driver": row.driver, "cuda": row.cuda, "torch": row.torch, "triton": row.triton,
            "timing": options.get("timing")}


def _candidate_runs(conn, runner: Runner, env: Mapping, before: dt.datetime | None) -> list[int]:
    """Ids of the newest runs of the GPU kind in the same environment (newest first)."""
    r = schema.runs.c
    query = (sa.select(r.id, r.driver, r.cuda, r.torch, r.triton, r.options).where(r.gpu == runner.gpu)
             .order_by(r.date.desc(), r.id.desc()))
    if before is not None:
        query = query.where(r.date < before)
    wanted = environment_facts(env)
    ids = []
    for row in conn.execute(query):
        if _run_facts(row) == wanted:
            ids.append(row.id)
            if len(ids) >= CANDIDATE_RUNS:
                break
    return ids


def _rows(conn, runner: Runner, run_ids: list[int], keys: set[str] | None) -> list:
    t, r = schema.results.c, schema.runs.c
    query = (sa.select(t.key, t.family, t.median_ms, t.rel_noise, t.verdict, t.throttled, t.method, t.reference,
                       r.date, r.id)
             .join(schema.runs, r.id == t.run_id).where(t.run_id.in_(run_ids), t.host == runner.host))
    if runner.scope == "gpu":
        query = query.where(t.gpu_uuid.is_(None) if runner.gpu_uuid is None else t.gpu_uuid == runner.gpu_uuid)
    rows = conn.execute(query).all()
    return [row for row in rows if keys is None or row.key in keys]


def _acceptances(conn, gpu: str, keys: Iterable[str]) -> dict[str, tuple[dt.datetime, str, str]]:
    """The newest acceptance of each key: (when, by, reason)."""
    a = schema.acceptances.c
    found: dict[str, tuple[dt.datetime, str, str]] = {}
    keys = list(keys)
    for i in range(0, len(keys), 500):
        query = sa.select(a.key, a.accepted_at, a.by, a.reason).where(a.gpu == gpu, a.key.in_(keys[i:i + 500]))
        for row in conn.execute(query.order_by(a.accepted_at)):
            found[row.key] = (_utc(row.accepted_at), row.by, row.reason)
    return found


def _utc(date: dt.datetime) -> dt.datetime:
    return date if date.tzinfo else date.replace(tzinfo=dt.timezone.utc)


def by_history(row) -> bool:
    """Whether this runner's history decided the result's verdict (else the committed baseline, or nothing)."""
    return bool(row.reference) and row.reference.startswith("history")


def clean(row) -> bool:
    """A result that may enter its benchmark's reference without an acceptance."""
    return not row.throttled and (row.verdict in CLEAN or not by_history(row))


def accepted_step(series: list, accepted_at: dt.datetime) -> list:
    """The results an acceptance made the new level: those flagged by the history that led up to it (ignoring
    unreliable and throttled ones between them). [] when the newest result before it was not flagged: that
    acceptance cut nothing (a glob that matched a steady benchmark), and its history goes on as before."""
    step: list = []
    for row in reversed([row for row in series if _utc(row.date) <= accepted_at]):
        if row.throttled or row.verdict == "unreliable":
            continue
        if not (by_history(row) and row.verdict in FLAGGED):
            break
        step.insert(0, row)
    return step


def usable(series: list, accepted_at: dt.datetime | None) -> list:
    """The results of one benchmark's series (oldest first) that may form its reference. Without an acceptance (or
    one that found nothing flagged to accept): the clean ones. With one: its accepted step and every clean result
    after it; nothing before the step."""
    step = accepted_step(series, accepted_at) if accepted_at is not None else []
    if not step:
        return [row for row in series if clean(row)]
    return step + [row for row in series if _utc(row.date) > accepted_at and clean(row)]


def _summary(rows: list) -> Summary:
    """A reference's summary: the median of its runs' medians, its interval the median of their relative noise."""
    median = statistics.median(row.median_ms for row in rows)
    noise_ = statistics.median((row.rel_noise or 0.0) for row in rows)
    medians = [row.median_ms for row in rows]
    return Summary(median_ms=median, ci_low_ms=median * (1 - noise_), ci_high_ms=median * (1 + noise_),
                   q1_ms=min(medians), q3_ms=max(medians), min_ms=min(medians), max_ms=max(medians), n=len(rows))


def references(db: store.Database, runner: Runner, env: Mapping, keys: Iterable[str] | None = None, *,
               before: dt.datetime | None = None, runs: int = HISTORY_RUNS,
               min_runs: int = MIN_HISTORY_RUNS) -> dict[str, HistoryReference]:
    """The history reference of every benchmark (of `keys`, or all) with enough usable runs of this runner in this
    environment, stored before `before` (default: any time)."""
    if runner.scope not in SCOPES:
        raise ValueError(f"scope: expected one of {', '.join(SCOPES)}, got {runner.scope!r}")
    wanted = None if keys is None else set(keys)
    with db.engine.connect() as conn:
        run_ids = _candidate_runs(conn, runner, env, before)
        if not run_ids:
            return {}
        rows = _rows(conn, runner, run_ids, wanted)
        accepted = _acceptances(conn, runner.gpu, {row.key for row in rows})
    series: dict[str, list] = {}
    for row in sorted(rows, key=lambda row: (_utc(row.date), row.id)):
        series.setdefault(row.key, []).append(row)
    chosen: dict[str, tuple[list, tuple | None]] = {}
    for key, rows_ in series.items():
        acceptance = accepted.get(key)
        if acceptance and not accepted_step(rows_, acceptance[0]):
            acceptance = None  # it found nothing flagged: the benchmark's history goes on as before
        picked = usable(rows_, acceptance[0] if acceptance else None)[-runs:]
        if len(picked) >= (1 if acceptance else min_runs):
            chosen[key] = (picked, acceptance)
    own = {key: noise.between_run_sigma([row.median_ms for row in picked]) for key, (picked, _) in chosen.items()}
    device_kind = "cpu" if runner.gpu == "cpu" else "gpu"
    priors: dict[str, float] = {}
    out: dict[str, HistoryReference] = {}
    for key, (picked, acceptance) in chosen.items():
        family = picked[-1].family
        if family not in priors:
            priors[family] = noise.family_sigma((s for k, s in own.items() if chosen[k][0][-1].family == family),
                                                noise.DEFAULT_SPREAD[device_kind])
        sigma = noise.shrunk(own[key], len(picked), priors[family])
        since = _utc(picked[0].date).date().isoformat()
        text = f"history: {len(picked)} run{'s' * (len(picked) != 1)} of {runner.label()} since {since}"
        note = None
        if acceptance:
            note = f"accepted {acceptance[0].date().isoformat()} by {acceptance[1]}: {acceptance[2]}"
            text += f" ({note})"
        methods = {row.method for row in picked}
        reference = Reference(summary=_summary(picked), runs=len(picked), sigma=sigma,
                              sigma_known=own[key] is not None, method=methods.pop() if len(methods) == 1 else None)
        out[key] = HistoryReference(reference, text, runner.label(), len(picked), since, note)
    return out


def flagged(db: store.Database, gpu: str, keys: Iterable[str]) -> set[str]:
    """The keys (of `keys`) whose newest results on some runner of GPU kind `gpu` are flagged by that runner's
    history: what an acceptance now would make the new level."""
    t, r = schema.results.c, schema.runs.c
    keys = list(keys)
    series: dict[tuple, list] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(keys), 500):
            query = (sa.select(t.key, t.host, t.gpu_uuid, t.verdict, t.throttled, t.reference, r.date)
                     .join(schema.runs, r.id == t.run_id).where(t.gpu == gpu, t.key.in_(keys[i:i + 500]))
                     .order_by(r.date, r.id))
            for row in conn.execute(query):
                series.setdefault((row.key, row.host, row.gpu_uuid), []).append(row)
    now = dt.datetime.now(dt.timezone.utc)
    return {key for (key, _, _), rows in series.items() if accepted_step(rows, now)}


def accept(db: store.Database, gpu: str, keys: Iterable[str], by: str, reason: str,
           when: dt.datetime | None = None) -> int:
    """Record that the current level of each benchmark is accepted on GPU kind `gpu`; how many were recorded."""
    if not reason.strip():
        raise store.HistoryError("--reason: expected a non-empty reason for the acceptance")
    when = when or dt.datetime.now(dt.timezone.utc)
    rows = [{"gpu": gpu, "key": key, "accepted_at": when, "by": by, "reason": reason.strip()} for key in keys]
    if rows:
        with db.begin() as conn:
            conn.execute(schema.acceptances.insert(), rows)
    return len(rows)


def acceptances_frame(db: store.Database, gpu: str | None = None):
    """Every acceptance, oldest first (a pandas DataFrame: gpu, key, accepted_at, by, reason)."""
    import pandas as pd

    a = schema.acceptances.c
    query = sa.select(a.gpu, a.key, a.accepted_at, a.by, a.reason).order_by(a.accepted_at, a.id)
    if gpu:
        query = query.where(a.gpu == gpu)
    with db.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(query)]
    return pd.DataFrame(rows, columns=["gpu", "key", "accepted_at", "by", "reason"])
