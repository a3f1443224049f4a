"""Decode attention for MHA (one query head per kv head) on the CUDA cores instead of the tensor cores.

The tensor-core path pads a single query row to 16, so 15/16 of its MMA work and of its softmax's exp2 are spent
on zeros; at batch 64 both our kernel and SDPA's run at the 700 W cap (docs/perf-notes.md section 68), where the
energy per byte sets the clock. `ONE_ROW_DOT = "fma"` computes the row alone in fp32 (kernels/decode_attention.py).

Four parts, one GPU:
  bits     the module's tensor-core path (after the split kernel was cut into two helpers) against the module as it
           was (a copy carried in .r15/), on all 24 decode shapes: equal bits expected
  right    the one-row path against the reference (two sequences per shape) on the 12 MHA shapes
  alone    the one-row path: a sequence alone against the same sequence in batches of 17 and 64 (other lengths)
  speed    ours with "mma", ours with "fma" and SDPA, the suite's timer, two rounds in alternation, 12 MHA shapes
  power    MHA b64 L4k: each called back to back for 2 s with NVML read every 10 ms

    PYTHONPATH=. python3 scripts/decode_one_row_gpu.py OUT/one_row.json
"""

from __future__ import annotations

import importlib.util
import json
import sys

import torch

from perf_kernels import decode_attention as da
from perf import gpus
from perf.measure import timing
from perf.measure.target import Target
from perf.spec import Prepared

sys.path.insert(0, "scripts")
from decode_power_gpu import run_loop, summary  # noqa: E402

D = 128
KINDS = {"mha": (32, 32), "gqa": (32, 8)}
BATCHES, LENGTHS = (1, 8, 64), (1024, 4096, 16384, 32768)


def inputs(kind, batch, length, seed=0):
    heads, kv = KINDS[kind]
    gen = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(batch, heads, D, device="cuda", dtype=torch.bfloat16, generator=gen)
    k = torch.randn(batch, kv, length, D, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(batch, kv, length, D, device="cuda", dtype=torch.bfloat16, generator=gen)
    return q, k, v, torch.full((batch,), length, device="cuda", dtype=torch.int32)


def with_dot(dot, fn):
    da.ONE_ROW_DOT = dot
    try:
        return fn()
    finally:
        da.ONE_ROW_DOT = "mma"


def main() -> None:
    out_path = sys.argv[1]
    spec = importlib.util.spec_from_file_location("decode_before", ".r15/decode_attention_before.py")
    before = importlib.util.module_from_spec(spec)
    sys.modules["decode_before"] = before  # a dataclass looks its module up there
    spec.loader.exec_module(before)
    present = gpus.detect()
    target = Target(gpu=present, present=present)
    settings = timing.TimingSettings(warmup_ms=100.0, min_time_s=0.1, max_time_s=0.6)
    result = {"gpu": present.name, "bits": [], "right": [], "alone": [], "speed": [], "power": []}

    for kind in KINDS:
        for batch in BATCHES:
            for length in LENGTHS:
                q, k, v, lens = inputs(kind, batch, length)
                now = da.decode_attention(q, k, v, lens, check_lens=False)
                was = before.decode_attention(q, k, v, lens, check_lens=False)
                row = {"shape": f"{kind} b{batch} L{length}", "equal": torch.equal(now, was)}
                if kind == "mha":
                    fma = with_dot("fma", lambda: da.decode_attention(q, k, v, lens, check_lens=False))
                    ref = da.reference(q[:2], k[:2], v[:2], lens[:2])
                    row["fma_err"] = (fma[:2].float() - ref).abs().max().item()
                    row["mma_err"] = (now[:2].float() - ref).abs().max().item()
                    row["fma_equals_mma"] = torch.equal(fma, now)
                result["bits"].append(row)
                del q, k, v, now, was
                torch.cuda.empty_cache()

    for length in (1024, 4096, 16384):  # one sequence alone and inside batches of 17 and 64 of other lengths
        for batch in (17, 64):
            q, k, v, _ = inputs("mha", batch, length, seed=length + batch)
            lens = torch.randint(1, length + 1, (batch,), device="cuda", dtype=torch.int32)
            lens[5] = length - 3
            together = with_dot("fma", lambda: da.decode_attention(q, k, v, lens))
            alone = with_dot("fma", lambda: da.decode_attention(q[5:6], k[5:6, :, :length - 3].contiguous(),
                                                                 v[5:6, :, :length - 3].contiguous(), lens[5:6]))
            result["alone"].append({"length": length - 3, "batch": batch, "equal": torch.equal(alone[0], together[5])})
            del q, k, v
            torch.cuda.empty_cache()

    for batch in BATCHES:
        for length in LENGTHS:
            q, k, v, lens = inputs("mha", batch, length)
            out, work = torch.empty_like(q), da.workspace(q, length)

            def ours(dot):
                def fn():
                    da.ONE_ROW_DOT = dot
                    da.decode_attention(q, k, v, lens, out=out, work=work, check_lens=False)
                return fn

            fns = {"mma": ours("mma"), "fma": ours("fma"), "sdpa": lambda: da.torch_sdpa(q, k, v)}
            row = {"shape": f"mha b{batch} L{length}"}
            for rnd in range(2):
                for name in (("mma", "fma", "sdpa") if rnd == 0 else ("sdpa", "fma", "mma")):
                    s = timing.measure(Prepared(fn=fns[name]), target, settings)
                    row.setdefault(name, []).append(1e3 * s.summary().median_ms)
            da.ONE_ROW_DOT = "mma"
            result["speed"].append(row)
            if (batch, length) == (64, 4096):
                for rnd in range(2):
                    for name in (("mma", "fma", "sdpa") if rnd == 0 else ("sdpa", "fma", "mma")):
                        result["power"].append({"name": name, **summary(*run_loop(fns[name], 2.0))})
                da.ONE_ROW_DOT = "mma"
            del q, k, v, out, work
            torch.cuda.empty_cache()

    json.dump(result, open(out_path, "w"), indent=1)
    bits = result["bits"]
    print(f"bits: module's path equals the module before on {sum(r['equal'] for r in bits)} of {len(bits)} shapes")
    mha = [r for r in bits if "fma_err" in r]
    print(f"right: one-row max error {max(r['fma_err'] for r in mha):.2e} (tensor cores {max(r['mma_err'] for r in mha):.2e}); "
          f"bits differ from the tensor cores' on {sum(not r['fma_equals_mma'] for r in mha)} of {len(mha)}")
    print(f"alone: {sum(r['equal'] for r in result['alone'])} of {len(result['alone'])} equal")
    for r in result["power"]:
        print(f"power {r['name']:<5} {r['us']:8.1f} us {r['power_w']:5.0f} W {r['sm_mhz']:6.0f} MHz capped {r['power_capped']:.0%}")
    print(f"{'shape':<16} {'mma us':>8} {'fma us':>8} {'sdpa us':>8} {'sdpa/mma':>9} {'sdpa/fma':>9}")
    for r in result["speed"]:
        med = {n: sorted(r[n])[0] * 0.5 + sorted(r[n])[1] * 0.5 for n in ("mma", "fma", "sdpa")}
        print(f"{r['shape']:<16} {med['mma']:8.2f} {med['fma']:8.2f} {med['sdpa']:8.2f} "
              f"{med['sdpa'] / med['mma']:9.3f} {med['sdpa'] / med['fma']:9.3f}")


if __name__ == "__main__":
    main()
