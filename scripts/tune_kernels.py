"""Time the batch-invariant kernels' candidate configs against cuBLAS / torch on one GPU (a few minutes).

    OUT=./out python scripts/tune_kernels.py            # bf16, tokens 1..8192, N in {4096, 14336}, K = 4096
    python scripts/tune_kernels.py --quick              # tokens 1, 64, 1024, 8192 only

Matmul: every candidate config of perf_kernels.matmul, the config the default policy picks, and cuBLAS
(torch.matmul), each timed with triton.testing.do_bench (L2 flushed before each repetition, CUDA
events, median). Every output is verified against cuBLAS (relative L2 error), and compared bit for
bit with the "fixed" policy's config: a candidate whose bits always match it can be picked by M
without breaking batch invariance (the premise of the "bucketed" policy).
Row kernels (rms_norm, log_softmax, mean at hidden 4096): ours against torch and against a
device-to-device copy of the input (the bandwidth ceiling), in GB/s of the fewest bytes moved.

Prints a short table and the targets (matmul >= 0.9x cuBLAS at >= 1024 tokens, >= 0.6x at <= 64;
rms_norm >= 85% of copy bandwidth at >= 1024 tokens; log_softmax and mean >= 80%), and writes every
measurement to $OUT/tune_kernels.csv (OUT defaults to ./out).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKENS = tuple(2**i for i in range(14))
QUICK_TOKENS = (1, 64, 1024, 8192)
MATMUL_N = (4096, 14336)
K = 4096
HIDDEN = 4096
MATMUL_TARGETS = ((lambda t: t >= 1024, 0.9), (lambda t: t <= 64, 0.6))
ROW_TARGETS = {"rms_norm": 0.85, "log_softmax": 0.80, "mean": 0.80}
FIELDS = ("kind", "kernel", "provider", "config", "dtype", "tokens", "n", "k", "hidden", "ms", "tflops", "gbs",
          "vs_reference", "pct_of_copy", "rel_error", "bits_equal_fixed", "selected")


def bench(fn) -> float:
    import triton

    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def rel_error(got, ref) -> float:
    return ((got.float() - ref.float()).norm() / ref.float().norm().clamp_min(1e-30)).item()


def tune_matmul(tokens, rows: list[dict]) -> list[str]:
    import torch

    mm = importlib.import_module("perf_kernels.matmul")
    failures = []
    gen = torch.Generator(device="cuda").manual_seed(0)
    for n in MATMUL_N:
        w = (torch.randn((K, n), device="cuda", generator=gen) / K**0.5).to(torch.bfloat16)
        for t in tokens:
            x = torch.randn((t, K), device="cuda", generator=gen).to(torch.bfloat16)
            ref = torch.empty((t, n), device="cuda", dtype=torch.bfloat16)
            flops = mm.flops(t, n, K)
            nbytes = mm.bytes(t, n, K, "bf16")
            ms_ref = bench(lambda: torch.matmul(x, w, out=ref))
            base = dict(kind="matmul", kernel="matmul", dtype="bf16", tokens=t, n=n, k=K, hidden=K)
            rows.append(dict(base, provider="cuBLAS", config="", ms=ms_ref, tflops=flops / ms_ref / 1e9,
                             gbs=nbytes / ms_ref / 1e6, vs_reference=1.0))
            fixed_cfg = mm.select_config(t, n, K, "bf16", "fixed")
            selected = mm.select_config(t, n, K, "bf16")
            fixed_out = mm.matmul(x, w, config=fixed_cfg)
            for cfg in mm.CANDIDATES:
                out = torch.empty((t, n), device="cuda", dtype=torch.bfloat16)
                try:
                    ms = bench(lambda: mm.matmul(x, w, config=cfg, out=out))
                except Exception as exc:  # out of shared memory on a smaller GPU, say
                    failures.append(f"matmul {cfg.name} t{t} n{n}: {type(exc).__name__}: {exc}")
                    continue
                err = rel_error(out, ref)
                same = bool(torch.equal(out, fixed_out))
                if err > 2e-2:
                    failures.append(f"matmul {cfg.name} t{t} n{n}: relative error {err:.2e} against cuBLAS")
                rows.append(dict(base, provider="triton", config=cfg.name, ms=ms, tflops=flops / ms / 1e9,
                                 gbs=nbytes / ms / 1e6, vs_reference=ms_ref / ms, rel_error=err,
                                 bits_equal_fixed=same, selected=cfg == selected))
    return failures


def tune_rows(tokens, rows: list[dict]) -> list[str]:
    import torch
    import torch.nn.functional as F

    failures = []
    gen = torch.Generator(device="cuda").manual_seed(0)
    weight = (1 + 0.1 * torch.randn((HIDDEN,), device="cuda", generator=gen)).to(torch.bfloat16)
    for kernel in ROW_TARGETS:
        module = importlib.import_module(f"perf_kernels.{kernel}")
        for t in tokens:
            x = torch.randn((t, HIDDEN), device="cuda", generator=gen).to(torch.bfloat16)
            copy_dst = torch.empty_like(x)
            ms_copy = bench(lambda: copy_dst.copy_(x))
            copy_gbs = 2 * x.numel() * 2 / ms_copy / 1e6
            if kernel == "rms_norm":
                y = torch.empty_like(x)
                ours = lambda: module.rms_norm(x, weight, 1e-6, out=y)  # noqa: E731
                theirs = lambda: F.rms_norm(x, (HIDDEN,), weight, 1e-6)  # noqa: E731
                ref = lambda: module.reference(x, weight, 1e-6)  # noqa: E731
            elif kernel == "log_softmax":
                y = torch.empty_like(x)
                ours = lambda: module.log_softmax(x, -1, out=y)  # noqa: E731
                theirs = lambda: torch.log_softmax(x, -1)  # noqa: E731
                ref = lambda: module.reference(x, -1)  # noqa: E731
            else:
                y = torch.empty((t,), device="cuda", dtype=torch.bfloat16)
                ours = lambda: module.mean(x, -1, out=y)  # noqa: E731
                theirs = lambda: torch.mean(x, -1)  # noqa: E731
                ref = lambda: module.reference(x, -1)  # noqa: E731
            ours()
            err = rel_error(y, ref())
            if err > 2e-2:
                failures.append(f"{kernel} t{t}: relative error {err:.2e} against the float64 reference")
            nbytes = module.bytes(t, HIDDEN, "bf16")
            base = dict(kind="row", kernel=kernel, dtype="bf16", tokens=t, hidden=HIDDEN, n="", k="")
            rows.append(dict(base, provider="copy", ms=ms_copy, gbs=copy_gbs, pct_of_copy=1.0))
            for provider, fn in (("torch", theirs), ("triton", ours)):
                ms = bench(fn)
                gbs = nbytes / ms / 1e6
                rows.append(dict(base, provider=provider, ms=ms, gbs=gbs, pct_of_copy=gbs / copy_gbs,
                                 rel_error=err if provider == "triton" else ""))
    return failures


def report(rows: list[dict]) -> list[str]:
    """Print the tables; return the targets missed."""
    missed = []
    print(f"\nmatmul bf16, K={K}: TFLOP/s (do_bench median, cold L2)")
    print(f"{'n':>6} {'tokens':>6} {'cuBLAS':>8} {'selected':>9} {'ratio':>6}  {'best candidate':<20} {'best':>7}  all bits == fixed")
    for n in MATMUL_N:
        for t in sorted({r["tokens"] for r in rows if r["kind"] == "matmul" and r["n"] == n}):
            group = [r for r in rows if r["kind"] == "matmul" and r["n"] == n and r["tokens"] == t]
            cublas = next(r for r in group if r["provider"] == "cuBLAS")
            ours = [r for r in group if r["provider"] == "triton"]
            if not ours:
                continue
            sel = next((r for r in ours if r.get("selected")), None)
            best = max(ours, key=lambda r: r["tflops"])
            ratio = sel["tflops"] / cublas["tflops"] if sel else float("nan")
            same = all(r.get("bits_equal_fixed") for r in ours)
            print(f"{n:>6} {t:>6} {cublas['tflops']:>8.1f} {sel['tflops'] if sel else float('nan'):>9.1f} "
                  f"{ratio:>6.2f}  {best['config']:<20} {best['tflops']:>7.1f}  {'yes' if same else 'NO'}")
            for applies, need in MATMUL_TARGETS:
                if applies(t) and not ratio >= need:
                    missed.append(f"matmul n{n} tokens {t}: {ratio:.2f}x cuBLAS, target {need}x")
    print(f"\nrow kernels bf16, hidden {HIDDEN}: GB/s of the fewest bytes moved (copy: device-to-device)")
    print(f"{'kernel':<12} {'tokens':>6} {'copy':>8} {'torch':>8} {'triton':>8} {'% copy':>7}")
    for kernel, need in ROW_TARGETS.items():
        for t in sorted({r["tokens"] for r in rows if r["kernel"] == kernel}):
            by = {r["provider"]: r for r in rows if r["kernel"] == kernel and r["tokens"] == t}
            pct = by["triton"]["pct_of_copy"]
            print(f"{kernel:<12} {t:>6} {by['copy']['gbs']:>8.0f} {by['torch']['gbs']:>8.0f} "
                  f"{by['triton']['gbs']:>8.0f} {pct:>6.0%}")
            if t >= 1024 and pct < need:
                missed.append(f"{kernel} tokens {t}: {pct:.0%} of copy bandwidth, target {need:.0%}")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"tokens {QUICK_TOKENS} only")
    parser.add_argument("--skip-rows", action="store_true", help="matmul only")
    parser.add_argument("--out", default=os.environ.get("OUT", "./out"), help="folder for tune_kernels.csv ($OUT)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("tune_kernels: needs a CUDA device", file=sys.stderr)
        return 2
    tokens = QUICK_TOKENS if args.quick else TOKENS
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; "
          f"triton {importlib.import_module('triton').__version__}")
    rows: list[dict] = []
    failures = tune_matmul(tokens, rows)
    if not args.skip_rows:
        failures += tune_rows(tokens, rows)
    missed = report(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tune_kernels.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {path} ({len(rows)} rows)")
    for line in failures:
        print(f"VERIFY FAILED: {line}")
    for line in missed:
        print(f"target missed: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
