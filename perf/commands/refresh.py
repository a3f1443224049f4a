"""`python -m perf refresh [--runs N] [--checkpoint] [pytest options]`: re-measure the selected benchmarks in N
independent runs and merge their entries into baselines/<GPU>.json (others are kept), written atomically once all
runs are done; then print what moved.

    --runs N                independent runs, each a separate pytest process (default 3). Every entry keeps each
                            run's median and the between-run sigma they show: the noise model of the verdicts.
    --checkpoint            refresh one suite module at a time (its N runs, its re-measure) and write the
                            merged baseline file after each: a long refresh cut short by a time limit keeps the
                            modules it finished. Each write is a complete file, replaced atomically.
    --checkpoint-every K    like --checkpoint, with at most K benchmarks between two writes
    --from-results FILE...  merge runs measured elsewhere (results files of `pytest perf/ --perf-json FILE
                            --perf-measure-only`, e.g. on sibling GPUs of one kind) instead of measuring, into
                            the baseline file they compared with, or its namesake in --baseline-dir DIR
    --only GLOB             with --from-results (repeatable): merge only the entries whose key matches a GLOB
                            (e.g. 'kernel/mean:triton:*'), the others kept as they are; a GLOB that matches no
                            benchmark of the files is refused
    -n N, -n auto           (passed to pytest) each run spread over N pytest-xdist workers, one per GPU (auto: every
                            visible GPU), merged by its controller; the baseline is still written once, at the end

Before measuring, the options, the selection and the baseline file are checked (a bad option, a malformed file,
a read-only file or folder, or a --baseline-dir that is a file stop the refresh at once, exit 2). A measurement
that throttled, was noisier than the quality limit or sits far from the other runs is re-measured in one more
process; an entry that stays bad is written with flags saying so. An interrupted (Ctrl-C, SIGTERM) or failed
refresh leaves the baseline file as it was; with --checkpoint, as the last checkpoint wrote it. Every option of
the suite applies (`pytest perf/ --help`, group 'perf') and is validated the same way.
"""

from __future__ import annotations

import argparse
import fnmatch
import signal
import sys
import tempfile
from pathlib import Path

from perf.commands.suite_process import ROOT, Selection, run_suite, select
from perf.options import BASELINE_DIR_INI, ini_value, named_baseline_dir
from perf.report.refresh_table import moves_lines
from perf.verdict import baselines, results

DEFAULT_RUNS = 3


class RunStopped(Exception):
    """A run of the refresh stopped (interrupted, a usage error, no results): nothing is written."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf refresh", add_help=False)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--checkpoint", action="store_true")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="K")
    parser.add_argument("--from-results", nargs="+", type=Path, default=None)
    parser.add_argument("--only", action="append", default=None, metavar="GLOB")
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def _target(doc: dict, source: str, folder: Path | None = None) -> baselines.Baselines:
    """The baseline file the runs compared with, or the file of that name in `folder` (--baseline-dir)."""
    path = doc.get("baseline_file")
    if not path:
        raise baselines.BaselineError(f"{source}: baseline_file: missing (a results file of a timing run is needed)")
    path = Path(path)
    return baselines.load(folder if folder is not None else path.parent, path.stem)


def _baseline_dir_given(pytest_args: list[str]) -> Path | None:
    """Where --from-results writes: the folder named as the suite names it (options.named_baseline_dir: the suite's
    --baseline-dir among the pytest options > $PERF_BASELINE_DIR > ini perf_baseline_dir), else None."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--baseline-dir")
    option = parser.parse_known_args(pytest_args)[0].baseline_dir
    return named_baseline_dir(option, ini_value(ROOT, BASELINE_DIR_INI), ROOT)[0]


