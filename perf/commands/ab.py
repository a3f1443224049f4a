"""`python -m perf ab BASE [HEAD] [options] [pytest options]`: two revisions measured in interleaved rounds on one
GPU, each benchmark's change with a confidence interval, and a verdict.

    BASE                    a git revision (commit, branch, tag), checked out into a temporary worktree
    HEAD                    a git revision; left out, the working tree as it is (uncommitted changes included)
    --rounds N              rounds; each runs both sides once, one pytest process per side (default 6)
    --threshold T           a regression needs the change to reach T (0.02 or 2%; default 2%, below the suite's 3%:
                            both revisions run on one GPU in interleaved rounds, with no host or sibling spread)
    --max-time D            after the first rounds, measure what is still unreliable in more rounds, at a fixed
                            schedule of looks, until resolved or D is spent (900, 900s, 15m, 1h; default 15m;
                            0: the first rounds only)
    --baseline-dir DIR      the baseline folder both sides read their timing methods from (default as the suite's:
                            PERF_BASELINE_DIR, then perf_baseline_dir in pyproject.toml, then baselines/)
    --perf-json FILE        both sides' per-round medians and the comparison (a results file `perf report` reads)
    --perf-report DIR       the report: summary.md, index.html, results.csv, plots (BASE as the baseline), ab.md
    --perf-inject-slowdown PATTERN=F   slow HEAD's benchmarks matching PATTERN by F (the self-test; HEAD only)

Every other option goes to pytest on both sides alike (-k, -m, --model, --gpu, --sweep, --perf-max-time, ...).
The order of the sides in the rounds is AB BA BA AB ... (docs/ab.md). With six or more first rounds, the
benchmarks still unreliable are measured again (only they) up to the next look of the schedule (2, 3, 4, 6 and 8
times the first rounds), the error split over the looks so that looking again raises no more false alarms
(docs/ab.md). A benchmark on one side only is listed as added or removed; one that fails or crashes on a side is
an error naming the revision and the benchmark (a crash is retried once with that benchmark left out). When
GITHUB_STEP_SUMMARY is set, the table is appended to it.

Exit status: 1 on a regression (or a benchmark that fails on HEAD), 0 otherwise, 2 on bad input (unknown
revision, not a git checkout, a working tree with unresolved conflicts, bad options, a BASE that does not run),
130 when interrupted. The temporary worktrees are removed in every case; those of a run killed outright (SIGKILL)
by the next `perf ab` or `perf bisect`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from perf import gpus, options
from perf.commands import worktree
from perf.commands.suite_process import remove_dead_folders, run_suite
from perf.measure import process_time
from perf.report import ab as ab_report
from perf.report.files import write_report
from perf.verdict import ab, results

DEFAULT_ROUNDS = 6  # the fewest rounds whose exact signed-rank interval reaches 95%; provisional (docs/ab.md)
DEFAULT_THRESHOLD = options.AB_THRESHOLD  # why 2%: perf/options.py
DEFAULT_MAX_TIME = "15m"  # the whole A/B's wall time within which more rounds may be measured
CRASH_RETRIES = 3  # benchmarks left out, one at a time, before a side that keeps crashing stops the run
NAMES = {"A": "BASE", "B": "HEAD"}


class UsageError(ValueError):
    """Bad command-line input: one line naming the option and what was expected."""


def threshold_value(text: str) -> float:
    """--threshold: a fraction up to 1 (0.02) or a percentage (2%), as every command reads it (options.threshold)."""
    try:
        return options.threshold(text, "--threshold")
    except options.OptionError as exc:
        raise UsageError(str(exc)) from None


_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}


def duration_value(text: str, option: str = "--max-time") -> float:
    """A duration in seconds: 900, 900s, 15m, 1.5h; 0 is allowed (no time)."""
    raw = text.strip().lower()
    number = raw.rstrip("smhin")
    unit = raw[len(number):]
    try:
        value = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise UsageError(f"{option}: expected a duration such as 900, 900s, 15m or 1h, got {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise UsageError(f"{option}: expected a duration of 0 or more, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf ab", add_help=False, allow_abbrev=False)
    parser.add_argument("--rounds", default=str(DEFAULT_ROUNDS))
    parser.add_argument("--threshold", default=str(DEFAULT_THRESHOLD))
    parser.add_argument("--max-time", default=DEFAULT_MAX_TIME)
    parser.add_argument("--perf-json", type=Path)
    parser.add_argument("--perf-report", type=Path)
    parser.add_argument("--perf-inject-slowdown", action="append", default=[])
    parser.add_argument("--baseline-dir", type=Path)
    parser.add_argument("-m", dest="markexpr")
    parser.add_argument("-h", "--help", action="store_true")
    return parser


@dataclass
class Request:
    base: str
    head: str | None  # None: the working tree
    rounds: int
    threshold: float
    json_path: Path | None
    report_dir: Path | None
    injections: list[str]
    baseline_dir: Path | None
    pytest_args: list[str]
    help: bool = False
    max_time: float = 0.0  # seconds of wall time within which unreliable benchmarks get more rounds (0: none)
    step_summary: bool = True  # append the table to GITHUB_STEP_SUMMARY when it is set
    label: str = "perf ab"  # the prefix of the progress lines

    def schedule(self) -> list[ab.Look]:
        """The looks at the data: the first rounds alone, or the schedule of later looks too (docs/ab.md)."""
        return ab.looks(self.rounds, later=ab.LATER_LOOKS if self.max_time > 0 else ())


def leading_revisions(argv: list[str], most: int = 2) -> list[str]:
    """The revisions given before the options (at most `most`), taken off the front of `argv`."""
    revisions = []
    while argv and not argv[0].startswith("-") and len(revisions) < most:
        revisions.append(argv.pop(0))
    return revisions


def parse(argv: list[str]) -> Request:
    revisions = leading_revisions(argv)
    ours, rest = _parser().parse_known_args(argv)
    if ours.help:
        return Request("", None, 0, 0.0, None, None, [], None, [], help=True)
    if not revisions:
        raise UsageError("expected BASE [HEAD] first: the revision to compare against (e.g. origin/main)")
    if rest and not rest[0].startswith("-"):
        raise UsageError(f"expected at most two revisions (BASE HEAD) before the options, got also {rest[0]!r}")
    try:
        rounds = int(ours.rounds)
    except ValueError:
        raise UsageError(f"--rounds: expected a whole number of rounds, got {ours.rounds!r}") from None
    if rounds < ab.MIN_ROUNDS:
        raise UsageError(f"--rounds: expected at least {ab.MIN_ROUNDS} rounds (a confidence interval needs two "
                         f"pairs), got {rounds}")
    for item in ours.perf_inject_slowdown:
        if "=" not in item:
            raise UsageError(f"--perf-inject-slowdown: expected PATTERN=FRACTION, got {item!r}")
    if "--perf-refresh" in rest:
        raise UsageError("--perf-refresh: an A/B run never rewrites baselines; use `python -m perf refresh`")
    pytest_args = list(rest)
    if ours.markexpr:
        pytest_args += ["-m", f"timing and ({ours.markexpr})"]
    return Request(revisions[0], revisions[1] if len(revisions) > 1 else None, rounds,
                   threshold_value(ours.threshold), ours.perf_json, ours.perf_report, ours.perf_inject_slowdown,
                   ours.baseline_dir, pytest_args, max_time=duration_value(ours.max_time))


# ---------------------------------------------------------------------------------------------- one side's process

_RESULT = re.compile(r"^(\S+::\S+) +(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_STARTED = re.compile(r"^(\S+::\S+)")
_SHORT = re.compile(r"^(?:FAILED|ERROR) (\S+::\S+)(?: - (.*))?$")
STOPPED_CODES = {2: "interrupted, or errors during collection", 3: "internal error", 4: "usage error"}


@dataclass
class SideRun:
    code: int
    records: dict[str, dict]  # key -> record
    failed: dict[str, str]  # nodeid -> message, for benchmarks that failed and went on
    crashed: str | None  # the nodeid that was running when the process died
    tail: str  # the last lines of its output
    doc: dict | None = None  # its results file

    @property
    def stopped(self) -> bool:
        """The process ended without its results: it crashed, or pytest refused to run."""
        return self.code not in (0, 1, 5)


def _side_run(code: int, doc: dict | None, log: Path) -> SideRun:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    finished = {m.group(1) for m in map(_RESULT.match, lines) if m}
    started = [m.group(1) for m in map(_STARTED.match, lines) if m]
    failed = {}
    for line in lines:
        m = _SHORT.match(line)
        if m:
            failed[m.group(1)] = (m.group(2) or "failed").strip()
    unfinished = [n for n in started if n not in finished]
    records = {r["key"]: r for r in (doc or {}).get("results", [])}
    return SideRun(code, records, failed, unfinished[-1] if unfinished and code not in (0, 1, 5) else None,
                   "\n".join(lines[-15:]), doc)


@dataclass
class Side:
    name: str  # "BASE" or "HEAD"
    revision: ab_report.Revision
    root: Path
    args: list[str]
    rounds: list[dict[str, dict]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # nodeid -> first message
    left_out: list[str] = field(default_factory=list)  # nodeids that crashed the process, deselected since

    def label(self) -> str:
        return f"{self.name} {self.revision.label()}"


def _measure(side: Side, tmp: Path, round_no: int, errors: list[str], nodeids: tuple[str, ...] = ()) -> SideRun:
    """One process of one side (of the nodeids given, else of the whole selection); a crash on a named benchmark
    is reported and retried without it."""
    for attempt in range(CRASH_RETRIES + 1):
        stem = tmp / f"round{round_no}-{side.name}-{attempt}"
        deselect = [a for n in side.left_out for a in ("--deselect", n)]
        code, doc = run_suite(stem.with_suffix(".json"), [*side.args, *deselect],
                              [n for n in nodeids if n not in side.left_out], root=side.root,
                              log=stem.with_suffix(".log"))
        run = _side_run(code, doc, stem.with_suffix(".log"))
        for nodeid, message in run.failed.items():
            if nodeid not in side.failed:
                side.failed[nodeid] = message
                errors.append(f"{side.label()} failed on {nodeid} in round {round_no}: {message}")
        if not run.stopped or run.crashed is None or attempt == CRASH_RETRIES or run.code in STOPPED_CODES:
            return run
        side.left_out.append(run.crashed)
        side.failed.setdefault(run.crashed, f"the process crashed (exit {code})")
        errors.append(f"{side.label()} crashed on {run.crashed} in round {round_no} (exit {code}); "
                      "measured again without it")
    return run


# ---------------------------------------------------------------------------------------------- the command

def _interrupt(signum, frame):
    raise KeyboardInterrupt


@dataclass
class Outcome:
    """What one A/B gave: the exit status, the comparison (None when nothing was compared), and why a side
    stopped, if one did (`stopped`: "BASE" or "HEAD"; `stop_message`: why, in one line)."""
    code: int
    run: ab_report.Run | None = None
    head_failed: dict[str, str] = field(default_factory=dict)  # nodeid -> message, benchmarks that failed on HEAD
    stopped: str | None = None
    stop_message: str = ""

    @property
    def interrupted(self) -> bool:
        return self.code == 130


def revisions(request: Request, folder: Path) -> tuple[Path, ab_report.Revision, ab_report.Revision]:
    """The checkout's top folder and both revisions resolved (worktree.GitError when one cannot be)."""
    root = worktree.toplevel(folder)
    base = ab_report.Revision(request.base, worktree.resolve(root, request.base))
    if request.head is None:
        conflicts = worktree.unmerged(root)
        if conflicts:
            raise worktree.GitError(f"{root}: the working tree has unresolved conflicts ({', '.join(conflicts[:3])}"
                                    "): resolve them, or name HEAD as a revision")
        changed, untracked = worktree.changes(root)
        head = ab_report.Revision("working tree", worktree.resolve(root, "HEAD"), working_tree=True,
                                  changed=changed, untracked=untracked)
    else:
        head = ab_report.Revision(request.head, worktree.resolve(root, request.head))
    return root, base, head


