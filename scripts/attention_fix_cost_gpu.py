"""The flash attention kernel before and after its row sums became an MMA (GPU call script): time and bits.

For each shape, in one process, the kernel before the fix (a copy of that revision's kernels/attention.py, given
as a file) and the kernel now are timed alternately (CUDA events, ROUNDS rounds of REPS calls each, the median of
the rounds), and each is checked for the property the fix is about: a causal call without a mask and the same
rows inside a longer, right-padded batch under a boolean mask give the same bits.

    PYTHONPATH=. python3 scripts/attention_fix_cost_gpu.py OLD_ATTENTION_PY [OUT_DIR]
A check of the script on the CPU (tiny shapes, Triton under the interpreter):
    ATTN_DEVICE=cpu TRITON_INTERPRET=1 PYTHONPATH=. python3 scripts/attention_fix_cost_gpu.py OLD_ATTENTION_PY
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

DEVICE = os.environ.get("ATTN_DEVICE", "cuda")
CPU = DEVICE == "cpu"
# (batch, heads, kv_heads, length, head_dim): prefill shapes of the suite's kernel family and of the model test
SHAPES = [(1, 4, 2, 40, 16)] if CPU else [
    (1, 32, 32, 1024, 128), (1, 32, 32, 4096, 128), (1, 32, 32, 8192, 128), (4, 32, 8, 2048, 128),
    (8, 16, 16, 1024, 64)]
ROUNDS, REPS = (2, 1) if CPU else (7, 20)


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn) -> float:
    """ms per call over REPS calls."""
    if CPU:
        start = time.perf_counter()
        for _ in range(REPS):
            fn()
        return (time.perf_counter() - start) * 1e3 / REPS
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    for _ in range(REPS):
        fn()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end) / REPS


def same_bits_alone_and_padded(module, q, k, v) -> bool:
    """Rows of sequence 0 (its first `length` tokens) causal alone, and in a batch padded to 1.5x under a bool mask."""
    batch, heads, length, d = q.shape
    padded = length + length // 2
    grow = lambda t: torch.cat([t, torch.randn(t.shape[0], t.shape[1], padded - length, d, device=t.device,  # noqa: E731
                                                     dtype=t.dtype)], 2)
    qp, kp, vp = grow(q), grow(k), grow(v)
    lens = torch.full((batch,), length, device=q.device)
    lens[1:] = padded
    keys = torch.arange(padded, device=q.device)[None, :] < lens[:, None]
    mask = torch.ones(padded, padded, dtype=torch.bool, device=q.device).tril()[None, None] & keys[:, None, None, :]
    alone = module.attention(q[:1], k[:1], v[:1], causal=True)
    inside = module.attention(qp, kp, vp, mask)
    return torch.equal(inside[:1, :, :length], alone)


def main() -> None:
    old = load(sys.argv[1], "attention_before_fix")
    new = importlib.import_module("perf_kernels.attention")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    dtype = torch.float16 if CPU else torch.bfloat16
    rows = []
    for batch, heads, kv_heads, length, d in SHAPES:
        g = torch.Generator(device=DEVICE).manual_seed(0)
        q = torch.randn(batch, heads, length, d, device=DEVICE, dtype=dtype, generator=g)
        k = torch.randn(batch, kv_heads, length, d, device=DEVICE, dtype=dtype, generator=g)
        v = torch.randn(batch, kv_heads, length, d, device=DEVICE, dtype=dtype, generator=g)
        calls = {"before": lambda: old.attention(q, k, v, causal=True), "now": lambda: new.attention(q, k, v, causal=True)}
        for fn in calls.values():
            fn()  # compile
        times = {name: [] for name in calls}
        for _ in range(ROUNDS):
            for name, fn in calls.items():
                times[name].append(timed(fn))
        before, now = statistics.median(times["before"]), statistics.median(times["now"])
        flops = new.flops(batch, heads, length, length, d, causal=True)
        rows.append({"shape": f"b{batch} h{heads} kv{kv_heads} L{length} d{d}", "before_ms": before, "now_ms": now,
                     "change": now / before - 1, "now_tflops": flops / (now * 1e-3) / 1e12,
                     "before_equal": same_bits_alone_and_padded(old, q, k, v),
                     "now_equal": same_bits_alone_and_padded(new, q, k, v)})
    device = "cpu (interpreter)" if CPU else torch.cuda.get_device_name()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "attention_fix.json").write_text(json.dumps({"device": device, "dtype": str(dtype), "rows": rows}, indent=1))
    print(f"{device}, {dtype}, causal prefill; median of {ROUNDS} rounds x {REPS} calls, alternated")
    print(f"{'shape':<28} {'before ms':>10} {'now ms':>10} {'change':>8} {'now TFLOP/s':>12} {'bits alone=padded':>18}")
    for r in rows:
        bits = f"{'yes' if r['before_equal'] else 'no'} -> {'yes' if r['now_equal'] else 'no'}"
        print(f"{r['shape']:<28} {r['before_ms']:>10.4f} {r['now_ms']:>10.4f} {r['change']:>+8.1%} "
              f"{r['now_tflops']:>12.1f} {bits:>18}")


if __name__ == "__main__":
    main()
