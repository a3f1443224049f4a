"""One decode shape, ours and SDPA, each called a few times: the workload a profiler (Nsight Compute) attaches to.

    PYTHONPATH=. python3 scripts/decode_profile_gpu.py [--batch 64 --heads 32 --kv-heads 8 --length 4096]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

da = importlib.import_module("perf_kernels.decode_attention")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    d = 128
    q = torch.randn(args.batch, args.heads, d, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(args.batch, args.kv_heads, args.length, d, device="cuda", dtype=torch.bfloat16)
    v = torch.randn_like(k)
    lens = torch.full((args.batch,), args.length, device="cuda", dtype=torch.int32)
    out, work = torch.empty_like(q), da.workspace(q, args.length)
    for _ in range(args.calls):
        da.decode_attention(q, k, v, lens, out=out, work=work, check_lens=False)
        da.torch_sdpa(q, k, v)
    torch.cuda.synchronize()
    print("done", tuple(k.shape))


if __name__ == "__main__":
    main()
