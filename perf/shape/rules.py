"""The paper's shape rules as data: each rule has a stable id, a level, what it checks, a message, a fix
and a check function; `evaluate(model, gpu, layout)` runs them all and returns `Finding`s.

Sources (Anthony et al., 'The Case for Co-Designing Model Architectures with Hardware'):
  III-B  tensor-core alignment (16 bytes on V100, 128 bytes on A100 and later), tile and wave quantization
  VI-B   the wave-quantization formula; vocabulary % 64; b*s, h/a and h/t divisible by a power of two up
         to 64; (b*a)/t an integer; layers divisible by the pipeline stages
  VII-B  SwiGLU: 8h/3 breaks the MLP's alignment, search nearby intermediate sizes
  GQA    kv heads must divide the heads and split evenly over (or be replicated across) t GPUs

Levels: "error" breaks a rule of the paper that holds on every GPU (the suite fails on it by default);
"warning" is a GPU-dependent inefficiency (alignment, quantization) that does not fail the suite;
"info" reports a measured quantity (the power of two found, a quantization efficiency) and breaks nothing.

The checks are in perf/shape/checks.py, the efficiency model behind their payoffs in perf/shape/estimate.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from perf.gpus import GpuSpec
from perf.shape.checks import (check_alignment, check_ffn, check_head_dim, check_heads_per_tp, check_hidden_per_tp,
                               check_kv_heads, check_layers_per_pp, check_tiles, check_tokens, check_vocab, check_waves)
from perf.shape.findings import Context, Finding, Rule
from perf.shape.layout import Layout, check_layout
from perf.shape.models import ModelConfig, ModelConfigError, validate
from perf.shape.shapes import ShapeError, layer_gemms

PAPER = "Anthony et al. 2024, 'The Case for Co-Designing Model Architectures with Hardware'"

# ----------------------------------------------------------------------------------------- rules as data

_VI_B = "sec. VI-B"
RULES: tuple[Rule, ...] = (
    Rule("vocab_multiple_64", "error", "the vocabulary size v is divisible by 64 (by 64*t under tensor parallelism)",
         "vocab = {v} is not divisible by {multiple} (largest power-of-two divisor {p}){per_gpu}",
         "pad the vocabulary to {padded} (+{extra} unused rows)", _VI_B, check_vocab),
    Rule("tokens_pow2", "error", "b*s is divisible by a power of two up to 64",
         "b*s = {b}*{s} = {bs} is divisible by {p}, not 64",
         "use s = {s_fix}, or a micro-batch b that is a multiple of {b_fix}", _VI_B, check_tokens),
    Rule("head_dim_pow2", "error", "the head size h/a is divisible by a power of two up to 64",
         "{head} is divisible by {p}, not 64: the attention GEMMs miss tensor-core alignment",
         "{options} at the same parameter count", _VI_B, check_head_dim),
    Rule("hidden_per_tp_pow2", "error", "h/t is an integer divisible by a power of two up to 64",
         "h/t = {ht} (h = {h}, t = {t}) is {how}",
         "h = {lower} or {upper} (multiples of 64*t), or a t for which h/t is a multiple of 64", _VI_B, check_hidden_per_tp),
    Rule("heads_per_tp", "error", "(b*a)/t is an integer, and so is a/t",
         "{why}", "t in {options} (divisors of a = {a})", _VI_B, check_heads_per_tp),
    Rule("gqa_kv_heads", "error", "kv heads divide the heads, and t divides the kv heads or is a multiple of them",
         "kv heads = {kv} with a = {a}, t = {t}: {why}", "kv heads or t in {options}", "GQA layout (Megatron-style)",
         check_kv_heads),
    Rule("layers_per_pp", "error", "the number of layers L is divisible by the pipeline stages pp",
         "L = {L} is not divisible by pp = {pp}: the stages get unequal layers",
         "pp in {options} (divisors of L), or L = {lower} or {upper}", _VI_B, check_layers_per_pp),
    Rule("ffn_multiple_64", "error", "the MLP intermediate size per GPU, ffn/t, is divisible by 64 (SwiGLU: 8h/3 is not)",
         "{what}: ffn/t = {ffn}/{t} is {how} (ffn/h = {ratio})",
         "ffn in {options} (best predicted nearby multiples of 64*t)", "sec. VII-B", check_ffn),
    Rule("tensor_core_alignment", "warning",
         "every GEMM dimension is a multiple of the tensor-core alignment (V100: 16 bytes, A100 and later: 128 bytes)",
         "{gemm_name} {dim} = {v} ({origin}) is not a multiple of {align} elements ({bytes} bytes of {dtype} on {gpu}); "
         "largest power-of-two divisor {p}", "make {origin} a multiple of {align}: {lower} or {upper}", "sec. III-B, VI-B",
         check_alignment),
    Rule("tile_quantization", "warning", "the output m x n divides into the chosen tile (128x256, 256x128, 128x128, 64x128 ...)",
         "{gemm_name} output {m}x{n} in {t1}x{t2} tiles: {eff:.1%} of the tiles' area is useful",
         "{fill} would fill the tiles", "sec. III-B, VI-B", check_tiles),
    Rule("wave_quantization", "warning", "the tile count is a multiple of the SM count (last wave full)",
         "{gemm_name}: {tiles} tiles of {t1}x{t2} on {sms} SMs = {waves:.2f} waves; last wave {fill:.0%} full; "
         "wave efficiency {eff:.1%} (at 128x256: {paper})", "{hint}", "sec. III-B, VI-B", check_waves),
)
RULE_IDS = tuple(r.id for r in RULES)


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(RULE_IDS)}")


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Report:
    model: ModelConfig
    gpu: GpuSpec
    layout: Layout
    findings: tuple[Finding, ...]

    def at(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.level == level]

    @property
    def errors(self) -> list[Finding]:
        return self.at("error")

    @property
    def warnings(self) -> list[Finding]:
        return self.at("warning")

    def broken(self) -> set[str]:
        """Ids of the rules with an error or warning."""
        return {f.rule for f in self.findings if f.is_violation}


def context(model: ModelConfig, gpu: GpuSpec, layout: Layout) -> Context:
    validate(model)
    check_layout(layout)
    if not gpu.is_gpu:
        raise ModelConfigError(f"GPU {gpu.key!r}: shape rules need a GPU profile (e.g. H100, A100), not the CPU")
    try:
        gemms = tuple(layer_gemms(model, layout.b, layout.seq(model), layout.t))
    except ShapeError:
        gemms = ()  # the layout rules (heads_per_tp, gqa_kv_heads, ffn_multiple_64) say why
    return Context(model=model, gpu=gpu, layout=layout, gemms=gemms)


def evaluate(model: ModelConfig, gpu: GpuSpec, layout: Layout = Layout()) -> Report:
    """Every rule on one model, GPU and layout. Raises ModelConfigError for a config that is not a transformer."""
    ctx = context(model, gpu, layout)
    findings = [f for r in RULES for f in r.evaluate(ctx)]
    return Report(model=model, gpu=gpu, layout=layout, findings=tuple(findings))
