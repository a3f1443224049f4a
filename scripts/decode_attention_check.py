"""GPU check of the decode attention kernel: bandwidth against the measured copy ceiling, speed against
torch SDPA, correctness and bitwise batch invariance; optionally a sweep of the kernel's fixed config.

    python scripts/decode_attention_check.py                 # the module's config, compact shapes
    python scripts/decode_attention_check.py --configs       # also try the candidate configs below
    python scripts/decode_attention_check.py --json out.json

Targets (H100, bf16): >= 80% of the measured copy bandwidth for L >= 4096, and at least as fast as torch
SDPA on the same shapes. Exits 1 when a correctness or invariance check fails (not on a missed target).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from perf_kernels import decode_attention as da  # noqa: E402
from perf import gpus  # noqa: E402
from perf.measure import timing  # noqa: E402
from perf.verdict import roofline
from perf.measure.target import Target  # noqa: E402

SHAPES = {"gqa": (32, 8, 128), "mha": (32, 32, 128)}
LENGTHS = (4096, 16384, 32768)
BATCHES = (1, 8, 64)
# (split, block_n, num_warps, num_stages): the split is fixed for all shapes; this only chooses the constant.
CANDIDATES = ((256, 64, 4, 2), (512, 64, 4, 2), (256, 64, 4, 3), (512, 64, 8, 3), (1024, 64, 4, 2), (128, 32, 4, 2),
              (256, 32, 4, 3))


def _median_ms(target, fn) -> float:
    from perf.spec import Prepared

    return timing.measure(Prepared(fn=fn), target).summary().median_ms


def invariance(dtype=torch.bfloat16) -> str | None:
    """One sequence alone vs inside a batch of 8 with other lengths and a larger capacity: bitwise equal?"""
    heads, kv, d = SHAPES["gqa"]
    gen = torch.Generator(device="cuda").manual_seed(1)
    cap = 9000
    q = torch.randn(8, heads, d, device="cuda", dtype=dtype, generator=gen)
    k = torch.randn(8, kv, cap, d, device="cuda", dtype=dtype, generator=gen)
    v = torch.randn(8, kv, cap, d, device="cuda", dtype=dtype, generator=gen)
    lens = torch.tensor([5000, 1, 9000, 300, 4096, 17, 8191, 2500], device="cuda", dtype=torch.int32)
    together = da.decode_attention(q, k, v, lens)
    for i in range(8):
        n = int(lens[i])
        alone = da.decode_attention(q[i : i + 1], k[i : i + 1, :, :n].contiguous(), v[i : i + 1, :, :n].contiguous(),
                                    lens[i : i + 1])
        if not torch.equal(alone[0], together[i]):
            return f"sequence {i} (L={n}): max diff {(alone[0].float() - together[i].float()).abs().max().item():.3e}"
        ref = da.reference(q[i : i + 1], k[i : i + 1], v[i : i + 1], lens[i : i + 1])[0]
        err = ((together[i].float() - ref).norm() / ref.norm()).item()
        if not err < 2e-2:
            return f"sequence {i} (L={n}): relative error {err:.2e} against the reference"
    return None


def run(target, copy_gbs, configs) -> list[dict]:
    rows = []
    for shape, (heads, kv, d) in SHAPES.items():
        for batch in BATCHES:
            for length in LENGTHS:
                gen = torch.Generator(device="cuda").manual_seed(0)
                q = torch.randn(batch, heads, d, device="cuda", dtype=torch.bfloat16, generator=gen)
                k = torch.randn(batch, kv, length, d, device="cuda", dtype=torch.bfloat16, generator=gen)
                v = torch.randn(batch, kv, length, d, device="cuda", dtype=torch.bfloat16, generator=gen)
                lens = torch.full((batch,), length, device="cuda", dtype=torch.int32)
                nbytes = da.bytes(batch, heads, kv, length, d, 2)
                torch_ms = _median_ms(target, lambda: da.torch_sdpa(q, k, v))
                for split, block_n, warps, stages in configs:
                    out = torch.empty_like(q)
                    work = da.workspace(q, length, split)

                    def fn():
                        da.decode_attention(q, k, v, lens, out=out, work=work, split=split, block_n=block_n,
                                            num_warps=warps, num_stages=stages, check_lens=False)  # lens = length

                    ms = _median_ms(target, fn)
                    gbs = nbytes / ms / 1e6
                    rows.append({"shape": shape, "batch": batch, "L": length, "split": split, "block_n": block_n,
                                 "num_warps": warps, "num_stages": stages, "ms": ms, "gbs": gbs,
                                 "pct_copy_bw": 100 * gbs / copy_gbs, "torch_ms": torch_ms,
                                 "speedup_vs_torch": torch_ms / ms})
                    r = rows[-1]
                    print(f"{shape} b{batch:<3d} L{length:<6d} split {split:<4d} bn {block_n:<3d} w{warps} s{stages}: "
                          f"{ms:8.4f} ms {gbs:7.0f} GB/s {r['pct_copy_bw']:5.1f}% of copy; torch {torch_ms:8.4f} ms "
                          f"({r['speedup_vs_torch']:.2f}x)", flush=True)
                del q, k, v
                torch.cuda.empty_cache()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", action="store_true", help="also time the candidate configs")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    present = gpus.detect()
    if not present.is_gpu:
        print("needs a GPU")
        return 2
    target = Target(gpu=present, present=present)
    ceilings = roofline.measure_ceilings(target, lambda p: timing.measure(p, target).summary().median_ms)
    print(f"{present.name}: measured copy {ceilings.bandwidth_gbs:.0f} GB/s (spec {present.mem_bw_gbs:.0f}); "
          f"bf16 matmul {ceilings.peak('bf16'):.0f} TFLOP/s (spec {present.peak('bf16')})")
    failure = invariance()
    print("batch invariance and correctness:", failure or "ok (bitwise across batch and lengths)")
    module_config = (da.SPLIT, da.BLOCK_N, da.NUM_WARPS, None)
    configs = [module_config] + ([c for c in CANDIDATES if c != module_config] if args.configs else [])
    rows = run(target, ceilings.bandwidth_gbs, configs)
    for config in configs:
        sel = [r for r in rows if (r["split"], r["block_n"], r["num_warps"], r["num_stages"]) == config]
        met = [r for r in sel if r["pct_copy_bw"] >= 80 and r["speedup_vs_torch"] >= 1.0]
        print(f"config split={config[0]} block_n={config[1]} warps={config[2]} stages={config[3]}: "
              f"{len(met)}/{len(sel)} shapes meet both targets; mean {sum(r['pct_copy_bw'] for r in sel)/len(sel):.1f}% "
              f"of copy bandwidth")
    if args.json:
        Path(args.json).write_text(json.dumps({"copy_gbs": ceilings.bandwidth_gbs, "invariance": failure,
                                               "rows": rows}, indent=1))
    return 1 if failure else 0


if __name__ == "__main__":
    raise SystemExit(main())
