"""Kernel benchmarks (family "kernel"): our batch-invariant Triton kernels against the vendor's, over tokens.

For each kernel, our Triton kernel (provider "triton") and the reference provider ("cuBLAS", that is
torch.matmul, for matmul; torch's F.rms_norm / log_softmax / mean / scaled_dot_product_attention,
provider "torch", for the others) over tokens 1, 2, 4, ..., 8192 at hidden 4096; matmul also for the
MLP up shape 4096 -> 14336. attention is causal prefill of one sequence of `tokens` tokens with
hidden / 128 heads of 128 and a quarter as many kv heads (GQA; 32 and 8 at hidden 4096).
A report plots both providers of a group against tokens.

    id:    <kernel>:<provider>:<dtype>:h<hidden>:tok<tokens>            (rms_norm, log_softmax, mean)
           matmul:<provider>:<dtype>:k<hidden>:n<n>:tok<tokens>
    group: kernel/<kernel>:<shape>   shape: h<hidden>, or <hidden>x<n> for matmul

On the CPU device: the torch providers only, tokens 1..64 at hidden 256, fp32 (Triton kernels are not
timed on the CPU; tests/ checks them under the interpreter).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from perf_kernels.dtypes import element_bytes
from perf.spec import BenchSpec, Prepared
from perf.suite.output_check import TOLERANCE, check_output
from perf.measure.target import Target

KERNELS = ("matmul", "rms_norm", "log_softmax", "mean", "attention")
ATTENTION_HEAD_DIM = 128
ATTENTION_CHECKED = 256  # causal: the first queries' outputs need only the first keys; the float64 reference
# over all 8192 tokens would not fit in memory, so verify() compares the first ATTENTION_CHECKED queries
HIDDEN = 4096
MATMUL_N = (4096, 14336)  # square projection; MLP up (Llama-style 4096 -> 14336)
TOKENS_COMPACT = tuple(2**i for i in range(14))  # 1 .. 8192
TOKENS_FULL = tuple(sorted(set(TOKENS_COMPACT) | {3 * 2**i for i in range(12)}))  # adds 3, 6, 12, ..., 6144

CPU_HIDDEN = 256
CPU_TOKENS = (1, 2, 4, 8, 16, 32, 64)
CPU_DTYPE = "fp32"  # bf16 on most CPUs runs through slow fallbacks

RMS_EPS = 1e-6


@dataclass(frozen=True)
class KernelCase:
    kernel: str
    provider: str  # "triton" (ours), "cuBLAS" (torch.matmul on CUDA) or "torch"
    dtype: str
    tokens: int
    hidden: int
    n: int | None = None  # matmul output features

    @property
    def heads(self) -> tuple[int, int, int]:
        """attention: (heads, kv_heads, head_dim)."""
        heads = max(1, self.hidden // ATTENTION_HEAD_DIM)
        return heads, max(1, heads // 4), ATTENTION_HEAD_DIM

    @property
    def shape(self) -> str:
        return f"{self.hidden}x{self.n}" if self.kernel == "matmul" else f"h{self.hidden}"

    @property
    def id(self) -> str:
        if self.kernel == "matmul":
            return f"matmul:{self.provider}:{self.dtype}:k{self.hidden}:n{self.n}:tok{self.tokens}"
        return f"{self.kernel}:{self.provider}:{self.dtype}:h{self.hidden}:tok{self.tokens}"


def kernel_module(kernel: str):
    """perf_kernels.<kernel> as a module (the package exports functions of the same names)."""
    return importlib.import_module(f"perf_kernels.{kernel}")


def reference_provider(kernel: str, target: Target) -> str:
    return "cuBLAS" if kernel == "matmul" and not target.is_cpu else "torch"


def _checker(case: KernelCase, out, expected):
    def verify():
        check_output(out[0], expected(), case.dtype, f"{case.id} against the float64 reference")

    return verify


def _build(case: KernelCase):
    def build(target: Target) -> Prepared:
        import torch
        import torch.nn.functional as F

        module = kernel_module(case.kernel)
        dev, dt = target.device, target.torch_dtype(case.dtype)
        gen = torch.Generator(device=dev).manual_seed(0)
        x = torch.randn((case.tokens, case.hidden), device=dev, dtype=dt, generator=gen)
        ours = case.provider == "triton"
        out: list = [None]  # what the last call produced, for verify()

        if case.kernel == "matmul":
            w = (torch.randn((case.hidden, case.n), device=dev, dtype=dt, generator=gen) / case.hidden**0.5).to(dt)
            y = torch.empty((case.tokens, case.n), device=dev, dtype=dt)
            out[0] = y
            if ours:
                def fn():
                    module.matmul(x, w, out=y)
            else:
                def fn():
                    torch.matmul(x, w, out=y)
            expected = lambda: module.reference(x, w)  # noqa: E731
        elif case.kernel == "rms_norm":
            weight = (1.0 + 0.1 * torch.randn((case.hidden,), device=dev, dtype=torch.float32, generator=gen)).to(dt)
            y = torch.empty_like(x)
            out[0] = y
            if ours:
                def fn():
                    module.rms_norm(x, weight, RMS_EPS, out=y)
            else:
                def fn():
                    out[0] = F.rms_norm(x, (case.hidden,), weight, RMS_EPS)
            expected = lambda: module.reference(x, weight, RMS_EPS)  # noqa: E731
        elif case.kernel == "log_softmax":
            y = torch.empty_like(x)
            out[0] = y
            if ours:
                def fn():
                    module.log_softmax(x, -1, out=y)
            else:
                def fn():
                    out[0] = torch.log_softmax(x, -1)
            expected = lambda: module.reference(x, -1)  # noqa: E731
        elif case.kernel == "mean":
            y = torch.empty((case.tokens,), device=dev, dtype=dt)
            out[0] = y
            if ours:
                def fn():
                    module.mean(x, -1, out=y)
            else:
                def fn():
                    torch.mean(x, -1, out=y)
            expected = lambda: module.reference(x, -1)  # noqa: E731
        elif case.kernel == "attention":
            heads, kv_heads, d = case.heads
            q = torch.randn((1, heads, case.tokens, d), device=dev, dtype=dt, generator=gen)
            k = torch.randn((1, kv_heads, case.tokens, d), device=dev, dtype=dt, generator=gen)
            v = torch.randn((1, kv_heads, case.tokens, d), device=dev, dtype=dt, generator=gen)
            y = torch.empty_like(q)
            head = min(case.tokens, ATTENTION_CHECKED)
            out[0] = y[:, :, :head]
            if ours:
                def fn():
                    module.attention(q, k, v, causal=True, out=y)
            else:
                def fn():
                    out[0] = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)[:, :, :head]
            expected = lambda: module.reference(q[:, :, :head], k[:, :, :head], v[:, :, :head], causal=True)  # noqa: E731
        else:
            raise ValueError(f"kernel_specs: unknown kernel {case.kernel!r}; expected one of {KERNELS}")

        check = _checker(case, out, expected)

        def verify():
            fn()
            check()

        return Prepared(fn=fn, verify=verify)

    return build


def _flops_bytes(case: KernelCase) -> tuple[int, int]:
    module = kernel_module(case.kernel)
    if case.kernel == "matmul":
        return module.flops(case.tokens, case.n, case.hidden), module.bytes(case.tokens, case.n, case.hidden, case.dtype)
    if case.kernel == "attention":
        heads, kv_heads, d = case.heads
        return (module.flops(1, heads, case.tokens, case.tokens, d, causal=True),
                module.bytes(1, heads, kv_heads, case.tokens, case.tokens, d, element_bytes(case.dtype)))
    return module.flops(case.tokens, case.hidden), module.bytes(case.tokens, case.hidden, case.dtype)


def spec_for(case: KernelCase, target: Target) -> BenchSpec:
    flops, nbytes = _flops_bytes(case)
    if target.is_cpu:
        requires: tuple[str, ...] = ()
    else:
        requires = ("triton",) if case.provider == "triton" else ("gpu",)
    params = {"kernel": case.kernel, "provider": case.provider, "tokens": case.tokens, "hidden": case.hidden}
    if case.kernel == "matmul":
        params.update(n=case.n, m=case.tokens, k=case.hidden)
    if case.kernel == "attention":
        params.update(zip(("heads", "kv_heads", "head_dim"), case.heads), causal=True)
    return BenchSpec(
        family="kernel",
        id=case.id,
        dtype=case.dtype,
        flops=flops,
        bytes=nbytes,
        build=_build(case),
        group=f"kernel/{case.kernel}:{case.shape}",
        params=params,
        requires=requires,
    )


def cases(target: Target) -> list[KernelCase]:
    if target.is_cpu:
        hidden, tokens, dtype, ns = CPU_HIDDEN, CPU_TOKENS, CPU_DTYPE, (CPU_HIDDEN,)
        providers = lambda kernel: (reference_provider(kernel, target),)  # noqa: E731
    else:
        hidden, ns = HIDDEN, MATMUL_N
        dtype = target.dtype if target.dtype in TOLERANCE else "bf16"  # the kernels take bf16, fp16, fp32
        tokens = TOKENS_FULL if target.sweep == "full" else TOKENS_COMPACT
        providers = lambda kernel: ("triton", reference_provider(kernel, target))  # noqa: E731
    out = []
    for kernel in KERNELS:
        for n in ns if kernel == "matmul" else (None,):
            for provider in providers(kernel):
                for t in tokens:
                    out.append(KernelCase(kernel, provider, dtype, t, hidden, n))
    return out


def kernel_specs(target: Target) -> list[BenchSpec]:
    return [spec_for(case, target) for case in cases(target)]
