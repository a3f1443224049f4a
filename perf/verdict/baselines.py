"""Baseline files: one JSON file per GPU, `<dir>/<GPU key>.json`. Load and validate, merge a run's results,
save atomically (temporary file in the same folder, then rename), and the diff a refresh prints.

A file is sorted, stable JSON so that a refresh reads as a diff in review:

    {
      "schema": "perf-baseline/1",
      "gpu": "H100-SXM",
      "environments": {"<id>": {"device": ..., "driver": ..., "torch": ..., "commit": ..., "date": ...}},
      "entries": {"gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1": {"env": "<id>", "unit": "ms", "median_ms": ...,
                  "ci_low_ms": ..., "ci_high_ms": ..., "q1_ms": ..., "q3_ms": ..., "min_ms": ..., "max_ms": ...,
                  "n": ..., "tflops": ..., "gbs": ..., "flops": ..., "bytes": ..., "dtype": ..., "method": ...}}
    }

A malformed or foreign file is answered with BaselineError naming the file and the field, and is never
overwritten.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from perf.measure.environment import env_id
from perf.measure.summary import Summary

SCHEMA = "perf-baseline/1"
_SUMMARY_FIELDS = tuple(Summary.__dataclass_fields__)
_NUMBER_FIELDS = ("tflops", "gbs", "flops", "bytes")


class BaselineError(ValueError):
    """A baseline file that cannot be used: names the file and the field."""


@dataclass
class Baselines:
    path: Path
    gpu: str
    environments: dict[str, dict] = field(default_factory=dict)
    entries: dict[str, dict] = field(default_factory=dict)

    def summary(self, key: str) -> Summary | None:
        entry = self.entries.get(key)
        return Summary.from_dict(entry) if entry else None

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


def parse(text: str, path: Path, gpu_key: str) -> Baselines:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(data, dict):
        raise _fail(path, "top level", "an object", type(data).__name__)
    if data.get("schema") != SCHEMA:
        raise _fail(path, "schema", repr(SCHEMA), data.get("schema"))
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
    if not path.exists():
        return Baselines(path=path, gpu=gpu_key)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {exc}") from None
    return parse(text, path, gpu_key)


def _round(value: float) -> float:
    """Six significant digits: enough for timing, short enough for a readable diff."""
    return float(f"{value:.6g}")


def entry_for(result: Mapping, eid: str) -> dict:
    """The baseline entry of one result (a results-file record)."""
    entry: dict = {k: _round(v) if isinstance(v, float) else v for k, v in result["summary"].items()}
    entry.update(unit="ms", env=eid, dtype=result["dtype"], method=result["method"])
    for name in _NUMBER_FIELDS:
        value = result.get(name)
        if value is not None:
            entry[name] = _round(value) if isinstance(value, float) else value
    return entry


@dataclass(frozen=True)
class Move:
    key: str
    before_ms: float | None
    after_ms: float

    @property
    def change(self) -> float | None:
        return None if self.before_ms is None else self.after_ms / self.before_ms - 1.0


def merge(base: Baselines, results: Iterable[Mapping], environment: dict) -> tuple[Baselines, list[Move]]:
    """A new Baselines with the results' entries replaced or added, the others kept; and what moved."""
    eid = env_id(environment)
    merged = Baselines(path=base.path, gpu=base.gpu, environments={**base.environments, eid: environment},
                       entries=dict(base.entries))
    moves = []
    for result in results:
        before = base.entries.get(result["key"])
        entry = entry_for(result, eid)
        merged.entries[result["key"]] = entry
        moves.append(Move(result["key"], before["median_ms"] if before else None, entry["median_ms"]))
    return merged, moves


def save(baselines: Baselines) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over the old one."""
    path = baselines.path
    path.parent.mkdir(parents=True, exist_ok=True)
    text = baselines.to_json()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
