"""How a model runs for the shape rules and the efficiency model: micro-batch, sequence, tensor- and
pipeline-parallel sizes and the GEMM dtype (`Layout`), and its validation (`check_layout`)."""

from __future__ import annotations

from dataclasses import dataclass

from perf.shape.models import ModelConfig, ModelConfigError
from perf.shape.shapes import DTYPE_BYTES


@dataclass(frozen=True)
class Layout:
    """How the model runs: micro-batch b, sequence s (None: the model's context), tensor- and pipeline-parallel
    sizes t and pp, and the GEMM dtype."""

    b: int = 1
    s: int | None = None
    t: int = 1
    pp: int = 1
    dtype: str = "bf16"

    def seq(self, model: ModelConfig) -> int:
        return self.s if self.s is not None else model.seq

    def describe(self, model: ModelConfig) -> str:
        return f"{self.dtype}, b={self.b} s={self.seq(model)} t={self.t} pp={self.pp}"


def check_layout(layout: Layout) -> Layout:
    for name in ("b", "t", "pp") + (("s",) if layout.s is not None else ()):
        value = getattr(layout, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ModelConfigError(f"layout: field {name!r} must be a positive integer, got {value!r}")
    if layout.dtype not in DTYPE_BYTES:
        raise ModelConfigError(f"layout: field 'dtype' must be one of {sorted(DTYPE_BYTES)}, got {layout.dtype!r}")
    return layout
