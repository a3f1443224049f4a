"""`python -m perf bisect GOOD BAD [-k ...] [--from RESULTS.json] [options]`: the first commit between GOOD and
BAD that slows the selected benchmarks beyond the threshold, found by A/B measurements against GOOD.

    GOOD                    a revision that is not slow (the last green night's commit)
    BAD                     a later revision that is (tonight's); GOOD must be one of its ancestors
    --from FILE             a results file (perf-results/1, e.g. a nightly's --perf-json): its regressions are the
                            benchmarks to bisect (selected with -k unless -k is given)
    --rounds N, --threshold T, --max-time D    each step's A/B (`python -m perf ab`; defaults 6, 2%, 15m)
    --log FILE              each step appended as a JSON line; steps already there (same GOOD, same options) are
                            taken as measured, so an interrupted bisect goes on where it stopped

Every other option goes to pytest on both sides of each step (-k, --gpu, --model, --perf-max-time, ...).
The candidates are `git rev-list --first-parent GOOD..BAD`; each step measures one of them against GOOD in
temporary worktrees (perf ab's rounds, order and interval) and calls it bad when a selected benchmark
regressed, good when none did. A binary search assumes BAD bad; when every step was good, BAD itself is measured
to confirm it. A commit that does not run (an import error, a crash, a selected benchmark failing or missing)
or that may be slower but stays unreliable is skipped, like `git bisect skip`: the untested candidate nearest the middle
is tried instead (the later one on a tie). The table of the steps and the culprit's hash and subject are
printed (and appended to GITHUB_STEP_SUMMARY when it is set).

Exit status: 0 when one culprit is found; 1 when none is (BAD is not slower than GOOD, or skipped commits leave
several candidates: they are listed); 2 on bad input (unknown revision, GOOD not an ancestor of BAD, a results
file with no regression, GOOD that does not run); 130 when interrupted. The worktrees are removed in every case.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from perf.commands import ab as ab_command
from perf.commands import bisect_log, worktree
from perf.report import ab as ab_report
from perf.report.text_table import format_table
from perf.verdict import results

PREFIX = "perf bisect"
SUBJECT_WIDTH = 48


class UsageError(ValueError):
    """Bad command-line input: one line naming the option and what was expected."""


# ---------------------------------------------------------------------------------------------- the search

@dataclass
class Search:
    """A binary search over `count` candidates in order (index count - 1 is BAD), GOOD before index 0.
    Invariant: every candidate up to `good` is good (or GOOD itself at -1), `bad` is bad (or assumed so)."""
    count: int
    good: int = -1
    bad: int = -1
    skipped: set[int] = field(default_factory=set)
    bad_seen: bool = False  # a step found a bad commit (else `bad` is BAD, assumed)

    def __post_init__(self):
        if self.count < 1:
            raise ValueError("Search: needs at least one candidate")
        if self.bad < 0:
            self.bad = self.count - 1

    def next(self) -> int | None:
        """The candidate to measure next: the one at the middle of (good, bad); when that was skipped, the untested
        candidate nearest to it, the later one on a tie. None when nothing is left to measure there."""
        open_ = [i for i in range(self.good + 1, self.bad) if i not in self.skipped]
        if not open_:
            return None
        middle = (self.good + self.bad) // 2
        return min(open_, key=lambda i: (abs(i - middle), -i))

    def mark(self, index: int, mark: str) -> None:
        if mark == "good":
            self.good = max(self.good, index)
            self.skipped = {i for i in self.skipped if i > self.good}
        elif mark == "bad":
            self.bad, self.bad_seen = min(self.bad, index), True
            self.skipped = {i for i in self.skipped if i < self.bad}
        elif mark == "skip":
            self.skipped.add(index)
        else:
            raise ValueError(f"Search.mark: expected good, bad or skip, got {mark!r}")

    def candidates(self) -> list[int]:
        """The commits that may have caused it: `bad` and the skipped ones before it (after `good`)."""
        return sorted({*(i for i in self.skipped if self.good < i < self.bad), self.bad})


# ---------------------------------------------------------------------------------------------- the input

@dataclass
class Request:
    good: str
    bad: str
    from_path: Path | None
    ab_args: list[str]  # perf ab's own options and pytest's
    help: bool = False
    log: Path | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf bisect", add_help=False,
                                     allow_abbrev=False)
    parser.add_argument("--from", dest="from_path", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def parse(argv: list[str]) -> Request:
    revisions = ab_command.leading_revisions(argv)
    ours, rest = _parser().parse_known_args(argv)
    if ours.help:
        return Request("", "", None, [], help=True)
    if len(revisions) < 2:
        raise UsageError("expected GOOD BAD first: a revision that is not slow and a later one that is")
    if rest and not rest[0].startswith("-"):
        raise UsageError(f"expected two revisions (GOOD BAD) before the options, got also {rest[0]!r}")
    for option in ("--perf-json", "--perf-report", "--perf-inject-slowdown"):
        if any(a == option or a.startswith(option + "=") for a in rest):
            raise UsageError(f"{option}: not an option of bisect (each step's A/B is printed; bisect measures the "
                             "commits as they are)")
    return Request(revisions[0], revisions[1], ours.from_path, list(rest), log=ours.log)


@dataclass(frozen=True)
class Targets:
    """The benchmarks whose slowdown is bisected: keys (empty: every benchmark the selection compares) and
    the -k expression that selects them (None: the user's selection)."""
    keys: frozenset[str]
    keyword: str | None


def targets_from(path: Path) -> Targets:
    """The regressions of a results file, and a -k expression naming their tests."""
    doc = results.read(path)
    regressed = [r for r in doc["results"] if r.get("verdict") == "regression"]
    if not regressed:
        raise UsageError(f"--from {path}: no benchmark has verdict 'regression' in it: name the benchmarks with -k")
    names = []
    for r in regressed:
        nodeid = r.get("nodeid")
        if not isinstance(nodeid, str) or "::" not in nodeid:
            raise UsageError(f"--from {path}: results[{doc['results'].index(r)}].nodeid: expected a pytest node "
                             f"id (module::test[id]) for {r['key']}, got {nodeid!r}")
        names.append(nodeid.rsplit("::", 1)[1])
    return Targets(frozenset(r["key"] for r in regressed), " or ".join(sorted(set(names))))


# ---------------------------------------------------------------------------------------------- one step

@dataclass
class Step:
    number: int
    commit: str
    subject: str
    mark: str  # good, bad or skip
    why: str  # the verdict in words: the worst target's verdict, or what failed
    key: str | None = None  # the target with the largest change
    change: float | None = None
    low: float | None = None
    high: float | None = None
    seconds: float = 0.0


def classify(outcome: ab_command.Outcome, targets: Targets) -> tuple[str, str, ab_report.Row | None]:
    """A step's mark from its A/B: bad when a target regressed; skip when the commit did not run, a target failed,
    was not measured on it, or stayed unreliable with an interval that reaches the threshold; good otherwise. The row is the target with the largest change."""
    run = outcome.run
    if outcome.stopped == "HEAD" or run is None:
        first = (outcome.stop_message or f"exit {outcome.code}").splitlines()[0]
        return "skip", f"does not run: {first[first.find('stopped'):] if 'stopped' in first else first}", None
    rows = [r for r in run.sides.rows if not targets.keys or r.key in targets.keys]
    failed = [r for r in rows if r.head_record.get("nodeid") in outcome.head_failed]
    worst = max(rows, key=lambda r: r.paired.interval.change if r.paired.interval else float("-inf"), default=None)
    regressed = [r for r in rows if r.paired.verdict.value == "regression"]
    if regressed:
        top = max(regressed, key=lambda r: r.paired.interval.change)
        return "bad", f"regression ({len(regressed)} of {len(rows)})", top
    if failed:
        return "skip", f"fails on {failed[0].key}: {outcome.head_failed[failed[0].head_record['nodeid']]}", worst
    missing = sorted(targets.keys - {r.key for r in rows})
    if missing or not rows:
        return "skip", f"not measured on this commit: {', '.join(missing) or 'no selected benchmark'}", worst
    # unreliable and possibly slower by the threshold (an interval that reaches only the faster side says no)
    unclear = [r for r in rows if r.paired.verdict.value == "unreliable"
               and (r.paired.interval is None or r.paired.interval.high >= run.threshold)]
    if unclear:
        return "skip", f"unreliable ({len(unclear)} of {len(rows)})", worst
    return "good", f"no regression ({len(rows)} benchmarks)", worst


def _step(number: int, commit: str, subject: str, mark: str, why: str, row, seconds: float) -> Step:
    interval = row.paired.interval if row is not None else None
    return Step(number, commit, subject, mark, why, row.key if row is not None else None,
                interval.change if interval else None, interval.low if interval else None,
                interval.high if interval else None, seconds)


# ---------------------------------------------------------------------------------------------- what is printed

def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _cells(step: Step) -> tuple[str, ...]:
    subject = step.subject if len(step.subject) <= SUBJECT_WIDTH else step.subject[:SUBJECT_WIDTH - 3] + "..."
    interval = f"[{_pct(step.low)}, {_pct(step.high)}]" if step.low is not None else "-"
    return (str(step.number), worktree.short(step.commit), subject, step.key or "-", _pct(step.change), interval,
            step.mark, step.why, f"{step.seconds / 60:.1f}")


HEADER = ("step", "commit", "subject", "benchmark", "change", "interval", "mark", "verdict", "min")


def table_lines(steps: list[Step]) -> list[str]:
    return format_table(HEADER, [_cells(s) for s in steps])


def _markdown(good: str, bad: str, steps: list[Step], conclusion: str) -> str:
    rows = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    rows += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(s)) + " |" for s in steps]
    return "\n".join([f"# Performance bisect: {worktree.short(good)}..{worktree.short(bad)}", "",
                      f"**{conclusion}**", "", *rows, ""])


