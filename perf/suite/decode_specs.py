"""Decode-phase benchmarks (family "decode"): the projections at decode-sized M and KV-cache attention.

(1) Decode GEMMs: every projection of a model's layer (QKV, output projection, MLP up/gate/down) and
    the logits, at s = 1 and M = b tokens: M = batch in 1, 2, 4, ..., 256 ("kind": "batch") and M =
    speculative draft lengths 4, 8, 16, 64 at batch 1 ("kind": "draft"). The attention BMMs are left
    out (decode attention is measured on its own below). Their intensity grows with M: a report shows
    where each projection crosses the GPU's ridge and turns compute-bound.
    id: gemm:<model>:<gemm>:<dtype>:m<M>:<kind>     group: decode/gemm:<model>:<gemm>
(2) Decode attention: one new token per sequence against a full KV cache of length L, our Triton kernel
    (provider "triton") against torch scaled_dot_product_attention (provider "torch"), for a
    Llama-3-8B-like GQA shape and an MHA shape.
    id: attention:<provider>:<dtype>:<shape>:b<batch>:L<L>     group: decode/attention:<shape>:b<batch>
"""

from __future__ import annotations

from dataclasses import dataclass

from perf.shape import models
from perf.shape.shapes import DTYPE_BYTES, layer_gemms
from perf.spec import BenchSpec, Prepared
from perf.suite.gemm_specs import gemm_build
from perf.suite.output_check import check_output
from perf.measure.target import Target

DEFAULT_MODELS = ("llama-2-7b", "gpt3-2.7b")
BATCH_M = (1, 2, 4, 8, 16, 32, 64, 128, 256)
DRAFT_M = (4, 8, 16, 64)
SKIPPED_GEMMS = ("attn_score", "attn_over_value")

CPU_MODELS = ("pythia-70m",)
CPU_BATCH_M = (1, 4)
CPU_DRAFT_M = (4,)
CPU_DTYPE = "fp32"


@dataclass(frozen=True)
class AttentionShape:
    name: str
    heads: int
    kv_heads: int
    head_dim: int


GQA = AttentionShape("gqa-h32-kv8-d128", heads=32, kv_heads=8, head_dim=128)  # Llama-3-8B-like
MHA = AttentionShape("mha-h32-kv32-d128", heads=32, kv_heads=32, head_dim=128)
ATTENTION_SHAPES = (GQA, MHA)
LENGTHS = {"compact": (1024, 4096, 16384, 32768), "full": tuple(2**i for i in range(10, 16))}
BATCHES = {"compact": (1, 8, 64), "full": (1, 2, 4, 8, 16, 32, 64)}
PROVIDERS = ("triton", "torch")

CPU_ATTENTION_SHAPES = (AttentionShape("gqa-h4-kv2-d32", heads=4, kv_heads=2, head_dim=32),)
CPU_LENGTHS = (64, 256)
CPU_BATCHES = (1, 2)


# ------------------------------------------------------------------------------------------ decode GEMMs

def gemm_specs(target: Target, model_names: tuple[str, ...] = ()) -> list[BenchSpec]:
    if target.is_cpu:
        names, batch_m, draft_m, dtype = model_names or CPU_MODELS, CPU_BATCH_M, CPU_DRAFT_M, CPU_DTYPE
    else:
        names, batch_m, draft_m, dtype = model_names or DEFAULT_MODELS, BATCH_M, DRAFT_M, target.dtype
    points = [(m, "batch") for m in batch_m] + [(m, "draft") for m in draft_m]
    specs = []
    for name in names:
        model = models.get(name)
        for m, kind in points:
            for g in layer_gemms(model, b=m, s=1):
                if g.name in SKIPPED_GEMMS:
                    continue
                specs.append(BenchSpec(
                    family="decode",
                    id=f"gemm:{name}:{g.name}:{dtype}:m{m}:{kind}",
                    dtype=dtype,
                    flops=g.flops(),
                    bytes=g.bytes(DTYPE_BYTES[dtype]),
                    build=gemm_build(g, dtype),
                    group=f"decode/gemm:{name}:{g.name}",
                    params={"op": "gemm", "model": name, "gemm": g.name, "m": m, "kind": kind,
                            "n": g.n, "k": g.k, "layers": model.layers, "provider": "torch"},
                    requires=() if target.is_cpu else ("gpu",),
                ))
    return specs


