"""The types the shape rules are made of: a `Finding` (what a rule found), the `Context` a check reads (model,
GPU, layout and the layer's GEMMs) and a `Rule` (id, level, text templates and its check function)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from perf.gpus import GpuSpec
from perf.shape.layout import Layout
from perf.shape.models import ModelConfig
from perf.shape.shapes import DTYPE_BYTES, Gemm

LEVELS = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # "error", "warning" or "info"
    gemm: str  # the GEMM concerned, or "" for a model-level rule
    dimension: str  # "h/a", "vocab", "k (h/a)", ...
    value: int | float
    message: str
    fix: str = ""
    payoff: str = ""  # predicted payoff of the fix, where predictable

    @property
    def is_violation(self) -> bool:
        return self.level in ("error", "warning")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


Violation = Finding  # a Finding at level error or warning


@dataclass(frozen=True)
class Context:
    model: ModelConfig
    gpu: GpuSpec
    layout: Layout
    gemms: tuple[Gemm, ...]  # empty when the layout does not split the model evenly

    @property
    def s(self) -> int:
        return self.layout.seq(self.model)

    @property
    def elem_bytes(self) -> int:
        return DTYPE_BYTES[self.layout.dtype]

    @property
    def align_elems(self) -> int:
        return self.gpu.align_elements(self.elem_bytes)


@dataclass(frozen=True)
class Rule:
    id: str
    level: str  # level of a finding when the rule is broken
    checks: str  # what the rule checks, in words
    message: str  # template, formatted by the check
    fix: str  # template, formatted by the check
    source: str  # where in the paper
    check: Callable[["Rule", Context], list[Finding]] = field(compare=False, repr=False)

    def finding(self, *, gemm: str = "", dimension: str, value, level: str | None = None, payoff: str = "", **fmt) -> Finding:
        return Finding(rule=self.id, level=level or self.level, gemm=gemm, dimension=dimension, value=value,
                       message=self.message.format(**fmt), fix=self.fix.format(**fmt) if self.fix else "", payoff=payoff)

    def evaluate(self, ctx: Context) -> list[Finding]:
        return self.check(self, ctx)