def _error(message: str) -> int:
    print(f"perf refresh: error: {message}", file=sys.stderr)
    return 2


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the runs stop, and only complete files stay written."""


def _on_sigterm(signum, frame):
    raise Interrupted()


def main(argv: list[str]) -> int:
    ours, pytest_args = _parser().parse_known_args(argv)
    if ours.help:
        print(__doc__.strip())
        print("\nAll pytest options of the suite apply; see `pytest perf/ --help`, group 'perf'.")
        return 0
    if ours.runs < 1:
        return _error(f"--runs: expected a positive number of runs, got {ours.runs}")
    if ours.checkpoint_every is not None and ours.checkpoint_every < 1:
        return _error(f"--checkpoint-every: expected a positive number of benchmarks, got {ours.checkpoint_every}")
    if any(a.startswith("--perf-inject-slowdown") for a in pytest_args):
        return _error("--perf-inject-slowdown would write slowed times into the baseline; inject only in runs that "
                      "compare with it")
    if ours.from_results and (ours.checkpoint or ours.checkpoint_every):
        return _error("--checkpoint: --from-results measures nothing, so there is nothing to checkpoint")
    if ours.only and not ours.from_results:
        return _error("--only selects entries of --from-results files; to measure some benchmarks, select them "
                      "with -k")
    folder = _baseline_dir_given(pytest_args) if ours.from_results else None
    if folder is not None and not folder.is_dir():
        return _error(f"--baseline-dir: {folder}: expected an existing folder of <GPU>.json baseline files")
    writer = Writer(folder)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if ours.from_results:
            docs = [(str(p), results.read(p)) for p in ours.from_results]
            writer.write(_only(docs, ours.only) if ours.only else docs)
        else:
            selection = select(pytest_args, refresh=True)  # measure nothing before options and files are checked
            if selection.error:
                said = "left as it is" in selection.error
                return _error(selection.error + ("" if said else "; the baseline file was left as it is"))
            for nodeids, what in _units(selection, ours):
                writer.write(_measure_runs(ours.runs, pytest_args, nodeids))
                if what:
                    print(f"perf refresh: checkpoint: wrote {writer.path}, a complete file with the "
                          f"{len(writer.moves)} entries refreshed so far (this checkpoint: {what})", flush=True)
    except (baselines.BaselineError, results.ResultsError) as exc:
        print(f"perf refresh: error: {exc}\n{writer.left_as()}", file=sys.stderr)
        return 2
    except RunStopped as exc:
        print(f"perf refresh: {exc}; {writer.left_as()}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt as exc:
        print(f"\nperf refresh: interrupted ({'SIGTERM' if isinstance(exc, Interrupted) else 'SIGINT'}); "
              f"{writer.left_as()}", file=sys.stderr)
        return 143 if isinstance(exc, Interrupted) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"perf: refreshed {len(writer.moves)} entries in {writer.path} from {writer.runs} runs "
          f"({writer.entries - len(writer.moves)} kept)")
    for line in moves_lines(writer.moves):
        print(line)
    flagged = [m.key for m in writer.moves if m.flags]
    if flagged:
        print(f"{len(flagged)} entries written with quality flags: {', '.join(flagged[:10])}")
    return 0


def _units(selection: Selection, ours) -> list[tuple[tuple[str, ...], str]]:
    """The parts of a refresh that are measured (and, with checkpoints, written) one after the other: the whole
    selection at once, or each suite module (in pieces of at most --checkpoint-every benchmarks)."""
    if not (ours.checkpoint or ours.checkpoint_every):
        return [((), "")]
    size = ours.checkpoint_every or len(selection.nodeids)
    units = []
    for module, nodeids in selection.modules().items():
        pieces = [nodeids[i:i + size] for i in range(0, len(nodeids), size)]
        for i, piece in enumerate(pieces):
            part = f" part {i + 1} of {len(pieces)}" if len(pieces) > 1 else ""
            units.append((tuple(piece), f"{module}{part}, {len(piece)} benchmarks"))
    return units


def _only(docs: list[tuple[str, dict]], patterns: list[str]) -> list[tuple[str, dict]]:
    """The results files with only the records whose key matches one of `patterns`; BaselineError naming a pattern
    that matches nothing in any of them (nothing is written then)."""
    keys = sorted({r["key"] for _, doc in docs for r in doc.get("results") or ()
                   if isinstance(r, dict) and isinstance(r.get("key"), str)})
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(k, p) for k in keys)]
    if unmatched:
        example = f", e.g. {keys[0]!r}" if keys else ""
        raise baselines.BaselineError(f"--only {unmatched[0]!r}: matches no benchmark of the results files "
                                      f"({len(keys)} keys{example})")

    def wanted(record) -> bool:
        return isinstance(record, dict) and any(fnmatch.fnmatchcase(str(record.get("key")), p) for p in patterns)

    return [(source, {**doc, "results": [r for r in doc["results"] if wanted(r)]}) for source, doc in docs]


class Writer:
    """Merges runs into the baseline file and writes it (each write complete and atomic); knows what it wrote."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder  # None: the file each run compared with
        self.path: Path | None = None
        self.moves: list[baselines.Move] = []
        self.runs = 0
        self.entries = 0
        self.writes = 0

    def write(self, docs: list[tuple[str, dict]]) -> None:
        base = _target(docs[0][1], docs[0][0], self.folder)  # as the last checkpoint left it
        first = Path(docs[0][1].get("baseline_file") or "").name  # runs of one GPU kind; their checkouts may differ
        for source, doc in docs[1:]:
            if Path(doc.get("baseline_file") or "").name != first:
                raise baselines.BaselineError(f"{source}: baseline_file: expected a file named {first!r} like the "
                                              f"first run's (one GPU kind), got {doc.get('baseline_file')!r}")
        merged, moves = baselines.merge(base, [doc["results"] for _, doc in docs], docs[0][1]["environment"])
        baselines.save(merged)
        done = {m.key for m in moves}
        self.moves = [m for m in self.moves if m.key not in done] + moves
        self.path, self.runs, self.entries = merged.path, max(self.runs, len(docs)), len(merged.entries)
        self.writes += 1

    def left_as(self) -> str:
        if not self.writes:
            return "the baseline file was left as it is"
        return (f"{self.path} keeps the {len(self.moves)} entries refreshed up to the last checkpoint; "
                f"the rest were not refreshed")


def _measure_runs(n: int, pytest_args: list[str], nodeids: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """N independent runs of the selection (the nodeids given, or all that pytest_args select), then one more
    for the benchmarks whose measurement was throttled or noisy."""
    docs: list[tuple[str, dict]] = []
    args = ["--perf-measure-only", *pytest_args]
    with tempfile.TemporaryDirectory(prefix="perf-refresh-") as tmp:
        for i in range(n):
            print(f"perf refresh: run {i + 1} of {n}", flush=True)
            code, doc = run_suite(Path(tmp) / f"run{i}.json", args, nodeids)
            if code not in (0, 1) or doc is None:
                raise RunStopped(f"run {i + 1} stopped (exit {code})", code or 1)
            docs.append((f"run {i + 1}", doc))
        device = "cpu" if docs[0][1].get("gpu") == "cpu" else "gpu"
        bad = baselines.bad_keys((d["results"] for _, d in docs), device)
        if bad:
            bad_nodeids = sorted({r["nodeid"] for _, d in docs for r in d["results"] if r["key"] in bad})
            print(f"perf refresh: {len(bad)} benchmarks throttled or noisy; re-measuring them once", flush=True)
            code, doc = run_suite(Path(tmp) / "again.json", args, bad_nodeids)
            if code in (0, 1) and doc is not None:
                docs.append(("re-measure", doc))
    return docs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
