"""Batch-invariant kernels and a real model under batch_invariant(), side by side with the vendor's, in one process.

    OUT=out PYTHONPATH=. python scripts/invariance_gpu.py          # one H200/H100, bf16, about 4 minutes
    TRITON_INTERPRET=1 PYTHONPATH=. python scripts/invariance_gpu.py --smoke   # tiny shapes on the CPU: the code paths

1. matmul: ours (the default policy's choice, every candidate config of perf_kernels.matmul, and the "fixed"
   policy) against cuBLAS (torch.matmul) at M in {1, 16, 64, 1024, 4096} for the Llama-2-7B (N, K) shapes;
   each output checked against cuBLAS, and each candidate's bits compared with the default's.
2. decode attention (perf_kernels.decode_attention) against torch SDPA on the suite's decode shapes; prefill
   attention (perf_kernels.attention, causal GQA) against SDPA at 1k-8k tokens.
3. rms_norm, log_softmax, mean: GB/s of ours and torch's against a device-to-device copy of the input,
   at 1024 and 8192 tokens, hidden 4096.
4. Hugging Face Llama (hidden 2048, 16 heads, 4 KV heads, 4 layers) and GPT-2 (hidden 2048, 16 heads, 4 layers)
   with and without batch_invariant(): a prompt's logits alone vs inside batches of 2..64 other prompts
   (bitwise equal?, max |diff|), and tokens/s of a batch of 64 prompts, prefill + 8 greedy steps.

Kernel timings: triton.testing.do_bench (L2 flushed before each repetition, CUDA events, median). Writes
$OUT/invariance_gpu.json and $OUT/invariance_gpu.csv; prints a short table last.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

M_VALUES = (1, 16, 64, 1024, 4096)
LLAMA7B_NK = {"qkv": (12288, 4096), "o": (4096, 4096), "gate_up": (22016, 4096), "down": (4096, 11008),
              "logits": (32000, 4096)}
ROW_TOKENS = (1024, 8192)
HIDDEN = 4096
PREFILL_TOKENS = (1024, 4096, 8192)
FIELDS = ("part", "name", "provider", "config", "shape", "ms", "tflops", "gbs", "vs_reference", "pct_of_copy",
          "rel_error", "bits_equal_default")


def _timer(smoke: bool):
    if smoke:
        def host(fn):
            fn()
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1e3
        return host
    import triton

    return lambda fn: triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def _rel(got, ref) -> float:
    return ((got.float() - ref.float()).norm() / ref.float().norm().clamp_min(1e-30)).item()


def matmuls(rows, bench, dev, dtype, smoke):
    import torch

    from perf_kernels.invariance import bitwise_equal

    mm = importlib.import_module("perf_kernels.matmul")
    shapes = {"o": (64, 64)} if smoke else LLAMA7B_NK
    ms_values = (1, 16, 80) if smoke else M_VALUES
    configs = (None, *(() if smoke else mm.CANDIDATES))
    gen = torch.Generator(device=dev).manual_seed(0)
    for name, (n, k) in shapes.items():
        w = (torch.randn((k, n), device=dev, generator=gen) / k**0.5).to(dtype)
        for m in ms_values:
            x = torch.randn((m, k), device=dev, generator=gen).to(dtype)
            ref = torch.matmul(x, w)
            flops = mm.flops(m, n, k)
            t_ref = bench(lambda: torch.matmul(x, w))
            shape = f"m{m}:n{n}:k{k}"
            rows.append(dict(part="matmul", name=name, provider="cuBLAS", config="", shape=shape, ms=t_ref,
                             tflops=flops / t_ref / 1e9))
            default = mm.matmul(x, w)
            variants = [(c, c.name if c else f"default:{mm.select_config(m, n, k, 'bf16').name}") for c in configs]
            variants.append((mm.select_config(m, n, k, "bf16", "fixed"), "policy:fixed"))
            for cfg, label in variants:
                out = mm.matmul(x, w, config=cfg)
                t = bench(lambda: mm.matmul(x, w, config=cfg))
                rows.append(dict(part="matmul", name=name, provider="triton", config=label, shape=shape, ms=t,
                                 tflops=flops / t / 1e9, vs_reference=t_ref / t, rel_error=_rel(out, ref),
                                 bits_equal_default=bitwise_equal(out, default)))


def attentions(rows, bench, dev, dtype, smoke):
    import torch
    import torch.nn.functional as F

    da = importlib.import_module("perf_kernels.decode_attention")
    att = importlib.import_module("perf_kernels.attention")
    from perf.suite.decode_specs import ATTENTION_SHAPES, BATCHES, LENGTHS, AttentionShape

    shapes = (AttentionShape("gqa-h4-kv2-d32", 4, 2, 32),) if smoke else ATTENTION_SHAPES
    batches, lengths = ((1, 2), (64, 300)) if smoke else (BATCHES["compact"], LENGTHS["compact"])
    gen = torch.Generator(device=dev).manual_seed(0)
    for s in shapes:
        for b in batches:
            for length in lengths:
                q = torch.randn((b, s.heads, s.head_dim), device=dev, generator=gen).to(dtype)
                k = torch.randn((b, s.kv_heads, length, s.head_dim), device=dev, generator=gen).to(dtype)
                v = torch.randn_like(k)
                lens = torch.full((b,), length, dtype=torch.int32, device=dev)
                out, work = torch.empty_like(q), da.workspace(q, length)
                nbytes = da.bytes(b, s.heads, s.kv_heads, length, s.head_dim, q.element_size())
                t_ref = bench(lambda: da.torch_sdpa(q, k, v))
                t = bench(lambda: da.decode_attention(q, k, v, lens, out=out, work=work))
                err = _rel(out, da.torch_sdpa(q, k, v))
                shape = f"{s.name}:b{b}:L{length}"
                rows.append(dict(part="decode_attention", name=s.name, provider="torch", shape=shape, ms=t_ref,
                                 gbs=nbytes / t_ref / 1e6))
                rows.append(dict(part="decode_attention", name=s.name, provider="triton", shape=shape, ms=t,
                                 gbs=nbytes / t / 1e6, vs_reference=t_ref / t, rel_error=err))
                del k, v
    heads, kv_heads, d = (4, 2, 32) if smoke else (32, 8, 128)
    for tokens in ((40,) if smoke else PREFILL_TOKENS):
        q = torch.randn((1, heads, tokens, d), device=dev, generator=gen).to(dtype)
        k = torch.randn((1, kv_heads, tokens, d), device=dev, generator=gen).to(dtype)
        v = torch.randn_like(k)
        flops = att.flops(1, heads, tokens, tokens, d, causal=True)
        t_ref = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))
        t = bench(lambda: att.attention(q, k, v, causal=True))
        err = _rel(att.attention(q, k, v, causal=True),
                   F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True))
        shape = f"h{heads}-kv{kv_heads}-d{d}:tok{tokens}"
        rows.append(dict(part="prefill_attention", name="causal-gqa", provider="torch", shape=shape, ms=t_ref,
                         tflops=flops / t_ref / 1e9))
        rows.append(dict(part="prefill_attention", name="causal-gqa", provider="triton", shape=shape, ms=t,
                         tflops=flops / t / 1e9, vs_reference=t_ref / t, rel_error=err))


def row_kernels(rows, bench, dev, dtype, smoke):
    import torch
    import torch.nn.functional as F

    from perf_kernels import log_softmax, mean, rms_norm

    hidden = 256 if smoke else HIDDEN
    gen = torch.Generator(device=dev).manual_seed(0)
    for tokens in ((4, 16) if smoke else ROW_TOKENS):
        x = torch.randn((tokens, hidden), device=dev, generator=gen).to(dtype)
        w = torch.ones(hidden, device=dev, dtype=dtype)
        dst = torch.empty_like(x)
        t_copy = bench(lambda: dst.copy_(x))
        copy_gbs = 2 * x.numel() * x.element_size() / t_copy / 1e6
        rows.append(dict(part="rows", name="copy", provider="torch", shape=f"h{hidden}:tok{tokens}", ms=t_copy,
                         gbs=copy_gbs, pct_of_copy=100.0))
        cases = {
            "rms_norm": (lambda: rms_norm(x, w, 1e-6, out=dst), lambda: F.rms_norm(x, (hidden,), w, 1e-6)),
            "log_softmax": (lambda: log_softmax(x, -1, out=dst), lambda: torch.log_softmax(x, -1)),
            "mean": (lambda: mean(x, -1), lambda: torch.mean(x, -1)),
        }
        for name, (ours, theirs) in cases.items():
            module = importlib.import_module(f"perf_kernels.{name}")
            nbytes = module.bytes(tokens, hidden, "bf16" if dtype == torch.bfloat16 else "fp16")
            t_ref, t = bench(theirs), bench(ours)
            shape = f"h{hidden}:tok{tokens}"
            rows.append(dict(part="rows", name=name, provider="torch", shape=shape, ms=t_ref, gbs=nbytes / t_ref / 1e6,
                             pct_of_copy=100 * nbytes / t_ref / 1e6 / copy_gbs))
            rows.append(dict(part="rows", name=name, provider="triton", shape=shape, ms=t, gbs=nbytes / t / 1e6,
                             vs_reference=t_ref / t, pct_of_copy=100 * nbytes / t / 1e6 / copy_gbs))


def models(rows, dev, dtype, smoke):
    import torch

    from perf.suite.hf_generation import ARCHS, build_model, greedy, prompts
    from perf.suite.model_invariance_specs import _mode, check, generated_tokens, plan
    from perf.gpus import CPU, detect
    from perf.measure.target import Target

    present = CPU if smoke else detect()
    target = Target(gpu=present, present=present)
    p = plan(target)
    if smoke:
        p = dataclasses.replace(p, steps=1, others=(1,), throughput_batch=2)
    findings = []
    for arch in ARCHS:
        dims = p.dims[arch]
        model = build_model(dims, dtype, dev)
        verdicts = {}
        for mode, key in (("invariant", p.dispatch_key), ("torch", None)):
            comparisons = check(model, p, dims.vocab, key)
            batch = prompts(p.throughput_batch, dims.vocab, p.prompt_lengths, seed=1)
            with _mode(key):
                greedy(model, batch, p.steps)  # warm-up: compilation, allocator
                if not smoke:
                    torch.cuda.synchronize()
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    for _ in range(3):
                        greedy(model, batch, p.steps)
                    end.record()
                    torch.cuda.synchronize()
                    seconds = start.elapsed_time(end) / 3e3
                else:
                    begin = time.perf_counter()
                    greedy(model, batch, p.steps)
                    seconds = time.perf_counter() - begin
            tokens_per_s = generated_tokens(p) / seconds
            equal = all(c.equal for c in comparisons)
            diff = max(c.max_abs_diff for c in comparisons)
            verdicts[mode] = (equal, diff, tokens_per_s)
            findings.append({"arch": arch, "model": dims.name, "mode": mode, "bitwise_equal": equal,
                             "max_abs_diff": diff, "tokens_per_s": tokens_per_s,
                             "batches": [c.as_dict() for c in comparisons]})
            rows.append(dict(part="model", name=dims.name, provider=mode, shape=f"b{p.throughput_batch}:steps{p.steps}",
                             ms=seconds * 1e3, bits_equal_default=equal, rel_error=diff))
        del model
    return findings


def summary(rows, findings) -> list[str]:
    lines = []
    mm = [r for r in rows if r["part"] == "matmul" and r["provider"] == "triton" and r["config"].startswith("default")]
    if mm:
        lines.append("matmul (default policy) / cuBLAS, bf16:")
        for m in sorted({int(r["shape"].split(":")[0][1:]) for r in mm}):
            ratios = [f"{r['name']} {r['vs_reference']:.2f}x" for r in mm if r["shape"].startswith(f"m{m}:")]
            lines.append(f"  M={m:<5} " + "  ".join(ratios))
        best = {}
        for r in rows:
            if r["part"] == "matmul" and r["provider"] == "triton":
                m = r["shape"].split(":")[0]
                if r["vs_reference"] > best.get(m, ("", 0.0))[1]:
                    best[m] = (f"{r['config']} on {r['name']}", r["vs_reference"])
        lines.append("  best single candidate per M: " + "; ".join(f"{m} {c} {v:.2f}x" for m, (c, v) in best.items()))
    dec = [r["vs_reference"] for r in rows if r["part"] == "decode_attention" and r["provider"] == "triton"]
    if dec:
        dec.sort()
        lines.append(f"decode attention / SDPA: min {dec[0]:.2f}x, median {dec[len(dec) // 2]:.2f}x, max {dec[-1]:.2f}x "
                     f"over {len(dec)} shapes")
    pre = [r for r in rows if r["part"] == "prefill_attention" and r["provider"] == "triton"]
    if pre:
        lines.append("prefill attention / SDPA: " + "  ".join(f"{r['shape'].split(':')[1]} {r['vs_reference']:.2f}x" for r in pre))
    for r in rows:
        if r["part"] == "rows" and r["provider"] == "triton":
            lines.append(f"{r['name']:<12} {r['shape']:<14} {r['gbs']:7.0f} GB/s = {r['pct_of_copy']:5.1f}% of copy, "
                         f"{r['vs_reference']:.2f}x torch")
    for f in findings:
        lines.append(f"{f['model']:<24} {f['mode']:<9} bitwise equal: {'yes' if f['bitwise_equal'] else 'no':<3} "
                     f"max|diff| {f['max_abs_diff']:.3e}  {f['tokens_per_s']:9.1f} tokens/s")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU under TRITON_INTERPRET=1")
    parser.add_argument("--parts", default="matmul,attention,rows,models",
                        help="comma-separated: matmul, attention, rows, models (default all)")
    args = parser.parse_args(argv)
    import torch

    parts = set(args.parts.split(","))
    unknown = parts - {"matmul", "attention", "rows", "models"}
    if unknown:
        print(f"invariance_gpu.py: --parts: unknown {sorted(unknown)}; expected matmul, attention, rows, models",
              file=sys.stderr)
        return 2
    if not args.smoke and not torch.cuda.is_available():
        print("invariance_gpu.py: needs a CUDA device (or --smoke on the CPU under TRITON_INTERPRET=1)", file=sys.stderr)
        return 2
    dev = "cpu" if args.smoke else "cuda"
    dtype = torch.float16 if args.smoke else torch.bfloat16
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    bench = _timer(args.smoke)
    rows: list[dict] = []
    findings: list[dict] = []
    started = time.perf_counter()
    for part, run in (("matmul", lambda: matmuls(rows, bench, dev, dtype, args.smoke)),
                      ("attention", lambda: attentions(rows, bench, dev, dtype, args.smoke)),
                      ("rows", lambda: row_kernels(rows, bench, dev, dtype, args.smoke)),
                      ("models", lambda: findings.extend(models(rows, dev, dtype, args.smoke)))):
        if part in parts:
            t0 = time.perf_counter()
            run()
            print(f"[{part}] {time.perf_counter() - t0:.0f} s", flush=True)
    device = torch.cuda.get_device_name() if not args.smoke else "cpu (smoke)"
    doc = {"device": device, "torch": torch.__version__, "seconds": time.perf_counter() - started, "rows": rows,
           "models": findings}
    tmp = out / "invariance_gpu.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, out / "invariance_gpu.json")
    tmp = out / "invariance_gpu.csv.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in FIELDS})
    os.replace(tmp, out / "invariance_gpu.csv")
    print(f"\n{device}, torch {torch.__version__}, {doc['seconds']:.0f} s; everything in {out}/invariance_gpu.json, .csv")
    for line in summary(rows, findings):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
