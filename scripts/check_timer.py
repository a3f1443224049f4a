"""GPU check of the suite's timer on short kernels: is a ~10 us kernel measured within 5% of its device time,
with launch gaps excluded?

The reference is the kernel's own duration as the CUDA profiler (CUPTI, through torch.profiler) records it,
under the same cold-L2 pattern (flush, then the kernel). The script prints, per size: the profiler's median
kernel time, the suite's median (events, and CUDA graph), their ratio, and a naive host timer for contrast.

    PYTHONPATH=.:kernels python3 scripts/check_timer.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from perf import gpus
from perf.spec import Prepared
from perf.measure.target import Target
from perf.measure.timing import TimingSettings, measure


def profiler_kernel_ms(fn, flush, reps: int = 200) -> float:
    """Median duration of the non-flush kernels launched by fn, as recorded by CUPTI."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            flush.zero_()
            fn()
        torch.cuda.synchronize()
    durations: dict[str, list[float]] = {}
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            durations.setdefault(event.name, []).append(event.device_time / 1e3)
    # The flush is a fill kernel; the kernels under test are the others.
    kernels = {k: v for k, v in durations.items() if "fill" not in k.lower() and len(v) >= reps}
    if not kernels:
        raise RuntimeError(f"no kernel under test among the profiled ones: {sorted(durations)}")
    return sum(statistics.median(v) for v in kernels.values())


def amortized_graph_ms(elements: int, copies: int = 64) -> float:
    """Independent reference: one CUDA graph of `copies` copies over distinct buffers (together far larger than
    L2, so each reads cold data), timed with events around the replay and divided by `copies`."""
    pairs = [(torch.randn(elements, device="cuda", dtype=torch.bfloat16),
              torch.empty(elements, device="cuda", dtype=torch.bfloat16)) for _ in range(copies)]

    def all_copies():
        for x, y in pairs:
            y.copy_(x)

    all_copies()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        all_copies()
    times = []
    for _ in range(20):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / copies)
    return statistics.median(times)


def host_timer_ms(fn, reps: int = 200) -> float:
    samples = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    flush = torch.empty(int(max(2 * present.cache_flush_mib, 64) * 2**20), dtype=torch.int8, device="cuda")
    rows = []
    for elements in (1 << 20, 4 << 20, 8 << 20, 16 << 20):
        x = torch.randn(elements, device="cuda", dtype=torch.bfloat16)
        y = torch.empty_like(x)

        def fn():
            y.copy_(x)

        reference = profiler_kernel_ms(fn, flush)
        amortized = amortized_graph_ms(elements)
        row = {"bytes_moved": 4 * elements, "profiler_ms": reference, "amortized_ms": amortized,
               "host_ms": host_timer_ms(fn)}
        for method in ("auto", "events", "graph"):
            samples = measure(Prepared(fn), target, TimingSettings(method=method, min_samples=50))
            row[f"{method}_ms"] = samples.summary().median_ms
            row[f"{method}_method"] = samples.method
        rows.append(row)
    print(f"{'MB moved':>9} {'profiler us':>12} {'amortized':>10} {'suite us':>9} {'ratio':>6} {'events':>7} "
          f"{'graph':>7} {'host':>7}")
    for r in rows:
        print(f"{r['bytes_moved'] / 1e6:9.1f} {r['profiler_ms'] * 1e3:12.2f} {r['amortized_ms'] * 1e3:10.2f} "
              f"{r['auto_ms'] * 1e3:9.2f} {r['auto_ms'] / r['profiler_ms']:6.3f} {r['events_ms'] * 1e3:7.2f} "
              f"{r['graph_ms'] * 1e3:7.2f} {r['host_ms'] * 1e3:7.2f}   ({r['auto_method']})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": torch.cuda.get_device_name(0), "rows": rows}, handle, indent=1)
    short = [r for r in rows if 5e-3 <= r["profiler_ms"] <= 2e-2]
    worst = max(max(abs(r["auto_ms"] / r["profiler_ms"] - 1), abs(r["auto_ms"] / r["amortized_ms"] - 1))
                for r in short)
    print(f"5-20 us kernels: largest |suite/reference - 1| over both references: {worst:.1%}")
    return 0 if worst <= 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
