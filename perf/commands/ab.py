"""`python -m perf ab BASE [HEAD] [options] [pytest options]`: two revisions measured in interleaved rounds on one
GPU, each benchmark's change with a confidence interval, and a verdict.

    BASE                    a git revision (commit, branch, tag), checked out into a temporary worktree
    HEAD                    a git revision; left out, the working tree as it is (uncommitted changes included)
    --rounds N              rounds; each runs both sides once, one pytest process per side (default 6)
    --threshold T           a regression needs the change to reach T (0.02 or 2%; default 2%, below the suite's 3%:
                            both revisions run on one GPU in interleaved rounds, with no host or sibling spread)
    --baseline-dir DIR      the baseline folder both sides read their timing methods from (default as the suite's:
                            PERF_BASELINE_DIR, then perf_baseline_dir in pyproject.toml, then baselines/)
    --perf-json FILE        both sides' per-round medians and the comparison (a results file `perf report` reads)
    --perf-report DIR       the report: summary.md, index.html, results.csv, plots (BASE as the baseline), ab.md
    --perf-inject-slowdown PATTERN=F   slow HEAD's benchmarks matching PATTERN by F (the self-test; HEAD only)

Every other option goes to pytest on both sides alike (-k, -m, --model, --gpu, --sweep, --perf-max-time, ...).
The order of the sides in the rounds is AB BA BA AB ... (docs/ab.md). A benchmark on one side only is listed as
added or removed; one that fails or crashes on a side is an error naming the revision and the benchmark (a crash
is retried once with that benchmark left out). When GITHUB_STEP_SUMMARY is set, the table is appended to it.

Exit status: 1 on a regression (or a benchmark that fails on HEAD), 0 otherwise, 2 on bad input (unknown
revision, not a git checkout, a working tree with unresolved conflicts, bad options, a BASE that does not run),
130 when interrupted. The temporary worktrees are removed in every case.
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
from perf.commands.suite_process import run_suite
from perf.report import ab as ab_report
from perf.report.files import write_report
from perf.verdict import ab, results

DEFAULT_ROUNDS = 6  # the fewest rounds whose exact signed-rank interval reaches 95%; provisional (docs/ab.md)
DEFAULT_THRESHOLD = options.AB_THRESHOLD  # why 2%: perf/options.py
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf ab", add_help=False, allow_abbrev=False)
    parser.add_argument("--rounds", default=str(DEFAULT_ROUNDS))
    parser.add_argument("--threshold", default=str(DEFAULT_THRESHOLD))
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


def parse(argv: list[str]) -> Request:
    revisions = []
    while argv and not argv[0].startswith("-") and len(revisions) < 2:
        revisions.append(argv.pop(0))
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
                   ours.baseline_dir, pytest_args)


# ---------------------------------------------------------------------------------------------- one side's process

_RESULT = re.compile(r"^(\S+::\S+) +(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_STARTED = re.compile(r"^(\S+::\S+)")
_SHORT = re.compile(r"^(?:FAILED|ERROR) (\S+::\S+)(?: - (.*))?$")
STOPPED_CODES = {2: "interrupted", 3: "internal error", 4: "usage error"}


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


def _measure(side: Side, tmp: Path, round_no: int, errors: list[str]) -> SideRun:
    """One process of one side; a crash on a named benchmark is reported and retried without it."""
    for attempt in range(CRASH_RETRIES + 1):
        stem = tmp / f"round{round_no}-{side.name}-{attempt}"
        deselect = [a for n in side.left_out for a in ("--deselect", n)]
        code, doc = run_suite(stem.with_suffix(".json"), [*side.args, *deselect], root=side.root,
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
        root = worktree.toplevel(Path.cwd())
        base = ab_report.Revision(request.base, worktree.resolve(root, request.base))
        if request.head is None:
            conflicts = worktree.unmerged(root)
            if conflicts:
                raise worktree.GitError(f"{root}: the working tree has unresolved conflicts ({', '.join(conflicts[:3])}"
                                        "): resolve them, or name HEAD as a revision")
            head = ab_report.Revision("working tree", worktree.resolve(root, "HEAD"), working_tree=True,
                                      changed=worktree.has_changes(root))
        else:
            head = ab_report.Revision(request.head, worktree.resolve(root, request.head))
    except worktree.GitError as exc:
        print(f"perf ab: error: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="perf-ab-"))
    try:
        with contextlib.ExitStack() as stack:
            base_root = stack.enter_context(worktree.checkout(root, base.commit, tmp / "base"))
            print(f"perf ab: BASE {base.label()} checked out in {base_root}", flush=True)
            head_root = root
            if not head.working_tree:
                head_root = stack.enter_context(worktree.checkout(root, head.commit, tmp / "head"))
                print(f"perf ab: HEAD {head.label()} checked out in {head_root}", flush=True)
            return _run(request, root, base, head, base_root, head_root, tmp)
    except KeyboardInterrupt:
        print("perf ab: interrupted; the temporary worktrees were removed", file=sys.stderr)
        return 130
    except worktree.GitError as exc:
        print(f"perf ab: error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _run(request: Request, root: Path, base: ab_report.Revision, head: ab_report.Revision, base_root: Path,
         head_root: Path, tmp: Path) -> int:
    baseline_dir = options.baseline_folder(request.baseline_dir, root, is_cpu=not gpus.detect().is_gpu,
                                           ini=options.ini_value(root, options.BASELINE_DIR_INI)).resolve()
    common = ["--perf-measure-only", "--baseline-dir", str(baseline_dir), *request.pytest_args]
    sides = {"A": Side("BASE", base, base_root, common),
             "B": Side("HEAD", head, head_root,
                       [*common, *(a for i in request.injections for a in ("--perf-inject-slowdown", i)),
                        # the self-test's extra work is calibrated in HEAD's first round and reused in the others
                        *(["--perf-inject-calibration", str(tmp / "injections.json")] if request.injections else [])])}
    for line in ab_report.header_lines(_empty_run(request, base, head)):
        print(line, flush=True)
    errors: list[str] = []
    fatal: tuple[str, int] | None = None
    docs: dict[str, dict | None] = {"A": None, "B": None}
    started = time.monotonic()
    interrupted = False
    try:
        fatal = _rounds(request, sides, tmp, errors, docs)
    except KeyboardInterrupt:
        interrupted = True
        if not (sides["A"].rounds and sides["B"].rounds):
            raise
    done = min(len(sides["A"].rounds), len(sides["B"].rounds))
    if not fatal and not any(sides["A"].rounds) and not any(sides["B"].rounds):
        print("perf ab: error: no timing benchmark matched the selection on either side", file=sys.stderr)
        return 2
    compared = ab.compare_sides(sides["A"].rounds[:done], sides["B"].rounds[:done], request.threshold)
    compared = _errors_are_not_added_or_removed(compared, sides)
    run = ab_report.Run(base, head, request.rounds, request.threshold, compared, errors, docs["A"], docs["B"],
                        wall_s=time.monotonic() - started, rounds_done=done)
    for line in ab_report.terminal_lines(run):
        print(line)
    _write_outputs(request, run, sides)
    if interrupted:
        print(f"perf ab: interrupted after {done} of {request.rounds} rounds: the comparison above and the files "
              f"written rest on those {done}; the temporary worktrees were removed", file=sys.stderr)
        return 130
    if fatal:
        print(f"perf ab: error: {fatal[0]}", file=sys.stderr)
        return fatal[1]
    return 1 if run.regressions or sides["B"].failed else 0


def _rounds(request: Request, sides: dict[str, "Side"], tmp: Path, errors: list[str],
            docs: dict) -> tuple[str, int] | None:
    """Every round's two sides in the balanced order; (message, exit status) when a side stops, else None."""
    fatal: tuple[str, int] | None = None
    keep_head = False
    for round_no, order in enumerate(ab.order(request.rounds), start=1):
        for letter in order:
            side = sides[letter]
            t0 = time.monotonic()
            run = _measure(side, tmp, round_no, errors)
            if run.stopped:
                what = f" on {run.crashed}" if run.crashed else ""
                message = (f"{side.label()} stopped in round {round_no}{what} "
                           f"({STOPPED_CODES.get(run.code, f'exit {run.code}')}); its last output:\n{run.tail}")
                fatal = (message, 2 if side.name == "BASE" or run.code == 4 else 1)
                keep_head = side.name == "BASE" and run.code != 4
                break
            side.rounds.append(run.records)
            docs[letter] = run.doc or docs[letter]
            print(f"perf ab: round {round_no}/{request.rounds} {side.name}: {len(run.records)} benchmarks in "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
        if fatal:
            if keep_head and len(sides["B"].rounds) < round_no:
                _keep_head_round(sides["B"], tmp, round_no, errors, docs)  # HEAD's results are kept
            return fatal
    return None


def _empty_run(request: Request, base, head) -> ab_report.Run:
    return ab_report.Run(base, head, request.rounds, request.threshold, ab.Sides([], [], []))


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
        print(f"perf ab: wrote {request.json_path}")
    if request.report_dir:
        paths = write_report(doc, request.report_dir, title_suffix=f" (A/B: HEAD against BASE {run.base.label()})",
                             baseline_label=f"BASE {run.base.name}", source="the A/B run", step_summary=False)
        ab_md = request.report_dir / "ab.md"
        ab_md.write_text(ab_report.markdown(run))
        for path in [*paths, ab_md]:
            print(f"perf ab: wrote {path}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(ab_report.markdown(run) + "\n")
        print(f"perf ab: wrote the step summary to {step_summary}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
