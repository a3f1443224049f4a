"""Does where the caches are allocated make a short decode call faster? Decode MHA b1 L1k (triton) read 9.8-9.9 us
inside three whole-suite runs with workers and 11.2 us everywhere else, and MHA b1 L4k 5.9% under its entry in one
(docs/perf-notes.md sections 59, 65, 71): about 1.4 us less on both, in the split kernel. Workers run the long
benchmarks first, so by then PyTorch's caching allocator holds large freed segments, and new tensors are cut from
them rather than from fresh 20 MB segments. The L2 flush before each call also evicts the address translations of
the caches; a large segment may be mapped in larger pages (fewer misses).

One variant per process (`VARIANT` below), the same four benchmarks timed with the suite's timer:
  fresh      inputs built in a fresh process
  segment    a 40 GiB tensor allocated and freed first (its segment stays cached): the inputs are cut from it
  released   the same, then torch.cuda.empty_cache() before the inputs are built
  expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (set by the caller), inputs built fresh

    VARIANT=segment PYTHONPATH=. python3 scripts/decode_allocation_gpu.py OUT/segment.json
"""

from __future__ import annotations

import json
import os
import sys

import torch

from perf import gpus
from perf.measure import timing
from perf.measure.target import Target
from perf.suite.decode_specs import attention_specs

KEYS = ("decode/attention:triton:bf16:mha-h32-kv32-d128:b1:L1024",
        "decode/attention:torch:bf16:mha-h32-kv32-d128:b1:L1024",
        "decode/attention:triton:bf16:mha-h32-kv32-d128:b1:L4096",
        "decode/attention:triton:bf16:gqa-h32-kv8-d128:b1:L1024")


def main() -> None:
    variant = os.environ.get("VARIANT", "fresh")
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    if variant in ("segment", "released"):
        big = torch.empty(40 * 2**30, dtype=torch.int8, device="cuda")
        big.zero_()
        del big
        if variant == "released":
            torch.cuda.empty_cache()
    specs = {s.key: s for s in attention_specs(target)}
    rows = []
    for key in KEYS:
        prepared = specs[key].build(target)
        medians, shares = [], {}
        for _ in range(3):
            s = timing.measure(prepared, target)
            medians.append(1e3 * s.summary().median_ms)
            for name, ms in s.kernel_ms.items():
                shares.setdefault(name, []).append(1e3 * ms)
        rows.append({"key": key, "medians_us": medians, "kernel_us": shares,
                     "segments": torch.cuda.memory_stats().get("segment.all.current")})
        del prepared
    json.dump({"variant": variant, "gpu": present.name, "rows": rows}, open(sys.argv[1], "w"), indent=1)
    for r in rows:
        parts = ", ".join(f"{name[:22]} {sorted(v)[1]:.2f}" for name, v in r["kernel_us"].items())
        print(f"{variant:<10} {r['key'][17:]:<48} {' '.join(f'{m:6.2f}' for m in r['medians_us'])}   {parts}")


if __name__ == "__main__":
    main()
