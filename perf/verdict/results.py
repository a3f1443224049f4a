"""A run's results: one record per benchmark (spec, samples, summary, units, verdict), and the results file
that `--perf-json` writes. The file is also readable by pytest-benchmark's own `compare` command: its
"benchmarks" list follows that tool's layout (times in seconds), beside our "results" list.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from perf.gpus import GpuSpec
from perf.verdict import file_writes
from perf.verdict.roofline import Ceilings, raise_to_achieved
from perf.spec import BenchSpec
from perf.measure.summary import Summary
from perf.verdict.stats import Comparison
from perf.measure.timing import Samples

SCHEMA = "perf-results/1"


class ResultsError(ValueError):
    """A results file that cannot be read: names the file and the field."""


def rates(spec: BenchSpec, median_ms: float, gpu: GpuSpec) -> dict:
    """Throughput in physical units, and as a fraction of the GPU's spec peak for the spec's dtype."""
    seconds = median_ms / 1e3
    tflops = spec.flops / seconds / 1e12 if spec.flops else None
    gbs = spec.bytes / seconds / 1e9 if spec.bytes else None
    peak = gpu.peak(spec.dtype)
    return {
        "tflops": tflops,
        "gbs": gbs,
        "intensity": spec.intensity,
        "peak_pct": 100 * tflops / peak if tflops and peak else None,
        "bandwidth_pct": 100 * gbs / gpu.mem_bw_gbs if gbs and gpu.mem_bw_gbs else None,
    }


def roofline(spec: BenchSpec, median_ms: float, ceilings: Sequence[Ceilings]) -> dict:
    """Where the result sits under each set of ceilings (the GPU's spec, and those measured in the run)."""
    if not spec.bytes:
        return {}
    return {c.source: c.place(spec.flops, spec.bytes, median_ms, spec.dtype).as_dict() for c in ceilings}


def settle_ceilings(records: list[dict], ceilings: Sequence[Ceilings]) -> list[Ceilings]:
    """At the end of a run: the measured ceilings raised to the run's best results (never below an achieved
    result), and every record's roofline placed again under them. The spec table's ceilings stay as they are."""
    achieved = []
    for r in records:
        ms = r["summary"]["median_ms"]
        if ms and ms > 0 and r["bytes"]:
            achieved.append((r["key"], r["dtype"], r["flops"] / (ms * 1e-3) / 1e12, r["bytes"] / (ms * 1e-3) / 1e9))
    settled = [raise_to_achieved(c, achieved) if c.source == "measured" else c for c in ceilings]
    for r in records:
        if r["bytes"]:
            r["roofline"] = {c.source: c.place(r["flops"], r["bytes"], r["summary"]["median_ms"], r["dtype"]).as_dict()
                             for c in settled}
    return settled


def record(spec: BenchSpec, samples: Samples, comparison: Comparison, gpu: GpuSpec, *,
           baseline: Summary | None, nodeid: str, remeasured: bool = False,
           ceilings: Sequence[Ceilings] = (), extra: Mapping | None = None) -> dict:
    """The results-file record of one measured benchmark."""
    summary = samples.summary()
    return {
        "key": spec.key,
        "family": spec.family,
        "id": spec.id,
        "group": spec.group,
        "nodeid": nodeid,
        "dtype": spec.dtype,
        "params": dict(spec.params),
        "flops": spec.flops,
        "bytes": spec.bytes,
        "samples_ms": list(samples.samples_ms),
        "summary": summary.to_dict(),
        "rel_noise": summary.rel_noise,
        "method": samples.method,
        "cold_l2": samples.cold_l2,
        "warmup_calls": samples.warmup_calls,
        "throttled": samples.throttled,
        "clocks_before": samples.clocks_before,
        "clocks_after": samples.clocks_after,
        "notes": list(samples.notes),
        "kernels": list(samples.kernels),
        "kernel_ms": dict(samples.kernel_ms),  # each kernel's median share of the call, where a call runs several
        **rates(spec, summary.median_ms, gpu),
        "roofline": roofline(spec, summary.median_ms, ceilings),
        "baseline": baseline.to_dict() if baseline else None,
        "change": comparison.change,
        "noise": comparison.noise,
        "threshold": comparison.threshold,
        "tolerance": comparison.tolerance,
        "tolerance_source": comparison.tolerance_source,
        "verdict": comparison.verdict.value,
        "reason": comparison.reason,
        "remeasured": remeasured,
        **(extra or {}),
    }


def _benchmark_entry(result: Mapping) -> dict:
    """One result in pytest-benchmark's JSON layout (seconds)."""
    s = [x / 1e3 for x in result["samples_ms"]]
    n = len(s)
    mean = sum(s) / n
    stddev = (sum((x - mean) ** 2 for x in s) / (n - 1)) ** 0.5 if n > 1 else 0.0
    summary = result["summary"]
    q1, q3 = summary["q1_ms"] / 1e3, summary["q3_ms"] / 1e3
    iqr = q3 - q1
    inside = [x for x in s if q1 - 1.5 * iqr <= x <= q3 + 1.5 * iqr] or s
    name = result["nodeid"].rsplit("::", 1)[-1]
    return {
        "group": result["group"] or result["family"],
        "name": name,
        "fullname": result["nodeid"],
        "params": {"perf_spec": result["id"]},
        "param": result["id"],
        "extra_info": {k: result.get(k) for k in ("key", "tflops", "gbs", "peak_pct", "verdict", "method")},
        "options": {"disable_gc": False, "timer": result["method"], "min_rounds": 1, "max_time": None,
                    "min_time": None, "warmup": result["warmup_calls"] > 0},
        "stats": {
            "min": min(s), "max": max(s), "mean": mean, "stddev": stddev, "rounds": n,
            "median": summary["median_ms"] / 1e3, "iqr": iqr, "q1": q1, "q3": q3,
            "iqr_outliers": n - len(inside), "stddev_outliers": sum(1 for x in s if abs(x - mean) > stddev),
            "outliers": f"{sum(1 for x in s if abs(x - mean) > stddev)};{n - len(inside)}",
            "ld15iqr": min(inside), "hd15iqr": max(inside), "ops": 1.0 / mean, "total": sum(s),
            "iterations": 1, "data": s,
        },
    }


def document(results: Iterable[Mapping], *, gpu: GpuSpec, environment: dict, baseline_environment: dict | None,
             ceilings: Sequence[Ceilings] = (), extra: Mapping | None = None) -> dict:
    results = list(results)
    try:
        from pytest_benchmark import __version__ as pb_version
    except ImportError:
        pb_version = "unknown"
    return {
        "schema": SCHEMA,
        "gpu": gpu.key,
        "gpu_spec": {"name": gpu.name, "sms": gpu.sms, "peak_tflops": dict(gpu.peak_tflops),
                     "mem_bw_gbs": gpu.mem_bw_gbs, "l2_mib": gpu.l2_mib, "detected": gpu.detected},
        "environment": environment,
        "baseline_environment": baseline_environment,
        "ceilings": {c.source: {"peak_tflops": dict(c.peak_tflops), "bandwidth_gbs": c.bandwidth_gbs,
                                "notes": list(c.notes)} for c in ceilings},
        "results": results,
        **(extra or {}),
        # pytest-benchmark's layout, for `pytest-benchmark compare`:
        "machine_info": {"node": environment.get("device"), "machine": environment.get("gpu"),
                         "python_version": environment.get("python"), **environment},
        "commit_info": {"id": environment.get("commit"), "dirty": str(environment.get("commit", "")).endswith("-dirty")},
        "benchmarks": [_benchmark_entry(r) for r in results],
        "datetime": environment.get("date") or dt.datetime.now(dt.timezone.utc).isoformat(),
        "version": pb_version,
    }


def write(path: Path, doc: Mapping) -> None:
    """Written atomically (perf/verdict/file_writes.py): WriteError naming the path and the errno, and no file
    half-written, on a full disk."""
    file_writes.write_text(path, json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")


def _parse(raw: bytes):
    """JSON text to Python objects: with orjson when it is installed (the `history` extra; ~3x faster on a 16 MB
    results file, which matters when a history import reads hundreds), else, and for what orjson refuses (NaN,
    Infinity, which json writes), with json, whose errors name the line and column."""
    try:
        import orjson
    except ImportError:
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def read(path: Path) -> dict:
    """A results file, checked enough to be used: names the file and the field when it is not."""
    path = Path(path)
    try:
        data = _parse(path.read_bytes())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: a folder; expected a results file (pytest perf/ --perf-json FILE)") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (not UTF-8 text at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except RecursionError:
        raise ResultsError(f"{path}: not a results file (JSON nested too deeply)") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read: {file_writes.describe(exc, path)}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = f"{data.get('schema')!r:.80}" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise ResultsError(f"{path}: schema: expected {SCHEMA!r}, got {got}")
    if not isinstance(data.get("results"), list):
        raise ResultsError(f"{path}: results: expected a list of result records")
    for i, r in enumerate(data["results"]):
        for name in ("key", "family", "summary", "verdict"):
            if not isinstance(r, dict) or name not in r:
                raise ResultsError(f"{path}: results[{i}].{name}: missing")
    return data
