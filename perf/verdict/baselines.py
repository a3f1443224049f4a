"""Baseline files: one JSON file per GPU, `<dir>/<GPU key>.json`. Load and validate, merge a run's results,
save atomically (temporary file in the same folder, then rename), and the diff a refresh prints.

A file is sorted, stable JSON so that a refresh reads as a diff in review:

    {
      "schema": "perf-baseline/2",
      "gpu": "H100-SXM",
      "environments": {"<id>": {"device": ..., "driver": ..., "torch": ..., "commit": ..., "date": ...}},
      "entries": {"gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1": {"env": "<id>", "unit": "ms", "median_ms": ...,
                  "ci_low_ms": ..., "ci_high_ms": ..., "q1_ms": ..., "q3_ms": ..., "min_ms": ..., "max_ms": ...,
                  "n": ..., "tflops": ..., "gbs": ..., "flops": ..., "bytes": ..., "dtype": ..., "method": ...,
                  "run_medians_ms": [...], "between_run_sigma": ..., "quantiles_ms": [...], "flags": [...]}}
    }

An entry is measured in several independent runs (`python -m perf refresh --runs N`): its median is the
median of the runs' medians, its quartiles, extremes and deciles (`quantiles_ms`, 0%..100%) come from the
pooled samples, `run_medians_ms` keeps every run's median and `between_run_sigma` the spread they show (see
perf/verdict/noise.py). A run whose measurement throttled, was noisier than QUALITY_LIMIT or (among three runs
or more) lies further than DISTURBED_LIMIT from the runs' median is left out when enough good runs remain;
otherwise the entry is written with `flags` saying so. Files of schema perf-baseline/1 (one run per entry) are
still read.

A malformed or foreign file is answered with BaselineError naming the file and the field, and is never
overwritten. Every write holds the file's lock (perf/verdict/baseline_lock.py) for its read-merge-write and is
checked with the same checks as a load: what could not be loaded is never written.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from perf.measure.environment import env_id
from perf.measure.summary import Summary, quantile, summarize
from perf.verdict import baseline_lock, destination, file_writes, noise
from perf.verdict.stats import Reference

SCHEMA = "perf-baseline/2"
READABLE = ("perf-baseline/1", SCHEMA)
QUALITY_LIMIT = {"gpu": 0.02, "cpu": 0.25}  # within-run noise (95% CI half-width of the median) of a good run
# A run whose median is this far from the median of the runs was disturbed (a load spike on a shared CPU). On the
# H200s, nine runs over two hosts moved at most 8.7% from their median, so 15% keeps every real run there.
DISTURBED_LIMIT = {"gpu": 0.15, "cpu": 0.25}
DECILES = tuple(i / 10 for i in range(11))
_SUMMARY_FIELDS = tuple(Summary.__dataclass_fields__)
MAX_SIGMA = 10.0  # a between-run sigma of 1000%: beyond it the noise model's arithmetic means nothing


class BaselineError(ValueError):
    """A baseline file that cannot be used: names the file and the field."""


@dataclass
class Baselines:
    path: Path
    gpu: str
    environments: dict[str, dict] = field(default_factory=dict)
    entries: dict[str, dict] = field(default_factory=dict)

    @property
    def device_kind(self) -> str:
        return "cpu" if self.gpu == "cpu" else "gpu"

    def summary(self, key: str) -> Summary | None:
        entry = self.entries.get(key)
        return Summary.from_dict(entry) if entry else None

    def family_sigma(self, family: str) -> float:
        """The typical between-run sigma of a family's entries in this file (the documented default when no
        entry of the family has several runs)."""
        sigmas = (e.get("between_run_sigma") for k, e in self.entries.items() if k.split("/", 1)[0] == family)
        return noise.family_sigma(sigmas, noise.DEFAULT_SPREAD[self.device_kind])

    def reference(self, key: str) -> Reference | None:
        """The entry as a verdict sees it: summary, runs, the between-run sigma pooled with its family's and
        widened by the sibling-GPU spread."""
        entry = self.entries.get(key)
        if not entry:
            return None
        runs = len(entry.get("run_medians_ms") or ()) or 1
        own = entry.get("between_run_sigma")
        prior = self.family_sigma(key.split("/", 1)[0])
        sigma = noise.with_sibling(noise.shrunk(own, runs, prior), self.device_kind)
        return Reference(summary=Summary.from_dict(entry), runs=runs, sigma=sigma,
                         sigma_known=own is not None, method=entry.get("method"),
                         flags=tuple(entry.get("flags") or ()))

    def environment_of(self, key: str) -> dict | None:
        entry = self.entries.get(key)
        return self.environments.get(entry["env"]) if entry else None

    def to_json(self) -> str:
        used = {e["env"] for e in self.entries.values()}
        data = {
            "schema": SCHEMA,
            "gpu": self.gpu,
            "environments": {k: v for k, v in self.environments.items() if k in used},
            "entries": self.entries,
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def path_for(directory: Path, gpu_key: str) -> Path:
    return Path(directory) / f"{gpu_key}.json"


def _fail(path: Path, where: str, expected: str, got: object) -> BaselineError:
    return BaselineError(f"{path}: {where}: expected {expected}, got {got!r}")


def _check_entry(path: Path, key: str, entry: object, environments: Mapping) -> None:
    where = f"entries[{key!r}]"
    if not isinstance(entry, dict):
        raise _fail(path, where, "an object", entry)
    for name in _SUMMARY_FIELDS:
        value = entry.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise _fail(path, f"{where}.{name}", "a finite non-negative number", value)
    if entry["median_ms"] <= 0:
        raise _fail(path, f"{where}.median_ms", "a positive number of milliseconds", entry["median_ms"])
    if not entry["ci_low_ms"] <= entry["median_ms"] <= entry["ci_high_ms"]:
        raise _fail(path, f"{where}", "ci_low_ms <= median_ms <= ci_high_ms",
                    (entry["ci_low_ms"], entry["median_ms"], entry["ci_high_ms"]))
    if entry.get("unit") != "ms":
        raise _fail(path, f"{where}.unit", "'ms'", entry.get("unit"))
    if entry.get("env") not in environments:
        raise _fail(path, f"{where}.env", f"one of the file's environments {sorted(environments)}", entry.get("env"))
    for name in ("run_medians_ms", "quantiles_ms"):
        values = entry.get(name)
        if values is not None and (not isinstance(values, list) or not values or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values)):
            raise _fail(path, f"{where}.{name}", "a non-empty list of positive milliseconds", values)
    sigma = entry.get("between_run_sigma")
    if sigma is not None and (not isinstance(sigma, (int, float)) or isinstance(sigma, bool)
                              or not math.isfinite(sigma) or not 0 <= sigma <= MAX_SIGMA):
        raise _fail(path, f"{where}.between_run_sigma", f"a fraction between 0 and {MAX_SIGMA:g}", sigma)
    flags = entry.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise _fail(path, f"{where}.flags", "a list of strings", flags)


def parse(text: str, path: Path, gpu_key: str) -> Baselines:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict):
        raise _fail(path, "top level", "an object", type(data).__name__)
    if data.get("schema") not in READABLE:
        raise _fail(path, "schema", " or ".join(map(repr, READABLE)), data.get("schema"))
    if data.get("gpu") != gpu_key:
        raise _fail(path, "gpu", f"{gpu_key!r} (this file is for another GPU)", data.get("gpu"))
    environments = data.get("environments")
    if not isinstance(environments, dict) or not all(isinstance(v, dict) for v in environments.values()):
        raise _fail(path, "environments", "an object of environment objects", environments)
    for eid, env in environments.items():
        if not isinstance(env.get("device"), str):
            raise _fail(path, f"environments[{eid!r}].device", "the device name (a string)", env.get("device"))
    entries = data.get("entries")
    if not isinstance(entries, dict):
        raise _fail(path, "entries", "an object keyed by benchmark", entries)
    for key, entry in entries.items():
        _check_entry(path, key, entry, environments)
    return Baselines(path=path, gpu=gpu_key, environments=dict(environments), entries=dict(entries))


def load(directory: Path, gpu_key: str) -> Baselines:
    """The baselines for a GPU; an empty set when the file does not exist yet."""
    path = path_for(directory, gpu_key)
    file_writes.remove_stale_temps(path.parent, path.name)  # left by a killed writer
    if not path.exists():
        return Baselines(path=path, gpu=gpu_key)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not a JSON text file (not UTF-8 at byte {exc.start})") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {file_writes.describe(exc, path)}") from None
    try:
        return parse(text, path, gpu_key)
    except RecursionError:
        raise BaselineError(f"{path}: not a baseline file (JSON nested too deeply)") from None


def _round(value: float) -> float:
    """Six significant digits: enough for timing, short enough for a readable diff."""
    return float(f"{value:.6g}")


def _faults(results: Sequence[Mapping], device_kind: str) -> list[str | None]:
    """Why each run's measurement of one benchmark is not good enough for a baseline (None: good): throttled,
    noisy inside its window, or, among three runs or more, disturbed (far from the runs' median)."""
    medians = [r["summary"]["median_ms"] for r in results]
    center = statistics.median(medians)
    faults = []
    for result, median in zip(results, medians):
        noise_ = result.get("rel_noise")
        if noise_ is None:
            noise_ = Summary.from_dict(result["summary"]).rel_noise
        if result.get("throttled"):
            faults.append("throttled")
        elif noise_ > QUALITY_LIMIT[device_kind]:
            faults.append("noisy")
        elif len(results) >= 3 and abs(median / center - 1) > DISTURBED_LIMIT[device_kind]:
            faults.append("disturbed")
        else:
            faults.append(None)
    return faults


def entry_for(results: Sequence[Mapping], eid: str, *, device_kind: str = "gpu") -> dict:
    """The baseline entry of one benchmark from its results in independent runs (results-file records)."""
    if not results:
        raise ValueError("entry_for needs at least one result")
    methods = Counter(r["method"] for r in results)
    method = methods.most_common(1)[0][0]
    same = [r for r in results if r["method"] == method]
    faults = _faults(same, device_kind)
    good = [r for r, fault in zip(same, faults) if fault is None]
    enough = len(good) >= min(2, len(same))  # two good runs (or all of a single one) make the entry
    used = good if enough else same
    flags = set() if enough else set(faults) - {None}
    if len(methods) > 1:
        flags.add("mixed-methods")
    medians = [r["summary"]["median_ms"] for r in used]
    pooled_samples = sorted(x for r in used for x in (r.get("samples_ms") or ()))
    pooled = summarize(pooled_samples) if pooled_samples else Summary.from_dict(used[0]["summary"])
    center = statistics.median(medians)
    entry: dict = {k: _round(v) if isinstance(v, float) else v for k, v in pooled.to_dict().items()}
    entry.update(median_ms=_round(center), ci_low_ms=_round(min(pooled.ci_low_ms, center)),
                 ci_high_ms=_round(max(pooled.ci_high_ms, center)), unit="ms", env=eid, dtype=used[0]["dtype"],
                 method=method, run_medians_ms=[_round(m) for m in medians])
    sigma = noise.between_run_sigma(medians)
    if sigma is not None:
        entry["between_run_sigma"] = _round(sigma)
    if pooled_samples:
        entry["quantiles_ms"] = [_round(quantile(pooled_samples, q)) for q in DECILES]
    if flags:
        entry["flags"] = sorted(flags)
    first = used[0]
    for name in ("flops", "bytes"):
        if first.get(name) is not None:
            entry[name] = first[name]
    seconds = center / 1e3
    if first.get("flops"):
        entry["tflops"] = _round(first["flops"] / seconds / 1e12)
    if first.get("bytes"):
        entry["gbs"] = _round(first["bytes"] / seconds / 1e9)
    return entry


def _by_key(runs: Iterable[Iterable[Mapping]]) -> dict[str, list[Mapping]]:
    """Each benchmark's results over the runs."""
    by_key: dict[str, list[Mapping]] = {}
    for run in runs:
        for result in run:
            by_key.setdefault(result["key"], []).append(result)
    return by_key


@dataclass(frozen=True)
class Move:
    key: str
    before_ms: float | None
    after_ms: float
    runs: int = 1
    sigma: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def change(self) -> float | None:
        return None if self.before_ms is None else self.after_ms / self.before_ms - 1.0


def merge(base: Baselines, runs: Iterable[Iterable[Mapping]], environment: dict) -> tuple[Baselines, list[Move]]:
    """A new Baselines with the entries of the benchmarks that ran replaced or added, the others kept; and what
    moved. `runs` holds each independent run's results (one list of records per run)."""
    eid = env_id(environment)
    merged = Baselines(path=base.path, gpu=base.gpu, environments={**base.environments, eid: environment},
                       entries=dict(base.entries))
    moves = []
    for key, results in _by_key(runs).items():
        before = base.entries.get(key)
        entry = entry_for(results, eid, device_kind=base.device_kind)
        merged.entries[key] = entry
        moves.append(Move(key, before["median_ms"] if before else None, entry["median_ms"],
                          len(entry["run_medians_ms"]), entry.get("between_run_sigma"), tuple(entry.get("flags", ()))))
    return merged, moves


def bad_keys(runs: Iterable[Iterable[Mapping]], device_kind: str) -> dict[str, str]:
    """Benchmarks with a run too throttled, noisy or disturbed for a baseline: key -> why (the refresh
    re-measures them)."""
    found: dict[str, str] = {}
    for key, results in _by_key(runs).items():
        why = next((f for f in _faults(results, device_kind) if f), None)
        if why:
            found[key] = why
    return found


def check_record(source: str, index: int, record: object) -> None:
    """A results-file record good enough to make a baseline entry from, or BaselineError naming the file and
    the field (checked before anything is merged, so that a bad record never reaches the file)."""
    where = f"{source}: results[{index}]"
    if not isinstance(record, dict):
        raise BaselineError(f"{where}: expected a result record (an object), got {type(record).__name__}")
    for name in ("key", "method", "dtype"):
        if not isinstance(record.get(name), str):
            raise BaselineError(f"{where}.{name}: expected a string, got {record.get(name)!r:.80}")
    summary = record.get("summary")
    if not isinstance(summary, dict):
        raise BaselineError(f"{where}.summary: expected an object of {', '.join(_SUMMARY_FIELDS)}, "
                            f"got {summary!r:.80}")
    for name in _SUMMARY_FIELDS:
        value = summary.get(name)
        if not _finite(value) or value < 0:
            raise BaselineError(f"{where}.summary.{name}: expected a finite non-negative number, got {value!r:.80}")
    if summary["median_ms"] <= 0:
        raise BaselineError(f"{where}.summary.median_ms: expected a positive number of milliseconds, "
                            f"got {summary['median_ms']!r}")
    samples = record.get("samples_ms")
    if samples is not None and (not isinstance(samples, list) or not all(_finite(x) and x > 0 for x in samples)):
        raise BaselineError(f"{where}.samples_ms: expected a list of positive milliseconds")
    for name in ("flops", "bytes"):
        if record.get(name) is not None and (not _finite(record[name]) or record[name] < 0):
            raise BaselineError(f"{where}.{name}: expected a finite non-negative number, got {record[name]!r:.80}")


def check_environment(source: str, environment: object) -> None:
    if not isinstance(environment, dict) or not isinstance(environment.get("device"), str):
        raise BaselineError(f"{source}: environment: expected an object with the device name, "
                            f"got {environment!r:.80}")


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def update(base: Baselines, runs: Iterable[Iterable[Mapping]], environment: dict) -> tuple[Baselines, list[Move]]:
    """Merge `runs` into the baseline file of `base` and write it, holding the file's lock: the file is read
    again under the lock, so that a writer that finished meanwhile keeps its entries. A file that cannot be
    written, or could not be loaded once written, is refused with BaselineError and left as it is."""
    problem = destination.unwritable(base.path)
    if problem:
        raise BaselineError(problem)
    base.path.parent.mkdir(parents=True, exist_ok=True)
    runs = [list(run) for run in runs]
    try:
        with baseline_lock.locked(base.path):
            current = load(base.path.parent, base.gpu)
            merged, moves = merge(current, runs, environment)
            save(merged)
    except baseline_lock.LockTimeout as exc:
        raise BaselineError(str(exc)) from None
    except OSError as exc:  # the lock file could not be made
        raise BaselineError(f"cannot lock the baseline file: {file_writes.describe(exc)}") from None
    return merged, moves


def save(baselines: Baselines) -> None:
    """Write atomically (perf/verdict/file_writes.py): a temporary file in the same folder, flushed, given the
    old file's mode (a new file gets the umask's), then renamed over the old one; a symlinked file keeps its link.
    A file or folder without write permission bits is refused with BaselineError and left as it is, and so is
    a file that would not load (a NaN, a negative median, an environment that is no object), and a full disk."""
    path = baselines.path
    problem = destination.unwritable(path)
    if problem:
        raise BaselineError(problem)
    text = baselines.to_json()
    try:
        parse(text, path, baselines.gpu)
    except BaselineError as exc:
        raise BaselineError(f"not written, it would not load: {exc}") from None
    try:
        file_writes.write_text(path, text)
    except file_writes.WriteError as exc:
        raise BaselineError(str(exc)) from None
