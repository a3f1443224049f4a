"""`python -m perf history import|show|changes|report`: the results history in a database (SQLite file or a
PostgreSQL server, by SQLAlchemy URL; --db or the environment variable PERF_HISTORY).

    import FILES...   store results files (one transaction per run; every file is checked before any is stored)
    show              the stored runs and a trend table per benchmark (first, last, min, max median) and per
                      side-by-side pair (first, last, min, max ratio)
    changes           change points per (GPU, benchmark) and per (GPU, pair): first run after it, medians (or ratios)
                      before/after, change, p-value
    report -o DIR     the history site (perf/report/trends.py): open regressions, the latest change points (accepted
                      ones marked, commit ranges linked with --commit-url), every series by family with a search
                      box, a page per series with its nights, reference and tolerance band; PNG trend plots
    accept KEY...     accept the current level of benchmarks that regressed or improved against their runner's
                      history (--reason, recorded with who and when): the history reference starts at that step
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
from pathlib import Path
from typing import Sequence

PROG = "python -m perf history"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="The results history: store runs, find change points, plot trends.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_)
        c.add_argument("--db", metavar="URL", default=os.environ.get("PERF_HISTORY"),
                       help="SQLAlchemy URL: sqlite:///perf-history.db or postgresql://user@host/db "
                            "(default: $PERF_HISTORY)")
        return c

    acc = command("accept", "accept the current level of benchmarks (a regression or improvement that is intended): "
                            "their history reference starts at this step instead of staying red")
    acc.add_argument("keys", nargs="+", metavar="KEY", help="benchmark keys, or globs matched against the stored keys")
    acc.add_argument("--reason", required=True, help="why the change is accepted (shown in reports)")
    acc.add_argument("--gpu", help="the GPU kind (as stored: H100-SXM, cpu, ...); needed when several are stored")
    acc.add_argument("--by", default=None, help="who accepts (default: git config user.name, else $USER)")
    imp = command("import", "store results files (pytest perf/ --perf-json) in the database")
    imp.add_argument("files", nargs="+", type=Path, metavar="RESULTS")
    for name, help_ in (("show", "the stored runs and a per-benchmark trend table"),
                        ("changes", "change points over the stored runs"),
                        ("report", "HTML page and PNG trend plots with the change points marked")):
        c = command(name, help_)
        c.add_argument("--gpu", help="only this GPU kind (as stored: H200, cpu, ...)")
        c.add_argument("-k", dest="keys", metavar="EXPR",
                       help="only benchmarks and pairs whose key matches this glob (or contains this text)")
        if name == "changes":
            c.add_argument("--json", action="store_true", help="print the change points as JSON")
        if name == "report":
            c.add_argument("-o", "--out", type=Path, default=Path("perf-trends"), metavar="DIR")
            c.add_argument("--commit-url", default=os.environ.get("PERF_COMMIT_URL"), metavar="TEMPLATE",
                           help="link each step's commit range: a URL with {before} and {after}, e.g. "
                                "https://github.com/ORG/REPO/compare/{before}...{after} (PERF_COMMIT_URL)")
            c.add_argument("--all", action="store_true", dest="every_series",
                           help="a plot for every selected series (default: the series with change points)")
    return p


def _select(frame, expr: str | None):
    if not expr:
        return frame
    pattern = expr if any(c in expr for c in "*?[") else f"*{expr}*"
    keys = [k for k in frame["key"].unique() if fnmatch.fnmatchcase(k, pattern)]
    return frame[frame["key"].isin(keys)]


def _import(db, args) -> int:
    from perf.history import importing

    start = time.perf_counter()
    stored = skipped = 0
    not_history: list[str] = []

    def progress(item, run_id):
        nonlocal stored, skipped
        if item.not_history:
            not_history.append(item.not_history)
        elif run_id is None:
            skipped += 1
        else:
            stored += 1

    importing.import_files(db, args.files, progress)
    for line in not_history:
        print(f"perf history: skipped {line}")
    print(f"perf history: stored {stored} runs ({skipped} already stored"
          + (f", {len(not_history)} self-tests or empty runs skipped" if not_history else "") + f") in {db.where} "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


def _accepter() -> str:
    import subprocess

    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or os.environ.get("USER") or "unknown"


def _accept(db, args) -> int:
    from perf.history import reference, store

    frame = store.series_frame(db, args.gpu)
    if frame.empty:
        raise store.HistoryError(f"{db.where}: no results stored" + (f" for GPU {args.gpu}" if args.gpu else ""))
    gpus = sorted(frame["gpu"].unique())
    if len(gpus) > 1:
        raise store.HistoryError(f"--gpu: the database holds {', '.join(gpus)}; name the GPU kind to accept on")
    stored = sorted(frame["key"].unique())
    keys: list[str] = []
    for given in args.keys:
        matched = [k for k in stored if fnmatch.fnmatchcase(k, given)] if any(c in given for c in "*?[") else (
            [given] if given in stored else [])
        if not matched:
            raise store.HistoryError(f"{given}: no stored benchmark of {gpus[0]} matches (nothing was accepted)")
        keys += [k for k in matched if k not in keys]
    pending = reference.flagged(db, gpus[0], keys)
    for key in keys:
        if key not in pending:
            print(f"not accepted: {key}: its newest result on every runner is no regression or improvement against "
                  f"that runner's history (nothing flagged to accept)", file=sys.stderr)
    keys = [key for key in keys if key in pending]
    if not keys:
        raise store.HistoryError("nothing was accepted: no matched benchmark is a regression or improvement against "
                                 "its runner's history")
    by = args.by or _accepter()
    count = reference.accept(db, gpus[0], keys, by, args.reason)
    for key in keys:
        last = frame[frame["key"] == key].iloc[-1]
        print(f"accepted {key} on {gpus[0]}: last run {last['date']:%Y-%m-%d} ({last['verdict']}, "
              f"{last['median_ms']:.4g} ms)")
    print(f"perf history: {count} acceptances recorded by {by} in {db.where}: {args.reason}")
    return 0


def _show(db, args) -> int:
    from perf.history import store
    from perf.history.changes import BENCHMARK, PAIR
    from perf.report.text_table import format_table

    runs = store.runs_frame(db, args.gpu)
    if runs.empty:
        print(f"perf history: no runs stored in {db.where}" + (f" for GPU {args.gpu}" if args.gpu else ""))
        return 0
    print(f"{len(runs)} runs in {db.where}:")
    rows = [(str(r.id), f"{r.date:%Y-%m-%d %H:%M}", str(r.gpu), str(r.commit or "")[:12], str(r.driver or "-"),
             str(r.cuda or "-"), str(r.torch or "-"), str(r.triton or "-"), str(r.n_results)) for r in runs.itertuples()]
    for line in format_table(("run", "date", "GPU", "commit", "driver", "CUDA", "torch", "triton", "results"), rows):
        print(line)
    print()
    _print_trends(_frame(db, args, BENCHMARK), BENCHMARK, "last verdict",
                  lambda series: str(series["verdict"].iloc[-1]))
    pairs = _frame(db, args, PAIR)
    if not pairs.empty:
        print()
        print(PAIRS_HEADING)
        _print_trends(pairs, PAIR, "method", lambda series: str(series["method"].iloc[-1] or "-"))
    _print_acceptances(db, args)
    return 0


def _print_acceptances(db, args) -> None:
    from perf.history import reference
    from perf.report.text_table import format_table

    accepted = _select(reference.acceptances_frame(db, args.gpu), args.keys)
    if accepted.empty:
        return
    print()
    print("Accepted changes (the history reference of each starts at the accepted step):")
    rows = [(str(a.gpu), str(a.key), f"{a.accepted_at:%Y-%m-%d %H:%M}", str(a.by), str(a.reason))
            for a in accepted.itertuples()]
    for line in format_table(("GPU", "benchmark", "accepted", "by", "reason"), rows):
        print(line)


PAIRS_HEADING = "Side-by-side pairs (ratio = reference time / ours: above 1, ours is faster):"


def _print_trends(frame, measure, last_name: str, last_of) -> None:
    """One row per (GPU, key): runs, first and last value, their change, min and max (in the measure's unit), and
    `last_name`: `last_of(series)`."""
    from perf.report.text_table import format_table

    unit = measure.unit
    table = []
    for (gpu, key), series in frame.groupby(["gpu", "key"], sort=True):
        values = series[measure.column]
        first, last = float(values.iloc[0]), float(values.iloc[-1])
        table.append((gpu, key, str(len(series)), f"{first:.4g}", f"{last:.4g}", f"{last / first - 1:+.1%}",
                      f"{values.min():.4g}", f"{values.max():.4g}", last_of(series)))
    for line in format_table(("GPU", measure.kind, "runs", f"first {unit}", f"last {unit}", "last/first",
                              f"min {unit}", f"max {unit}", last_name), table, numbers_right=True):
        print(line)


def _frame(db, args, measure):
    """The selected series of one measure: the benchmarks' medians or the pairs' ratios."""
    from perf.history import changes, store

    read = store.pairs_frame if measure is changes.PAIR else store.series_frame
    return _select(read(db, args.gpu), args.keys)


def _change_points(db, args, measure):
    from perf.history import changes

    frame = _frame(db, args, measure)
    return frame, changes.change_points(frame, measure)


def _changes(db, args) -> int:
    from perf.history.changes import BENCHMARK, PAIR

    start = time.perf_counter()
    frame, points = _change_points(db, args, BENCHMARK)
    pairs, pair_points = _change_points(db, args, PAIR)
    if args.json:
        print(json.dumps([cp.as_dict() for cp in points + pair_points], indent=1))
        return 0
    _print_changes(points, BENCHMARK)
    print(f"{len(points)} change points in {frame.groupby(['gpu', 'key']).ngroups} series over "
          f"{frame['run_id'].nunique()} runs ({time.perf_counter() - start:.1f} s)")
    if not pairs.empty:
        print()
        print(PAIRS_HEADING)
        _print_changes(pair_points, PAIR)
        print(f"{len(pair_points)} ratio change points in {pairs.groupby(['gpu', 'key']).ngroups} pair series over "
              f"{pairs['run_id'].nunique()} runs")
    return 0


def _print_changes(points, measure) -> None:
    from perf.report.text_table import format_table
    from perf.report.trends import change_table

    table = change_table(points, measure)
    for line in format_table(table.header, table.rows):
        print(line)


def _report(db, args) -> int:
    from perf.history import reference
    from perf.history.changes import BENCHMARK, ENVIRONMENT_FIELDS, PAIR
    from perf.report import trends

    sections = [trends.Section(measure, *_change_points(db, args, measure)) for measure in (BENCHMARK, PAIR)]
    paths = trends.write(sections, args.out, every_series=args.every_series,
                         acceptances=reference.acceptances_frame(db, args.gpu), commit_url=args.commit_url,
                         environment_fields=ENVIRONMENT_FIELDS)
    benchmarks, pairs = (len(section.change_points) for section in sections)
    print(f"perf history: wrote {len(paths)} files to {args.out}/ (open {args.out / 'index.html'}); "
          f"{benchmarks} change points, {pairs} ratio change points")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if not args.db:
        print(f"{PROG} {args.command}: error: --db: a database URL is needed (or set PERF_HISTORY)", file=sys.stderr)
        return 2
    try:
        from perf.history import store
    except ImportError as exc:
        print(f"{PROG}: error: the history needs SQLAlchemy and ruptures ({exc}); pip install 'perf-suite[history]'",
              file=sys.stderr)
        return 2
    try:
        db = store.open_database(args.db)
        try:
            return {"import": _import, "show": _show, "changes": _changes, "report": _report,
                    "accept": _accept}[args.command](db, args)
        finally:
            db.engine.dispose()
    except store.HistoryError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except store.sa.exc.DBAPIError as exc:  # a full disk, a lost connection: one line, the URL masked
        reason = store.failure(exc)
        print(f"{PROG} {args.command}: error: {store.mask(f'{args.db}: {reason}')}; nothing was stored"
              if args.command in ("import", "accept") else store.mask(f"{PROG} {args.command}: error: {args.db}: "
                                                                      f"{reason}"), file=sys.stderr)
        return 1