# ---------------------------------------------------------------------------------------------- the command

def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    try:
        request = parse(list(argv))
        if request.help:
            print(__doc__.strip())
            return 0
        targets = targets_from(request.from_path) if request.from_path else Targets(frozenset(), None)
        user_k = any(a == "-k" or a.startswith("-k") for a in request.ab_args)
        ab_args = [*request.ab_args, *(["-k", targets.keyword] if targets.keyword and not user_k else [])]
        step_request = ab_command.parse([request.good, request.bad, *ab_args])
    except (UsageError, ab_command.UsageError, results.ResultsError) as exc:
        print(f"{PREFIX}: error: {exc}", file=sys.stderr)
        return 2
    step_request.step_summary = False  # bisect writes its own
    try:
        root = worktree.toplevel(Path.cwd())
        good, bad = worktree.resolve(root, request.good), worktree.resolve(root, request.bad)
        if not worktree.is_ancestor(root, good, bad):
            raise worktree.GitError(f"GOOD {request.good} ({worktree.short(good)}) is not an ancestor of BAD "
                                    f"{request.bad} ({worktree.short(bad)}): expected GOOD earlier on BAD's history")
        commits = worktree.first_parent_commits(root, good, bad)
        if not commits:
            raise worktree.GitError(f"no commit between GOOD {request.good} and BAD {request.bad}: nothing to bisect")
        log = Log(request.log, good, ab_args) if request.log else None
    except (worktree.GitError, bisect_log.LogError) as exc:
        print(f"{PREFIX}: error: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _bisect(step_request, root, request.good, good, bad, commits, targets, log)
    except KeyboardInterrupt:
        print(f"{PREFIX}: interrupted; the temporary worktrees were removed", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


class Log:
    """--log FILE: the steps this bisect finds there, and each new one appended."""

    def __init__(self, path: Path, good: str, options: list[str]):
        self.path, self.good, self.options = path, good, list(options)
        self.steps = bisect_log.read(path, good, self.options)

    def add(self, step: "Step") -> None:
        line = {k: v for k, v in asdict(step).items() if k != "number"}
        bisect_log.append(self.path, {"good": self.good, "options": self.options, **line,
                                      "seconds": round(step.seconds, 1)})

    def step(self, number: int, commit: str, subject: str) -> "Step | None":
        """The commit's logged step, as step `number` of this run (its time not counted again), or None."""
        logged = self.steps.get(commit)
        if logged is None:
            return None
        rest = {f.name for f in fields(Step)} - {"number", "commit", "subject", "why", "seconds"}
        return Step(number, commit, subject, why=f"{logged['why']} (log)", **{k: logged.get(k) for k in rest})


class _Stop(Exception):
    def __init__(self, code: int):
        self.code = code


def _bisect(step_request: ab_command.Request, root: Path, good_name: str, good: str, bad: str,
            commits: list[str], targets: Targets, log: Log | None = None) -> int:
    started = time.monotonic()
    subjects = {c: worktree.subject(root, c) for c in commits}
    print(f"{PREFIX}: {len(commits)} commits after GOOD {good_name} ({worktree.short(good)}) up to BAD "
          f"{worktree.short(bad)} (first parents); about {max(1, len(commits)).bit_length()} steps; "
          f"benchmarks: {', '.join(sorted(targets.keys)) or 'every one the selection compares'}", flush=True)
    search = Search(len(commits))
    steps: list[Step] = []
    base = ab_report.Revision(good_name, good)

    if log is not None:
        print(f"{PREFIX}: log {log.path}: {len(log.steps)} steps of this bisect already measured", flush=True)

    def measure(index: int) -> str:
        commit = commits[index]
        logged = log.step(len(steps) + 1, commit, subjects[commit]) if log is not None else None
        if logged is not None:  # measured by an earlier run of this bisect: taken as it was
            steps.append(logged)
            print(f"{PREFIX}: step {logged.number}: {worktree.short(commit)} is {logged.mark}: "
                  f"{logged.why.removesuffix(' (log)')} (from the log)", flush=True)
            return logged.mark
        print(f"{PREFIX}: step {len(steps) + 1}: {worktree.short(commit)} {subjects[commit]} "
              f"({index + 1} of {len(commits)}) against GOOD", flush=True)
        t0 = time.monotonic()
        outcome = ab_command.compare(step_request, root, base, ab_report.Revision(worktree.short(commit), commit))
        if outcome.interrupted:
            raise KeyboardInterrupt
        if outcome.stopped == "BASE" or (outcome.run is None and outcome.stopped is None):
            print(f"{PREFIX}: error: GOOD {good_name} cannot be measured with this selection: "
                  f"{(outcome.stop_message or 'see above').splitlines()[0]}", file=sys.stderr)
            raise _Stop(2)
        mark, why, row = classify(outcome, targets)
        steps.append(_step(len(steps) + 1, commit, subjects[commit], mark, why, row, time.monotonic() - t0))
        if log is not None:
            try:
                log.add(steps[-1])
            except OSError as exc:  # file_writes.WriteError: the path and the errno; the bisect goes on
                print(f"{PREFIX}: warning: the step was not logged: {exc}", file=sys.stderr)
        print(f"{PREFIX}: step {len(steps)}: {worktree.short(commit)} is {mark}: {why}", flush=True)
        return mark

    try:
        while (index := search.next()) is not None:
            search.mark(index, measure(index))
        if not search.bad_seen:
            mark = measure(search.bad)  # no step was bad: is BAD itself slower than GOOD?
            if mark != "bad":
                return _conclude(steps, good, bad, started,
                                 f"no culprit: BAD {worktree.short(bad)} is {mark} against GOOD ({steps[-1].why})",
                                 1)
            search.mark(search.bad, "bad")
    except KeyboardInterrupt:
        _print_steps(steps)
        raise
    except _Stop as stop:
        _print_steps(steps)
        return stop.code
    candidates = [commits[i] for i in search.candidates()]
    if len(candidates) == 1:
        culprit = candidates[0]
        return _conclude(steps, good, bad, started,
                         f"culprit: {culprit} {subjects[culprit]}", 0)
    listed = "; ".join(f"{worktree.short(c)} {subjects[c]}" for c in candidates)
    return _conclude(steps, good, bad, started,
                     f"no single culprit: skipped commits leave {len(candidates)} candidates: {listed}", 1)


def _print_steps(steps: list[Step]) -> None:
    for line in table_lines(steps):
        print(line)


def _conclude(steps: list[Step], good: str, bad: str, started: float, conclusion: str, code: int) -> int:
    print(f"{PREFIX}: {len(steps)} steps in {(time.monotonic() - started) / 60:.1f} min")
    _print_steps(steps)
    print(f"{PREFIX}: {conclusion}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(_markdown(good, bad, steps, conclusion) + "\n")
        print(f"{PREFIX}: wrote the step summary to {summary}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
