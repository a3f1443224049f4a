"""Does the profiler timer's reading of a short call depend on how far the host is ahead of the GPU?

The profiler method times a call as the union of its kernels' intervals, after a boundary kernel (the L2 flush).
Its calls are launched back to back with no spin kernel in front, so whether the host is ahead of the GPU (the next
call already queued) or behind it (the GPU idle until the next launch) depends on the host. Decode attention
(triton) launches its combine as a programmatic dependent of the split kernel (PDL): it overlaps the split kernel's
tail only when it is already queued. A host behind the GPU would then read the call longer than a host ahead.

Three ways of launching one profiled batch, alternated in rounds, on decode and kernel benchmarks of the suite:
  now     the suite's way: boundary, call, boundary, call, ...
  ahead   the same behind a spin kernel long enough for the host to queue the whole batch (as the events method)
  behind  the host waits for the GPU after each boundary, so the call starts on an idle queue

Per benchmark and way: the median of the union (the suite's sample), the gap from the boundary's end to the call's
first kernel, and for two-kernel calls the second kernel's start minus the first's end (negative: overlap). Also the
suite's own timer (timing.measure) before and after. Writes a JSON file and prints a table.

    PYTHONPATH=. python3 scripts/profiler_host_lead_gpu.py OUT/host_lead.json
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from perf import gpus
from perf.measure import timing
from perf.measure.target import Target
from perf.suite.decode_specs import attention_specs
from perf.suite.kernel_specs import kernel_specs

KEYS = (
    "decode/attention:triton:bf16:mha-h32-kv32-d128:b1:L1024",
    "decode/attention:torch:bf16:mha-h32-kv32-d128:b1:L1024",
    "decode/attention:triton:bf16:gqa-h32-kv8-d128:b1:L1024",
    "decode/attention:triton:bf16:mha-h32-kv32-d128:b1:L4096",
    "decode/attention:triton:bf16:mha-h32-kv32-d128:b8:L1024",
    "decode/attention:triton:bf16:gqa-h32-kv8-d128:b8:L4096",
    "kernel/rms_norm:triton:bf16:h4096:tok1024",
    "kernel/mean:triton:bf16:h4096:tok32",
    "kernel/matmul:triton:bf16:k4096:n4096:tok32",
)
WAYS = ("now", "ahead", "behind")
ROUNDS = 3
BATCHES = 4  # profiled batches per benchmark, way and round
CALLS = 50  # calls per profiled batch (the suite's 5 x batch)


def profiled(fn, boundary, boundary_name: str, way: str, spin_cycles: int) -> tuple[list[dict], float]:
    """One profiled batch of CALLS calls launched `way`; per call its kernels' intervals (us) and the host's
    enqueue time per call (us)."""
    host = {}

    def calls():
        if way == "ahead":
            torch.cuda._sleep(spin_cycles)
        t0 = time.perf_counter()
        for _ in range(CALLS):
            boundary()
            if way == "behind":
                torch.cuda.synchronize()
            fn()
        host["per_call_us"] = (time.perf_counter() - t0) * 1e6 / CALLS

    kernels = timing._cuda_kernels(calls)
    per_call, bound_end = [], None
    for e in kernels:
        if e.name == boundary_name:
            bound_end = e.time_range.end
            per_call.append({"boundary_end": bound_end, "k": []})
        elif per_call:
            per_call[-1]["k"].append((e.time_range.start, e.time_range.end))
    return per_call, host["per_call_us"]


def call_stats(per_call: list[dict]) -> dict:
    union = [timing.busy_us(c["k"]) for c in per_call if c["k"]]
    gap = [c["k"][0][0] - c["boundary_end"] for c in per_call if c["k"]]
    out = {"union_us": statistics.median(union), "gap_us": statistics.median(gap), "n": len(union)}
    two = [c for c in per_call if len(c["k"]) == 2]
    if two:
        out["first_us"] = statistics.median(k[0][1] - k[0][0] for k in (c["k"] for c in two))
        out["second_us"] = statistics.median(k[1][1] - k[1][0] for k in (c["k"] for c in two))
        out["second_start_minus_first_end_us"] = statistics.median(k[1][0] - k[0][1] for k in (c["k"] for c in two))
    return out


def main() -> None:
    out_path = sys.argv[1]
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    specs = {s.key: s for s in attention_specs(target) + kernel_specs(target)}
    flush = torch.empty(max(2 * int(present.cache_flush_mib * 2**20), 64 * 2**20), dtype=torch.int8, device="cuda")
    boundary_name = timing._fill_kernel_name(flush.numel())
    cycles_per_ms = timing.sleep_cycles_per_ms()
    settings = timing.TimingSettings()
    rows = []
    for key in KEYS:
        prepared = specs[key].build(target)
        for _ in range(30):
            prepared.fn()
        torch.cuda.synchronize()
        suite_before = timing.measure(prepared, target, settings)
        raw = {way: [] for way in WAYS}
        host = {way: [] for way in WAYS}
        for rnd in range(ROUNDS):
            for way in WAYS[rnd % 3:] + WAYS[:rnd % 3]:
                for _ in range(BATCHES):
                    per_call, per_call_us = profiled(prepared.fn, flush.zero_, boundary_name, way,
                                                     int(20 * cycles_per_ms))
                    raw[way] += per_call
                    host[way].append(per_call_us)
        suite_after = timing.measure(prepared, target, settings)
        row = {"key": key,
               "suite_before": {"median_us": 1e3 * suite_before.summary().median_ms, "method": suite_before.method},
               "suite_after": {"median_us": 1e3 * suite_after.summary().median_ms, "method": suite_after.method},
               "kernels": list(suite_before.kernels)}
        for way in WAYS:
            row[way] = call_stats(raw[way]) | {"host_per_call_us": statistics.median(host[way])}
        rows.append(row)
        del prepared
        torch.cuda.empty_cache()
    json.dump({"gpu": present.name, "rows": rows}, open(out_path, "w"), indent=1)
    print(f"{'benchmark':<46} {'suite':>13} {'now':>6} {'ahead':>6} {'behind':>6} {'gap now/ahead':>13} "
          f"{'2nd-1st now/ahead/behind':>24} {'host/call':>9}")
    for r in rows:
        short = r["key"].split("/", 1)[1].replace(":bf16", "")[:46]
        ov = ("/".join(f"{r[w].get('second_start_minus_first_end_us', float('nan')):.1f}" for w in WAYS))
        print(f"{short:<46} {r['suite_before']['median_us']:6.2f}/{r['suite_after']['median_us']:6.2f} "
              f"{r['now']['union_us']:6.2f} {r['ahead']['union_us']:6.2f} {r['behind']['union_us']:6.2f} "
              f"{r['now']['gap_us']:6.1f}/{r['ahead']['gap_us']:5.1f} {ov:>24} {r['now']['host_per_call_us']:9.1f}")


if __name__ == "__main__":
    main()
