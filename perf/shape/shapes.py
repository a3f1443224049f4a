"""Model config -> the transformer layer's GEMMs (paper Table II, with tensor parallelism t, GQA and SwiGLU).

Forward pass of one layer, per GPU of a t-way tensor-parallel group:

    qkv              (b*s, h)        x (h, (a + 2*kv)*d/t)       d = head size (h/a by default)
    attn_score       b*a/t BMMs of (s, d) x (d, s)
    attn_over_value  b*a/t BMMs of (s, s) x (s, d)
    out_proj         (b*s, a*d/t)    x (a*d/t, h)
    mlp_up           (b*s, h)        x (h, ffn/t)                 ffn = 4h for GELU
    mlp_gate         (b*s, h)        x (h, ffn/t)                 gated activations (SwiGLU) only
    mlp_down         (b*s, ffn/t)    x (ffn/t, h)
    logits           (b*s, h)        x (h, v/t)                   once per model, after the last layer

For the standard layer (kv = a, d = h/a, ffn = 4h, t = 1) the first six sum to 24*b*s*h^2 + 4*b*s^2*h
FLOPs, the paper's forward total (sec. III-C).
"""

from __future__ import annotations

from dataclasses import dataclass

from perf.shape.models import ModelConfig

LAYER_GEMMS = ("qkv", "attn_score", "attn_over_value", "out_proj", "mlp_up", "mlp_gate", "mlp_down")
GEMM_NAMES = (*LAYER_GEMMS, "logits")

DTYPE_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1}


class ShapeError(ValueError):
    """A layout under which the model's GEMMs are not integral (say, t not dividing the heads)."""


@dataclass(frozen=True)
class Gemm:
    """`batch` independent products (m, k) x (k, n)."""

    name: str
    m: int
    n: int
    k: int
    batch: int = 1

    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k

    def bytes(self, dtype_bytes: int) -> int:
        """Fewest bytes moved: each operand read once, the output written once."""
        return dtype_bytes * self.batch * (self.m * self.k + self.k * self.n + self.m * self.n)

    def intensity(self, dtype_bytes: int) -> float:
        return self.flops() / self.bytes(dtype_bytes)

    @property
    def shape(self) -> str:
        prefix = f"{self.batch}x" if self.batch > 1 else ""
        return f"{prefix}({self.m},{self.k})x({self.k},{self.n})"


def _div(value: int, by: int, what: str) -> int:
    if value % by:
        raise ShapeError(f"{what}: {value} is not divisible by {by}")
    return value // by


def layer_gemms(model: ModelConfig, b: int, s: int, t: int = 1, *, logits: bool = True) -> list[Gemm]:
    """The GEMMs of one forward layer of `model` at micro-batch b, sequence s, tensor-parallel t."""
    h, a, kv, d = model.hidden, model.heads, model.n_kv_heads, model.d_head
    a_t = _div(a, t, f"{model.name}: heads/t")
    kv_t = _div(kv, t, f"{model.name}: kv heads/t") if kv >= t else 1  # kv heads replicated when kv < t
    ffn_t = _div(model.ffn, t, f"{model.name}: ffn/t")
    v_t = -(-model.vocab // t)  # vocab-parallel logits pad the vocabulary to a multiple of t
    tokens = b * s
    gemms = [
        Gemm("qkv", m=tokens, n=(a_t + 2 * kv_t) * d, k=h),
        Gemm("attn_score", m=s, n=s, k=d, batch=b * a_t),
        Gemm("attn_over_value", m=s, n=d, k=s, batch=b * a_t),
        Gemm("out_proj", m=tokens, n=h, k=a_t * d),
        Gemm("mlp_up", m=tokens, n=ffn_t, k=h),
    ]
    if model.gated:
        gemms.append(Gemm("mlp_gate", m=tokens, n=ffn_t, k=h))
    gemms.append(Gemm("mlp_down", m=tokens, n=h, k=ffn_t))
    if logits:
        gemms.append(Gemm("logits", m=tokens, n=v_t, k=h))
    return gemms


def layer_flops(model: ModelConfig, b: int, s: int, t: int = 1) -> int:
    """Forward FLOPs of one layer's GEMMs (logits excluded)."""
    return sum(g.flops() for g in layer_gemms(model, b, s, t, logits=False))
