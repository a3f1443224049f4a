"""Batch invariance of real model code (family "model"): Hugging Face Llama and GPT-2 from configs, random weights.

(1) The check (`check`, not timed): one prompt's greedy generation (prefill, then STEPS decode steps)
    alone, and the same prompt inside batches of OTHERS other prompts of different lengths, padded
    after each prompt. Under `batch_invariant()` the logits that choose each token must be bitwise
    equal; without it the same comparison is the audit of torch's own path (recorded, never failing).
(2) The cost (`model_specs`, timed): one batched generation of THROUGHPUT_BATCH prompts with and
    without the mode, so a report shows tokens/s with and without invariance. On a GPU it is timed by the
    device's work (the sum of its kernels' durations, `method="cuda-profiler"`), which the verdict compares:
    an eager generation launches thousands of small kernels, and its event and wall times moved 3-46% between
    hosts of one GPU kind with no change of code, its device work 0.0-1.1% (H200s; docs/measurements.md,
    "Model generations"). The wall time, host included, is recorded beside it (`wall_ms`).
    id: generate:<arch>:<mode>:<dtype>:b<batch>:steps<steps>     group: model/<arch>
    FLOPs are 2 x the matmul weights per token processed (attention's own FLOPs left out) and bytes the
    weights read once per forward: a floor, not a model of the work.

On the CPU device the model is tiny (2 layers, hidden 64, fp16) and the batches small; the mode runs the
Triton kernels under the interpreter there (TRITON_INTERPRET=1), so only the torch mode is timed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from perf.spec import BenchSpec, Prepared
from perf.measure.target import Target
from perf.suite.hf_generation import ARCHS, CPU_DIMS, GPU_DIMS, ModelDims, build_model, greedy, prompts

MODES = ("invariant", "torch")
STEPS = 8
OTHERS = (2, 4, 8, 16, 32, 64)  # other prompts around the one checked
PROMPT_LENGTHS = (16, 200)
THROUGHPUT_BATCH = 64

CPU_STEPS = 3
CPU_OTHERS = (1, 2)
CPU_PROMPT_LENGTHS = (3, 9)
CPU_THROUGHPUT_BATCH = 4
CPU_DTYPE = "fp16"  # the interpreter's tl.dot: fp32 goes to the host BLAS (bits move with the row), bf16 is wrong


@dataclass(frozen=True)
class Plan:
    """What the check and the benchmarks run on one target."""

    dims: dict[str, ModelDims]
    dtype: str
    steps: int
    others: tuple[int, ...]
    prompt_lengths: tuple[int, int]
    throughput_batch: int
    dispatch_key: str  # where batch_invariant() routes: "CUDA", or "CPU" under the interpreter
    mode_unavailable: str | None = field(default=None)  # why the mode cannot run here, if it cannot


def plan(target: Target) -> Plan:
    if target.is_cpu:
        interpreted = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
        return Plan(CPU_DIMS, CPU_DTYPE, CPU_STEPS, CPU_OTHERS, CPU_PROMPT_LENGTHS, CPU_THROUGHPUT_BATCH, "CPU",
                    None if interpreted else "the batch-invariant kernels run on the CPU only under TRITON_INTERPRET=1")
    return Plan(GPU_DIMS, target.dtype, STEPS, OTHERS, PROMPT_LENGTHS, THROUGHPUT_BATCH, "CUDA")


@dataclass(frozen=True)
class Comparison:
    batch: int  # prompts in the batch, the checked one included
    position: int  # where the checked prompt sits
    equal: bool  # bitwise, every step
    max_abs_diff: float
    first_step: int | None  # the first step (0 = prefill) whose logits differ

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _mode(dispatch_key: str | None):
    import contextlib

    from perf_kernels import batch_invariant

    return batch_invariant(dispatch_key) if dispatch_key else contextlib.nullcontext()


def check(model, p: Plan, vocab: int, dispatch_key: str | None, seed: int = 0) -> list[Comparison]:
    """The checked prompt alone, then inside each batch of p.others other prompts; `dispatch_key` None: torch's path."""
    from perf_kernels.invariance import bitwise_equal

    target, *others = prompts(1 + max(p.others), vocab, p.prompt_lengths, seed)
    with _mode(dispatch_key):
        alone = greedy(model, [target], p.steps)[0]
        results = []
        for n in p.others:
            position = n // 2
            batch = others[:position] + [target] + others[position:n]
            got = greedy(model, batch, p.steps)[position]
            same = [bitwise_equal(got[s], alone[s]) for s in range(p.steps + 1)]
            diff = (got.double() - alone.double()).abs().max().item()
            first = next((s for s, ok in enumerate(same) if not ok), None)
            results.append(Comparison(n + 1, position, first is None, 0.0 if first is None else diff, first))
    return results


def _build(arch: str, mode: str, p: Plan):
    def build(target: Target) -> Prepared:
        import torch

        dims = p.dims[arch]
        model = build_model(dims, target.torch_dtype(p.dtype), target.device)
        batch = prompts(p.throughput_batch, dims.vocab, p.prompt_lengths, seed=1)
        key = p.dispatch_key if mode == "invariant" else None

        def fn():
            with _mode(key):
                return greedy(model, batch, p.steps)

        def verify():
            logits = fn()
            assert logits.shape == (len(batch), p.steps + 1, dims.vocab), f"{arch} {mode}: logits {tuple(logits.shape)}"
            assert bool(torch.isfinite(logits).all()), f"{arch} {mode}: non-finite logits"

        return Prepared(fn=fn, verify=verify)

    return build


def generated_tokens(p: Plan) -> int:
    """Tokens one timed call generates: the prefill's first token and one per decode step, for every prompt."""
    return p.throughput_batch * (p.steps + 1)


def model_specs(target: Target) -> list[BenchSpec]:
    p = plan(target)
    specs = []
    for arch in ARCHS:
        dims = p.dims[arch]
        mean_prompt = sum(p.prompt_lengths) / 2
        processed = int(p.throughput_batch * (mean_prompt + p.steps))
        weight_bytes = dims.weights() * (4 if p.dtype == "fp32" else 2)
        for mode in MODES:
            if target.is_cpu:
                requires: tuple[str, ...] = ("transformers", "triton") if mode == "invariant" else ("transformers",)
            else:
                requires = ("transformers", "triton") if mode == "invariant" else ("transformers", "gpu")
            specs.append(BenchSpec(
                family="model",
                id=f"generate:{arch}:{mode}:{p.dtype}:b{p.throughput_batch}:steps{p.steps}",
                dtype=p.dtype,
                flops=2 * dims.weights() * processed,
                bytes=weight_bytes * (1 + p.steps),
                build=_build(arch, mode, p),
                group=f"model/{arch}",
                params={"op": "generate", "arch": arch, "mode": mode, "batch": p.throughput_batch, "steps": p.steps,
                        "generated_tokens": generated_tokens(p), "hidden": dims.hidden, "layers": dims.layers,
                        "heads": dims.heads, "kv_heads": dims.kv_heads},
                requires=requires,
                method="cuda-profiler",  # the device's work: the wall time follows the host
            ))
    return specs
