"""`python -m perf refresh [--runs N] [pytest options]`: re-measure the selected benchmarks in N independent runs
and merge their entries into baselines/<GPU>.json (others are kept), written atomically once all runs are done;
then print what moved.

    --runs N                independent runs, each a separate pytest process (default 3). Every entry keeps each
                            run's median and the between-run sigma they show: the noise model of the verdicts.
    --from-results FILE...  merge runs measured elsewhere (results files of `pytest perf/ --perf-json FILE
                            --perf-measure-only`, e.g. on sibling GPUs of one kind) instead of measuring
    -n N, -n auto           (passed to pytest) each run spread over N pytest-xdist workers, one per GPU (auto: every
                            visible GPU), merged by its controller; the baseline is still written once, at the end

A measurement that throttled, was noisier than the quality limit or sits far from the other runs is re-measured
in one more process; an entry that stays bad is written with flags saying so. An interrupted or failed refresh leaves the baseline file as it
was. Every option of the suite applies (`pytest perf/ --help`, group 'perf') and is validated the same way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from perf.commands.suite_process import run_suite
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
    parser.add_argument("--from-results", nargs="+", type=Path, default=None)
    parser.add_argument("-h", "--help", action="store_true")
    return parser


def _target(doc: dict, source: str) -> baselines.Baselines:
    path = doc.get("baseline_file")
    if not path:
        raise baselines.BaselineError(f"{source}: baseline_file: missing (a results file of a timing run is needed)")
    path = Path(path)
    return baselines.load(path.parent, path.stem)


def main(argv: list[str]) -> int:
    ours, pytest_args = _parser().parse_known_args(argv)
    if ours.help:
        print(__doc__.strip())
        print("\nAll pytest options of the suite apply; see `pytest perf/ --help`, group 'perf'.")
        return 0
    if ours.runs < 1:
        print(f"perf refresh: error: --runs: expected a positive number of runs, got {ours.runs}", file=sys.stderr)
        return 4
    if any(a.startswith("--perf-inject-slowdown") for a in pytest_args):
        print("perf refresh: error: --perf-inject-slowdown would write slowed times into the baseline; inject only "
              "in runs that compare with it", file=sys.stderr)
        return 4
    try:
        if ours.from_results:
            docs = [(str(p), results.read(p)) for p in ours.from_results]
        else:
            docs = _measure_runs(ours.runs, pytest_args)
        base = _target(docs[0][1], docs[0][0])
        for source, doc in docs[1:]:
            if doc.get("baseline_file") != docs[0][1].get("baseline_file"):
                raise baselines.BaselineError(f"{source}: baseline_file: expected {docs[0][1].get('baseline_file')!r} "
                                              f"like the first run, got {doc.get('baseline_file')!r}")
        runs = [doc["results"] for _, doc in docs]
        merged, moves = baselines.merge(base, runs, docs[0][1]["environment"])
        baselines.save(merged)
    except (baselines.BaselineError, results.ResultsError) as exc:
        print(f"perf refresh: error: {exc}\nThe baseline file was left as it is.", file=sys.stderr)
        return 4
    except RunStopped as exc:
        print(f"perf refresh: {exc}; the baseline file was left as it is", file=sys.stderr)
        return exc.code
    print(f"perf: refreshed {len(moves)} entries in {merged.path} from {len(docs)} runs "
          f"({len(merged.entries) - len(moves)} kept)")
    for line in moves_lines(moves):
        print(line)
    flagged = [m.key for m in moves if m.flags]
    if flagged:
        print(f"{len(flagged)} entries written with quality flags: {', '.join(flagged[:10])}")
    return 0


def _measure_runs(n: int, pytest_args: list[str]) -> list[tuple[str, dict]]:
    """N independent runs, then one more for the benchmarks whose measurement was throttled or noisy."""
    docs: list[tuple[str, dict]] = []
    args = ["--perf-measure-only", *pytest_args]
    with tempfile.TemporaryDirectory(prefix="perf-refresh-") as tmp:
        for i in range(n):
            print(f"perf refresh: run {i + 1} of {n}", flush=True)
            code, doc = run_suite(Path(tmp) / f"run{i}.json", args)
            if code not in (0, 1) or doc is None:
                raise RunStopped(f"run {i + 1} stopped (exit {code})", code or 1)
            docs.append((f"run {i + 1}", doc))
        device = "cpu" if docs[0][1].get("gpu") == "cpu" else "gpu"
        bad = baselines.bad_keys((d["results"] for _, d in docs), device)
        if bad:
            nodeids = sorted({r["nodeid"] for _, d in docs for r in d["results"] if r["key"] in bad})
            print(f"perf refresh: {len(bad)} benchmarks throttled or noisy; re-measuring them once", flush=True)
            code, doc = run_suite(Path(tmp) / "again.json", args, nodeids)
            if code in (0, 1) and doc is not None:
                docs.append(("re-measure", doc))
    return docs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