# ------------------------------------------------------------------------------------- decode attention

def _attention_build(shape: AttentionShape, batch: int, length: int, dtype: str, provider: str):
    def build(target: Target) -> Prepared:
        import torch

        from perf_kernels import decode_attention as da

        gen = torch.Generator(device=target.device).manual_seed(0)
        tdtype = target.torch_dtype(dtype)
        q = torch.randn((batch, shape.heads, shape.head_dim), device=target.device, dtype=tdtype, generator=gen)
        kv_shape = (batch, shape.kv_heads, length, shape.head_dim)
        k = torch.randn(kv_shape, device=target.device, dtype=tdtype, generator=gen)
        v = torch.randn(kv_shape, device=target.device, dtype=tdtype, generator=gen)
        lens = torch.full((batch,), length, device=target.device, dtype=torch.int32)
        if provider == "triton":
            out = torch.empty_like(q)
            work = da.workspace(q, length)

            def fn():  # every length is the capacity by construction: no lens check (a device sync) while timed
                da.decode_attention(q, k, v, lens, out=out, work=work, check_lens=False)

            def result():
                fn()
                return out
        else:
            def fn():
                return da.torch_sdpa(q, k, v)

            result = fn

        def verify():  # every sequence against the reference, which runs one sequence at a time
            got = result()
            check_output(got, da.reference(q, k, v, lens), dtype,
                         f"decode attention {provider} {shape.name} b{batch} L{length}")

        return Prepared(fn=fn, verify=verify)

    return build


def attention_id(provider: str, dtype: str, shape: AttentionShape, batch: int, length: int) -> str:
    return f"attention:{provider}:{dtype}:{shape.name}:b{batch}:L{length}"


def attention_specs(target: Target) -> list[BenchSpec]:
    from perf_kernels.decode_attention import bytes as attn_bytes
    from perf_kernels.decode_attention import flops as attn_flops

    if target.is_cpu:
        shapes, lengths, batches, providers, dtype = CPU_ATTENTION_SHAPES, CPU_LENGTHS, CPU_BATCHES, ("torch",), CPU_DTYPE
    else:
        shapes, lengths, batches = ATTENTION_SHAPES, LENGTHS[target.sweep], BATCHES[target.sweep]
        providers, dtype = PROVIDERS, target.dtype
    specs = []
    for shape in shapes:
        for batch in batches:
            for length in lengths:
                dims = (batch, shape.heads, shape.kv_heads, length, shape.head_dim)
                for provider in providers:
                    requires = () if target.is_cpu else ("triton",) if provider == "triton" else ("gpu",)
                    specs.append(BenchSpec(
                        family="decode",
                        id=attention_id(provider, dtype, shape, batch, length),
                        dtype=dtype,
                        flops=attn_flops(*dims),
                        bytes=attn_bytes(*dims, DTYPE_BYTES[dtype]),
                        build=_attention_build(shape, batch, length, dtype, provider),
                        group=f"decode/attention:{shape.name}:b{batch}",
                        params={"op": "attention", "provider": provider, "shape": shape.name, "heads": shape.heads,
                                "kv_heads": shape.kv_heads, "head_dim": shape.head_dim, "batch": batch,
                                "L": length},
                        requires=requires,
                    ))
    return specs


def decode_specs(target: Target, model_names: tuple[str, ...] = ()) -> list[BenchSpec]:
    """Every decode benchmark for a target; `model_names` (--model) selects the models of the GEMMs."""
    return gemm_specs(target, model_names) + attention_specs(target)
