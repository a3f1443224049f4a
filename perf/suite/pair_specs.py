"""Side-by-side pairs (family "kernel" and decode attention): each of our Triton kernels with its reference on the
same shape, to be timed in alternation (perf.measure.paired) when the run asks for it (--perf-pairs).

    id:    <ours' id without its provider>, e.g. matmul:bf16:k4096:n14336:tok8192, attention:bf16:gqa-32-8:b64:L4096
"""

from __future__ import annotations

from typing import Iterable

from perf.spec import BenchPair, BenchSpec

OURS = "triton"


def _shape_of(spec: BenchSpec) -> tuple:
    """What two specs of one comparison share: family, group, dtype and every parameter but the provider."""
    params = tuple(sorted((k, repr(v)) for k, v in spec.params.items() if k != "provider"))
    return spec.family, spec.group, spec.dtype, params


def pair_id(spec: BenchSpec) -> str:
    """Ours' id without its provider field."""
    return ":".join(part for part in spec.id.split(":") if part != spec.params.get("provider"))


def pairs(specs: Iterable[BenchSpec], ours: str = OURS) -> list["BenchPair"]:
    """Each spec of provider `ours` with the one other spec of its shape (its reference); shapes without exactly
    one reference are left out."""
    specs = list(specs)
    by_shape: dict[tuple, list[BenchSpec]] = {}
    for spec in specs:
        by_shape.setdefault(_shape_of(spec), []).append(spec)
    found = []
    for spec in specs:
        if spec.params.get("provider") != ours:
            continue
        others = [s for s in by_shape[_shape_of(spec)] if s.params.get("provider") not in (None, ours)]
        if len(others) == 1:
            found.append(BenchPair(ours=spec, reference=others[0], id=pair_id(spec)))
    return found
