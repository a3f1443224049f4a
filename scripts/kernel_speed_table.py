"""The kernel targets read from one whole-suite results file (`--perf-json`): each Triton kernel against
its reference on the same shapes, measured in that run (by one worker, on one GPU, when run with workers).

    python3 scripts/kernel_speed_table.py RESULTS.json

Prints: matmul / cuBLAS by tokens for each (N, K); decode attention / SDPA per shape (min, median, shapes at
>= 1.0x); rms_norm, log_softmax and mean in GB/s and % of the run's measured copy bandwidth (the bandwidth
before any result raised it) from 1024 tokens on, and against torch; results above 100% of their roofline.

Where the run timed pairs side by side (--perf-pairs: ours and the reference in alternation), their ratios come
first: those are the ratios the targets read. The ratios of benchmarks timed apart follow; a * marks a ratio one of
whose sides was re-measured in a fresh process (a cool GPU, while the other side ran inside the run).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf.report import kernel_targets  # noqa: E402


def _median(record: dict) -> float:
    return record["summary"]["median_ms"]


def _tokens(key: str) -> int:
    found = re.search(r"tok(\d+)", key)
    return int(found.group(1)) if found else 0


def copy_bandwidth(data: dict) -> float:
    """The copy the run measured, before a result of the run raised the ceiling (its note says from what)."""
    measured = data.get("ceilings", {}).get("measured", {})
    for note in measured.get("notes", []):
        found = re.match(r"bandwidth raised from ([\d.]+) to", note)
        if found:
            return float(found.group(1))
    return float(measured.get("bandwidth_gbs") or "nan")


def pair_lines(data: dict) -> list[str]:
    """The side-by-side ratios (perf_pairs): matmul by tokens per shape, decode attention over its shapes, the row
    kernels from 1024 tokens on."""
    found = data.get("perf_pairs") or []
    out = []
    matmul: dict[str, list] = {}
    for p in found:
        if p["id"].startswith("matmul:"):
            matmul.setdefault(":".join(p["id"].split(":")[2:4]), []).append(p)
    for shape, got in sorted(matmul.items()):
        out.append(f"side by side: matmul {shape} / cuBLAS: " + "  ".join(
            f"m{_tokens(p['id'])} {p['ratio']:.2f} [{p['ratio_low']:.2f}-{p['ratio_high']:.2f}]"
            for p in sorted(got, key=lambda p: _tokens(p["id"]))))
    decode = sorted((p for p in found if p["id"].startswith("attention:") and ":L" in p["id"]), key=lambda p: p["ratio"])
    if decode:
        ratios = [p["ratio"] for p in decode]
        out.append(f"side by side: decode attention / SDPA over {len(ratios)} shapes: min {ratios[0]:.2f} "
                   f"({decode[0]['id']}), median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f}; >= 1.0x on "
                   f"{sum(x >= 1.0 for x in ratios)}")
    for kernel in ("rms_norm", "log_softmax", "mean"):
        cells = [f"tok{_tokens(p['id'])} {p['ratio']:.2f}x" for p in sorted(found, key=lambda p: _tokens(p["id"]))
                 if p["id"].startswith(f"{kernel}:") and _tokens(p["id"]) >= 1024]
        if cells:
            out.append(f"side by side: {kernel} / torch: " + "  ".join(cells))
    out += [f"target: {' | '.join(row)}" for row in kernel_targets.rows(kernel_targets.evaluate(found))] if found else []
    return out


def lines(data: dict) -> list[str]:
    by_id = {r["id"]: r for r in data["results"]}
    out = pair_lines(data)
    matmul = {}
    for key, r in by_id.items():
        if key.startswith("matmul:triton:") and key.replace(":triton:", ":cuBLAS:") in by_id:
            shape = key.split(":")[3] + ":" + key.split(":")[4]
            ref = by_id[key.replace(":triton:", ":cuBLAS:")]
            mark = "*" if r.get("remeasured") or ref.get("remeasured") else ""
            matmul.setdefault(shape, []).append((_tokens(key), _median(ref) / _median(r), mark))
    for shape, pairs in sorted(matmul.items()):
        out.append(f"matmul {shape} / cuBLAS: " + "  ".join(f"m{t} {x:.2f}{mark}" for t, x, mark in sorted(pairs)))
    decode = sorted((_median(by_id[k.replace(":triton:", ":torch:")]) / _median(r), k)
                    for k, r in by_id.items() if k.startswith("attention:triton:") and ":b" in k and ":L" in k
                    and k.replace(":triton:", ":torch:") in by_id)
    if decode:
        ratios = [x for x, _ in decode]
        out.append(f"decode attention / SDPA over {len(ratios)} shapes: min {ratios[0]:.2f} ({decode[0][1]}), median "
                   f"{statistics.median(ratios):.2f}, max {ratios[-1]:.2f}; >= 1.0x on {sum(x >= 1.0 for x in ratios)}")
    copy = copy_bandwidth(data)
    for kernel in ("rms_norm", "log_softmax", "mean"):
        cells = []
        for key, r in sorted(by_id.items(), key=lambda kv: _tokens(kv[0])):
            if key.startswith(f"{kernel}:triton:") and _tokens(key) >= 1024 and r.get("gbs"):
                ref = by_id.get(key.replace(":triton:", ":torch:"))
                vs = f", {_median(ref) / _median(r):.2f}x torch" if ref else ""
                cells.append(f"tok{_tokens(key)} {r['gbs']:.0f} GB/s = {100 * r['gbs'] / copy:.0f}%{vs}")
        if cells:
            out.append(f"{kernel} (copy {copy:.0f} GB/s): " + "; ".join(cells))
    above = [r["id"] for r in data["results"]
             if any((p or {}).get("pct_of_roofline", 0) and p["pct_of_roofline"] > 100.05
                    for p in (r.get("roofline") or {}).values())]
    out.append(f"results above 100% of a roofline: {len(above)}" + (f" ({', '.join(above[:5])})" if above else ""))
    return out


if __name__ == "__main__":
    print("\n".join(lines(json.loads(Path(sys.argv[1]).read_text()))))
