"""Is decode attention's last few percent against SDPA a power budget? Under Nsight Compute (clocks locked, caches
flushed) the split kernel ran at parity with cuDNN's on GQA b64 L4k (docs/perf-notes.md section 60); timed at free
clocks it is about 4% slower. If our kernel spends more power per byte (five programs per SM, query rows padded to
16 for the tensor cores), a GPU at its power cap would give it a lower SM clock than cuDNN's.

Per shape, ours and SDPA in alternation (two rounds), each called back to back for about two seconds while a thread
reads NVML every 10 ms (power, SM clock, throttle reasons); a 1 GiB copy as a reference. Prints per shape and
provider: time per call, mean power and SM clock over the last second, and the share of readings at the power cap.

    PYTHONPATH=. python3 scripts/decode_power_gpu.py OUT/power.json
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

import torch

from perf_kernels import decode_attention as da
from perf.measure import clocks

SHAPES = (("gqa", 32, 8, 64, 4096), ("mha", 32, 32, 64, 4096), ("gqa", 32, 8, 8, 16384), ("mha", 32, 32, 1, 32768),
          ("gqa", 32, 8, 1, 16384))
D = 128
SECONDS = 2.0


def run_loop(fn, seconds: float) -> tuple[float, list]:
    """Call fn back to back for about `seconds` while sampling NVML; the time per call (us) and the readings of the
    last second."""
    readings, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            r = clocks.read(0)
            if r is not None:
                readings.append((time.perf_counter(), r))
            time.sleep(0.01)

    thread = threading.Thread(target=sample)
    thread.start()
    t_end = time.perf_counter() + seconds
    per_call = []
    while time.perf_counter() < t_end:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(20):
            fn()
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) * 1e3 / 20)
    stop.set()
    thread.join()
    last = [r for t, r in readings if t >= t_end - 1.0]
    return statistics.median(per_call[len(per_call) // 2:]), last


def summary(us: float, last: list) -> dict:
    return {"us": us, "power_w": statistics.mean(r.power_w for r in last),
            "sm_mhz": statistics.mean(r.sm_mhz for r in last),
            "power_capped": sum("sw_power_cap" in r.reasons for r in last) / len(last),
            "temperature_c": max(r.temperature_c for r in last), "readings": len(last)}


def main() -> None:
    out_path = sys.argv[1]
    rows = []
    src = torch.empty(2**29, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    us, last = run_loop(lambda: dst.copy_(src), SECONDS)
    rows.append({"shape": "copy 1 GiB", "copy": summary(us, last)})
    del src, dst
    for kind, heads, kv, batch, length in SHAPES:
        gen = torch.Generator(device="cuda").manual_seed(0)
        q = torch.randn(batch, heads, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        k = torch.randn(batch, kv, length, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        v = torch.randn(batch, kv, length, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        lens = torch.full((batch,), length, device="cuda", dtype=torch.int32)
        out, work = torch.empty_like(q), da.workspace(q, length)
        fns = {"ours": lambda: da.decode_attention(q, k, v, lens, out=out, work=work, check_lens=False),
               "sdpa": lambda: da.torch_sdpa(q, k, v)}
        for fn in fns.values():
            fn()
        torch.cuda.synchronize()
        row = {"shape": f"{kind} b{batch} L{length}"}
        for rnd in range(2):
            for name in (("ours", "sdpa") if rnd == 0 else ("sdpa", "ours")):
                row.setdefault(name, []).append(summary(*run_loop(fns[name], SECONDS)))
        rows.append(row)
        del q, k, v, out, work
        torch.cuda.empty_cache()
    json.dump(rows, open(out_path, "w"), indent=1)
    print(f"{'shape':<16} {'provider':<5} {'us/call':>9} {'W':>6} {'SM MHz':>7} {'capped':>6}   (two rounds)")
    for row in rows:
        for name, runs in row.items():
            if name == "shape":
                continue
            runs = runs if isinstance(runs, list) else [runs]
            print(f"{row['shape']:<16} {name:<5} " + " | ".join(
                f"{r['us']:9.1f} {r['power_w']:6.0f} {r['sm_mhz']:7.0f} {r['power_capped']:6.0%}" for r in runs))
    for row in rows[1:]:
        ratio = [s["us"] / o["us"] for s, o in zip(row["sdpa"], row["ours"])]
        print(f"{row['shape']:<16} sdpa/ours {' '.join(f'{x:.3f}' for x in ratio)}")


if __name__ == "__main__":
    main()
