"""Decode attention on one GPU of a host, where a shape of 1,024-token splits read 11% over its entry on one GPU and
within 1% on its sibling (docs/perf-notes.md section 63): ours and SDPA on those shapes and on controls, ours also with
the grid in batch-first order and with the caches placed at other offsets in memory (the same programs and
arithmetic, so the same bits, checked), timed with the suite's timer, two rounds in alternation. One process per GPU:

    CUDA_VISIBLE_DEVICES=0 PYTHONPATH=. python3 scripts/decode_sibling_gpu.py OUT/gpu0.json
"""

from __future__ import annotations

import json
import sys

import torch

from perf_kernels import decode_attention as da
from perf import gpus
from perf.measure import timing
from perf.measure.target import Target
from perf.spec import Prepared

SHAPES = (("gqa", 32, 8, 8, 16384), ("mha", 32, 32, 1, 32768), ("gqa", 32, 8, 8, 32768), ("gqa", 32, 8, 64, 4096),
          ("mha", 32, 32, 8, 16384), ("gqa", 32, 8, 1, 16384))
OFFSETS_KB = (0, 64, 1024, 4096 + 8)  # where the caches start past the allocation, in KiB (8 KiB keeps 16-byte alignment)
D = 128


def caches(batch, kv, length, offset_kb):
    """K and V of [batch, kv, length, D] at `offset_kb` KiB into a larger allocation (the same values at any offset)."""
    n = batch * kv * length * D
    pad = offset_kb * 1024 // 2
    gen = torch.Generator(device="cuda").manual_seed(0)
    out = []
    for _ in range(2):
        buf = torch.empty(n + pad, device="cuda", dtype=torch.bfloat16)
        buf[pad:] = torch.randn(n, device="cuda", dtype=torch.bfloat16, generator=gen)
        out.append(buf[pad:].view(batch, kv, length, D))
    return out


def main() -> None:
    out_path = sys.argv[1]
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    settings = timing.TimingSettings(warmup_ms=100.0, min_time_s=0.1, max_time_s=0.6)
    bench = lambda fn: timing.measure(Prepared(fn=fn), target, settings).summary().median_ms  # noqa: E731
    rows = []
    for kind, heads, kv, batch, length in SHAPES:
        shape = f"{kind}:b{batch}:L{length}"
        q = torch.randn(batch, heads, D, device="cuda", dtype=torch.bfloat16)
        lens = torch.full((batch,), length, device="cuda", dtype=torch.int32)
        k0, v0 = caches(batch, kv, length, 0)
        default = da.decode_attention(q, k0, v0, lens)
        out, work = torch.empty_like(q), da.workspace(q, length)
        for rnd in range(2):
            for offset in OFFSETS_KB:
                k, v = (k0, v0) if offset == 0 else caches(batch, kv, length, offset)
                for grid in ("split-first", "batch-first"):
                    da.SPLIT_FIRST = grid == "split-first"
                    fn = lambda: da.decode_attention(q, k, v, lens, out=out, work=work, check_lens=False)  # noqa: E731
                    fn()
                    same = torch.equal(out, default)
                    rows.append(dict(shape=shape, round=rnd, variant=f"{grid}@{offset}K", ms=bench(fn), bits_equal=same))
                    da.SPLIT_FIRST = True
                if offset == 0:
                    rows.append(dict(shape=shape, round=rnd, variant="sdpa@0K", ms=bench(lambda: da.torch_sdpa(q, k, v))))
                del k, v
                torch.cuda.empty_cache()
        del k0, v0
        torch.cuda.empty_cache()
    device = torch.cuda.get_device_properties(0)
    doc = dict(device=device.name, uuid=str(getattr(device, "uuid", "")), rows=rows)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
    sdpa = {(r["shape"], r["round"]): r["ms"] for r in rows if r["variant"] == "sdpa@0K"}
    print(f"{doc['uuid'][:12]}: ours (us) by variant, then SDPA; ratio = SDPA / ours")
    for shape in dict.fromkeys(r["shape"] for r in rows):
        cells = []
        for variant in dict.fromkeys(r["variant"] for r in rows if r["shape"] == shape and r["variant"] != "sdpa@0K"):
            ms = sorted(r["ms"] for r in rows if r["shape"] == shape and r["variant"] == variant)
            cells.append(f"{variant} {1e3 * ms[0]:.1f}-{1e3 * ms[-1]:.1f}")
        s = [sdpa[(shape, rnd)] for rnd in range(2)]
        print(f"  {shape:<16} " + "; ".join(cells) + f"; SDPA {1e3 * min(s):.1f}-{1e3 * max(s):.1f}")
    print(f"  bits equal to the default's: {sum(r.get('bits_equal') is True for r in rows)} of "
          f"{sum('bits_equal' in r for r in rows)}")


if __name__ == "__main__":
    main()
