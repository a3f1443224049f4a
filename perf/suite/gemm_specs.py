"""The transformer-layer GEMMs of the registered models as benchmark specs (paper Table II).

Each (model, GEMM, dtype, b, s, t) is one spec; its id is `model:gemm:dtype:b<b>:s<s>:t<t>`.
The workloads are listed here explicitly; `--model` adds or selects any registered model.
"""

from __future__ import annotations

from dataclasses import dataclass

from perf.shape import models
from perf.shape.shapes import DTYPE_BYTES, Gemm, layer_gemms
from perf.spec import BenchSpec, Prepared
from perf.suite.output_check import check_output
from perf.measure.target import Target


@dataclass(frozen=True)
class Workload:
    model: str
    b: int
    s: int
    t: int = 1


# What a GPU run measures by default: the paper's 2.7B variants (Figure 1), a Pythia size, Llama-2-7B.
GPU_WORKLOADS = (
    Workload("gpt3-2.7b", b=4, s=2048),
    Workload("gpt3-2.7b-a20", b=4, s=2048),
    Workload("paper-c1", b=4, s=2048),
    Workload("paper-c2", b=4, s=2048),
    Workload("pythia-1b", b=4, s=2048),
    Workload("llama-2-7b", b=2, s=4096),
)
# On the CPU device: one small model at a short sequence, so that the whole flow runs in seconds.
CPU_WORKLOADS = (Workload("pythia-70m", b=1, s=64),)
CPU_DTYPE = "fp32"  # bf16 matmuls on most CPUs run through slow fallbacks


def gemm_id(model: str, gemm: str, dtype: str, w: Workload) -> str:
    return f"{model}:{gemm}:{dtype}:b{w.b}:s{w.s}:t{w.t}"


def gemm_build(g: Gemm, dtype: str):
    """How to build the timed torch.matmul of one GEMM (any batch, m, n, k) on the target, with its check."""

    def build(target: Target) -> Prepared:
        import torch

        gen = torch.Generator(device=target.device).manual_seed(0)
        tdtype = target.torch_dtype(dtype)
        shape_a = (g.batch, g.m, g.k) if g.batch > 1 else (g.m, g.k)
        shape_b = (g.batch, g.k, g.n) if g.batch > 1 else (g.k, g.n)
        a = torch.randn(shape_a, device=target.device, dtype=tdtype, generator=gen)
        b = torch.randn(shape_b, device=target.device, dtype=tdtype, generator=gen)
        out = torch.empty((*shape_a[:-1], g.n), device=target.device, dtype=tdtype)

        def fn():
            torch.matmul(a, b, out=out)

        def verify():
            fn()
            check_output(out, torch.matmul(a.float(), b.float()), dtype, f"{g.name} {g.shape}")

        return Prepared(fn=fn, verify=verify)

    return build


def specs_for(w: Workload, dtype: str) -> list[BenchSpec]:
    return specs_for_config(models.get(w.model), w, dtype)


def specs_for_config(model: models.ModelConfig, w: Workload, dtype: str) -> list[BenchSpec]:
    """The layer's GEMM specs for any ModelConfig (registered or not, e.g. a `perf advise` candidate);
    `w.model` names it in the ids."""
    elem = DTYPE_BYTES[dtype]
    return [
        BenchSpec(
            family="gemm",
            id=gemm_id(w.model, g.name, dtype, w),
            dtype=dtype,
            flops=g.flops(),
            bytes=g.bytes(elem),
            build=gemm_build(g, dtype),
            group=f"gemm/{w.model}",
            params={"model": w.model, "gemm": g.name, "b": w.b, "s": w.s, "t": w.t,
                    "m": g.m, "n": g.n, "k": g.k, "batch": g.batch, "provider": "torch"},
        )
        for g in layer_gemms(model, w.b, w.s, w.t)
    ]


def gemm_specs(target: Target, model_names: tuple[str, ...] = ()) -> list[BenchSpec]:
    """The GEMM specs for a target; `model_names` (from --model) selects or adds registered models."""
    defaults = CPU_WORKLOADS if target.is_cpu else GPU_WORKLOADS
    dtype = CPU_DTYPE if target.is_cpu else target.dtype
    if model_names:
        by_name = {w.model: w for w in defaults}
        template = defaults[0]
        workloads = [by_name.get(n, Workload(n, b=template.b, s=template.s)) for n in model_names]
    else:
        workloads = list(defaults)
    return [spec for w in workloads for spec in specs_for(w, dtype)]
