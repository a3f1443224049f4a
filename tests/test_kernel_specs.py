"""The kernel benchmark specs: which exist on each target, their ids, groups, params, FLOPs and bytes."""

import importlib
from collections import Counter

import pytest

from perf.gpus import CPU, resolve
from perf.measure.requirements import unmet
from perf.suite.kernel_specs import (
    HIDDEN,
    KERNELS,
    TOKENS_COMPACT,
    TOKENS_FULL,
    kernel_specs,
)
from perf.measure.target import Target

H100 = resolve("H100")
GPU = Target(gpu=H100, present=H100)
GPU_FULL = Target(gpu=H100, present=H100, sweep="full")
ON_CPU = Target(gpu=CPU, present=CPU)


def test_gpu_specs_cover_every_kernel_provider_and_token_count():
    specs = kernel_specs(GPU)
    assert TOKENS_COMPACT == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
    # matmul: 2 shapes x 2 providers x 14 token counts; the row kernels and attention: 2 providers x 14.
    assert len(specs) == 2 * 2 * 14 + 4 * 2 * 14
    assert len({s.key for s in specs}) == len(specs)
    by_group = Counter(s.group for s in specs)
    assert by_group == {
        "kernel/matmul:4096x4096": 28, "kernel/matmul:4096x14336": 28,
        "kernel/rms_norm:h4096": 28, "kernel/log_softmax:h4096": 28, "kernel/mean:h4096": 28,
        "kernel/attention:h4096": 28,
    }
    providers = {(s.params["kernel"], s.params["provider"]) for s in specs}
    assert providers == {("matmul", "triton"), ("matmul", "cuBLAS")} | {
        (k, p) for k in ("rms_norm", "log_softmax", "mean", "attention") for p in ("triton", "torch")}
    for s in specs:
        assert s.family == "kernel" and s.dtype == "bf16"
        assert {"kernel", "provider", "tokens", "hidden"} <= set(s.params) and s.params["hidden"] == HIDDEN
        assert s.requires == (("triton",) if s.params["provider"] == "triton" else ("gpu",))
        assert unmet(s.requires, GPU) is None and unmet(s.requires, ON_CPU) is not None


def test_ids_are_readable_and_stable():
    ids = {s.id for s in kernel_specs(GPU)}
    assert "matmul:triton:bf16:k4096:n14336:tok1024" in ids
    assert "matmul:cuBLAS:bf16:k4096:n4096:tok1" in ids
    assert "rms_norm:triton:bf16:h4096:tok1024" in ids
    assert "log_softmax:torch:bf16:h4096:tok8192" in ids
    assert "mean:triton:bf16:h4096:tok64" in ids


def test_flops_and_bytes_come_from_the_kernel_modules():
    specs = {s.id: s for s in kernel_specs(GPU)}
    mm = specs["matmul:triton:bf16:k4096:n14336:tok1024"]
    # 2 * 1024 * 14336 * 4096 FLOPs; (1024*4096 + 4096*14336 + 1024*14336) * 2 bytes
    assert mm.flops == 2 * 1024 * 14336 * 4096 == 120_259_084_288
    assert mm.bytes == (1024 * 4096 + 4096 * 14336 + 1024 * 14336) * 2 == 155_189_248
    assert mm.params["n"] == 14336 and mm.params["tokens"] == 1024
    rms = specs["rms_norm:torch:bf16:h4096:tok8"]
    assert (rms.flops, rms.bytes) == (4 * 8 * 4096, (2 * 8 * 4096 + 4096) * 2)
    for s in specs.values():
        module = importlib.import_module(f"perf_kernels.{s.params['kernel']}")
        if s.params["kernel"] == "matmul":
            want = (module.flops(s.params["tokens"], s.params["n"], s.params["hidden"]),
                    module.bytes(s.params["tokens"], s.params["n"], s.params["hidden"], s.dtype))
        elif s.params["kernel"] == "attention":
            t, h, kv, d = s.params["tokens"], s.params["heads"], s.params["kv_heads"], s.params["head_dim"]
            assert (h, kv, d) == (32, 8, 128) and s.params["causal"]
            want = (module.flops(1, h, t, t, d, causal=True), module.bytes(1, h, kv, t, t, d, 2))
        else:
            want = (module.flops(s.params["tokens"], s.params["hidden"]),
                    module.bytes(s.params["tokens"], s.params["hidden"], s.dtype))
        assert (s.flops, s.bytes) == want, s.id


def test_full_sweep_adds_in_between_token_counts():
    compact = {s.id for s in kernel_specs(GPU)}
    full = kernel_specs(GPU_FULL)
    assert compact < {s.id for s in full}
    tokens = sorted({s.params["tokens"] for s in full})
    assert tokens == list(TOKENS_FULL) and {3, 6, 12, 48, 6144} <= set(tokens) and max(tokens) == 8192


def test_cpu_specs_are_small_torch_only_and_run():
    specs = kernel_specs(ON_CPU)
    assert {s.params["provider"] for s in specs} == {"torch"}
    assert {s.params["tokens"] for s in specs} == {1, 2, 4, 8, 16, 32, 64}
    assert {s.params["hidden"] for s in specs} == {256}
    assert {s.params["kernel"] for s in specs} == set(KERNELS)
    assert all(s.requires == () and s.dtype == "fp32" for s in specs)
    for s in specs:
        if s.params["tokens"] in (1, 64):
            prepared = s.build(ON_CPU)
            prepared.verify()  # runs fn once and checks it against the kernel module's reference
            prepared.fn()


def test_triton_spec_builds_and_verifies_under_the_interpreter(monkeypatch):
    # A GPU spec of ours, built on CPU tensors: the interpreter runs the kernel; verify() must pass.
    from perf.suite.kernel_specs import KernelCase, spec_for

    cpu_like = Target(gpu=CPU, present=CPU, dtype="fp32")
    for case in (KernelCase("matmul", "triton", "fp16", 3, 64, 48), KernelCase("rms_norm", "triton", "bf16", 2, 128),
                 KernelCase("log_softmax", "triton", "fp32", 2, 96), KernelCase("mean", "triton", "fp16", 3, 64),
                 KernelCase("attention", "triton", "fp16", 20, 256)):
        spec_for(case, cpu_like).build(cpu_like).verify()


def test_verify_catches_a_wrong_result():
    from perf.suite.kernel_specs import KernelCase, spec_for

    case = KernelCase("mean", "torch", "fp32", 4, 32)
    prepared = spec_for(case, ON_CPU).build(ON_CPU)
    import torch

    real_mean = torch.mean
    try:
        torch.mean = lambda x, dim, out: out.copy_(real_mean(x, dim) + 1.0)
        with pytest.raises(AssertionError, match="mean:torch:fp32:h32:tok4 against the float64 reference: largest error"):
            prepared.verify()
    finally:
        torch.mean = real_mean