def main(argv: list[str]) -> int:
    try:
        request = parse(list(argv))
    except UsageError as exc:
        print(f"perf ab: error: {exc}", file=sys.stderr)
        return 2
    if request.help:
        print(__doc__.strip())
        print("\nAll pytest options of the suite apply; see `pytest perf/ --help`, group 'perf'.")
        return 0
    try:
        root, base, head = revisions(request, Path.cwd())
    except worktree.GitError as exc:
        print(f"perf ab: error: {exc}", file=sys.stderr)
        return 2
    if not gpus.detect().is_gpu:
        print(CPU_WARNING, file=sys.stderr, flush=True)
    return compare(request, root, base, head).code


CPU_WARNING = ("perf ab: no GPU here: both revisions run on the CPU device, whose timings move 10-70% between "
               "processes; expect every verdict to come out unreliable (A/B is made for a GPU). It runs anyway, "
               "to show the command works")


def compare(request: Request, root: Path, base: ab_report.Revision, head: ab_report.Revision) -> Outcome:
    """The whole A/B of two resolved revisions: worktrees checked out, rounds measured, the table printed and
    the files written; the worktrees are removed whatever ends it (an error, Ctrl-C, SIGTERM)."""
    label = request.label
    previous = signal.signal(signal.SIGTERM, _interrupt)
    if remove_dead_folders("perf-ab"):  # a killed A/B's worktrees (SIGKILL): their folders, then git's records
        worktree.prune(root)
    tmp = Path(tempfile.mkdtemp(prefix=f"perf-ab-{os.getpid()}-"))
    try:
        with contextlib.ExitStack() as stack:
            base_root = stack.enter_context(worktree.checkout(root, base.commit, tmp / "base"))
            print(f"{label}: BASE {base.label()} checked out in {base_root}", flush=True)
            head_root = root
            if not head.working_tree:
                head_root = stack.enter_context(worktree.checkout(root, head.commit, tmp / "head"))
                print(f"{label}: HEAD {head.label()} checked out in {head_root}", flush=True)
            return _run(request, root, base, head, base_root, head_root, tmp)
    except KeyboardInterrupt:
        print(f"{label}: interrupted; the temporary worktrees were removed", file=sys.stderr)
        return Outcome(130)
    except worktree.GitError as exc:
        print(f"{label}: error: {exc}", file=sys.stderr)
        return Outcome(2, stop_message=str(exc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Progress:
    """How far the rounds got: rounds whose both sides are in, the rounds of the last complete look, each
    round's wall time (both sides), and the looks done."""
    started: float
    complete: int = 0
    looks_done: int = 0
    round_s: list[float] = field(default_factory=list)


def _run(request: Request, root: Path, base: ab_report.Revision, head: ab_report.Revision, base_root: Path,
         head_root: Path, tmp: Path) -> Outcome:
    label = request.label
    baseline_dir = options.baseline_folder(request.baseline_dir, root, is_cpu=not gpus.detect().is_gpu,
                                           ini=options.ini_value(root, options.BASELINE_DIR_INI)).resolve()
    common = ["--perf-measure-only", "--baseline-dir", str(baseline_dir), *request.pytest_args]
    sides = {"A": Side("BASE", base, base_root, common),
             "B": Side("HEAD", head, head_root,
                       [*common, *(a for i in request.injections for a in ("--perf-inject-slowdown", i)),
                        # the self-test's extra work is calibrated in HEAD's first round and reused in the others
                        *(["--perf-inject-calibration", str(tmp / "injections.json")] if request.injections else [])])}
    schedule = request.schedule()
    for line in ab_report.header_lines(_empty_run(request, base, head)):
        print(line, flush=True)
    errors: list[str] = []
    fatal: Fatal | None = None
    docs: dict[str, dict | None] = {"A": None, "B": None}
    progress = Progress(started=time.monotonic())
    interrupted = False
    try:
        fatal = _rounds(request, sides, tmp, errors, docs, 1, request.rounds, progress)
        if not fatal and _measured_any(sides):
            progress.complete, progress.looks_done = request.rounds, 1
            _more_rounds(request, schedule, sides, tmp, errors, docs, progress)
    except KeyboardInterrupt:
        interrupted = True
        if not (sides["A"].rounds and sides["B"].rounds):
            raise
    done = min(len(sides["A"].rounds), len(sides["B"].rounds))
    if not fatal and not _measured_any(sides):
        print(f"{label}: error: no timing benchmark matched the selection on either side", file=sys.stderr)
        return Outcome(2, stop_message="no timing benchmark matched the selection on either side")
    used = progress.complete if progress.looks_done else done
    compared = ab.compare_sides(sides["A"].rounds[:used], sides["B"].rounds[:used], request.threshold,
                                schedule=schedule)
    compared = _errors_are_not_added_or_removed(compared, sides)
    run = ab_report.Run(base, head, request.rounds, request.threshold, compared, errors, docs["A"], docs["B"],
                        wall_s=time.monotonic() - progress.started, rounds_done=used, schedule=schedule,
                        looks_done=progress.looks_done, max_time_s=request.max_time)
    for line in ab_report.terminal_lines(run):
        print(line)
    _write_outputs(request, run, sides)
    outcome = Outcome(0, run, dict(sides["B"].failed))
    if interrupted:
        of = f" of {request.rounds}" if not progress.looks_done else ""
        print(f"{label}: interrupted after {done}{of} rounds: the comparison above and the files written rest on "
              f"{used}{' (the last complete look)' if used != done else ''}; the temporary worktrees were removed",
              file=sys.stderr)
        outcome.code = 130
    elif fatal:
        print(f"{label}: error: {fatal.message}", file=sys.stderr)
        outcome.code, outcome.stopped, outcome.stop_message = fatal.code, fatal.side, fatal.reason
    else:
        outcome.code = 1 if run.regressions or sides["B"].failed else 0
    return outcome


@dataclass(frozen=True)
class Fatal:
    """A side that stopped: which, the message, the exit status it gives the A/B."""
    side: str
    message: str
    code: int
    reason: str  # the message's first part, without the process's output


def _rounds(request: Request, sides: dict[str, "Side"], tmp: Path, errors: list[str], docs: dict, first: int,
            last: int, progress: Progress, nodeids: dict[str, tuple[str, ...]] | None = None,
            of: int | None = None) -> Fatal | None:
    """Rounds first..last (1-based) in the balanced order, of the whole selection or of each side's `nodeids`
    (`of`: the round the progress lines count to, default `last`); a Fatal when a side stops, else None. A round in
    which neither side measured a benchmark is the last: the selection matches none on either revision."""
    keep_head = False
    for round_no, order in enumerate(ab.order(last)[first - 1:], start=first):
        t_round = time.monotonic()
        fatal = None
        for letter in order:
            side = sides[letter]
            t0 = time.monotonic()
            run = _measure(side, tmp, round_no, errors, (nodeids or {}).get(letter, ()))
            if run.stopped:
                what = f" on {run.crashed}" if run.crashed else ""
                reason = (f"{side.label()} stopped in round {round_no}{what} "
                          f"({STOPPED_CODES.get(run.code, f'exit {run.code}')})")
                fatal = Fatal(side.name, f"{reason}; its last output:\n{run.tail}",
                              2 if side.name == "BASE" or run.code == 4 else 1, reason)
                keep_head = side.name == "BASE" and run.code != 4
                break
            side.rounds.append(run.records)
            docs[letter] = run.doc or docs[letter]
            where = process_time.phrase((run.doc or {}).get("process"))
            print(f"{request.label}: round {round_no}/{of or last} {side.name}: {len(run.records)} benchmarks in "
                  f"{time.monotonic() - t0:.1f} s" + (f" ({where})" if where else ""), flush=True)
        if fatal:
            if keep_head and len(sides["B"].rounds) < round_no:
                _keep_head_round(sides["B"], tmp, round_no, errors, docs)  # HEAD's results are kept
            return fatal
        progress.round_s.append(time.monotonic() - t_round)
        if not _measured_any(sides):  # no timing benchmark in the selection on either side: no round can change it
            return None
    return None


def _measured_any(sides: dict[str, "Side"]) -> bool:
    """Whether a round of either side measured a benchmark."""
    return any(sides["A"].rounds) or any(sides["B"].rounds)


def _more_rounds(request: Request, schedule: list[ab.Look], sides: dict[str, Side], tmp: Path, errors: list[str],
                 docs: dict, progress: Progress) -> None:
    """After the first look: the benchmarks still unreliable, and only they, measured in more rounds up to each
    later look of the schedule, while the next look fits in what is left of --max-time."""
    label = request.label
    for number, look in enumerate(schedule[1:], start=2):
        compared = ab.compare_sides(sides["A"].rounds[:progress.complete], sides["B"].rounds[:progress.complete],
                                    request.threshold, schedule=schedule)
        pending = [r for r in compared.rows if ab.needs_more_rounds(r.paired)]
        if not pending:
            return
        nodeids = {"A": tuple(r.base_record["nodeid"] for r in pending),
                   "B": tuple(r.head_record["nodeid"] for r in pending)}
        if any(all(n in sides[k].left_out for n in ids) for k, ids in nodeids.items()):
            return
        needed = look.rounds - progress.complete
        if not _fits(request, progress, needed):
            print(f"{label}: {len(pending)} benchmarks still unreliable after {progress.complete} rounds; look "
                  f"{number} needs {needed} more rounds (about {needed * _round_estimate(progress):.0f} s), "
                  f"{_left(request, progress):.0f} s of --max-time are left: stopped here", flush=True)
            return
        print(f"{label}: {len(pending)} benchmarks still unreliable after {progress.complete} rounds: rounds "
              f"{progress.complete + 1}-{look.rounds} for them alone (look {number}, {look.confidence:.2%} "
              "intervals)", flush=True)
        for round_no in range(progress.complete + 1, look.rounds + 1):
            if not _fits(request, progress, look.rounds - round_no + 1):
                print(f"{label}: --max-time runs out before look {number} at {look.rounds} rounds: its "
                      f"{round_no - progress.complete - 1} rounds so far are not used", flush=True)
                return
            fatal = _rounds(request, sides, tmp, errors, docs, round_no, round_no, progress, nodeids, look.rounds)
            if fatal:
                errors.append(f"{fatal.reason}: no more rounds")
                return
        progress.complete, progress.looks_done = look.rounds, number


def _round_estimate(progress: Progress) -> float:
    return progress.round_s[-1] if progress.round_s else 0.0


def _left(request: Request, progress: Progress) -> float:
    return request.max_time - (time.monotonic() - progress.started)


def _fits(request: Request, progress: Progress, rounds: int) -> bool:
    """Whether `rounds` more rounds, each as long as the last one, end within --max-time."""
    return rounds * _round_estimate(progress) <= _left(request, progress)


def _empty_run(request: Request, base, head) -> ab_report.Run:
    return ab_report.Run(base, head, request.rounds, request.threshold, ab.Sides([], [], []),
                         schedule=request.schedule(), max_time_s=request.max_time)


def _keep_head_round(head: Side, tmp: Path, round_no: int, errors: list[str], docs: dict) -> None:
    """BASE stopped before HEAD ran in this round: measure HEAD once, so that its results are kept."""
    run = _measure(head, tmp, round_no, errors)
    if not run.stopped:
        head.rounds.append(run.records)
        docs["B"] = run.doc or docs["B"]


def _errors_are_not_added_or_removed(compared: ab.Sides, sides: dict[str, Side]) -> ab.Sides:
    """A benchmark that failed on one side is an error there, not a benchmark added or removed."""
    failed_on_base = set(sides["A"].failed)
    failed_on_head = set(sides["B"].failed)

    def nodeid_of(side: Side, key: str) -> str | None:
        return next((r[key]["nodeid"] for r in side.rounds if key in r), None)

    added = [k for k in compared.added if nodeid_of(sides["B"], k) not in failed_on_base]
    removed = [k for k in compared.removed if nodeid_of(sides["A"], k) not in failed_on_head]
    return ab.Sides(compared.rows, added, removed)


def _write_outputs(request: Request, run: ab_report.Run, sides: dict[str, Side]) -> None:
    doc = ab_report.document(run, sides["B"].rounds, sides["A"].rounds)
    if request.json_path:
        results.write(request.json_path, doc)
        print(f"{request.label}: wrote {request.json_path}")
    if request.report_dir:
        paths = write_report(doc, request.report_dir, title_suffix=f" (A/B: HEAD against BASE {run.base.label()})",
                             baseline_label=f"BASE {run.base.name}", source="the A/B run", step_summary=False)
        ab_md = request.report_dir / "ab.md"
        ab_md.write_text(ab_report.markdown(run))
        for path in [*paths, ab_md]:
            print(f"{request.label}: wrote {path}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY") if request.step_summary else None
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(ab_report.markdown(run) + "\n")
        print(f"{request.label}: wrote the step summary to {step_summary}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
