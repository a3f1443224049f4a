"""What a benchmark may require of the device, as data: a name, a check and the reason shown when it is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from perf.measure.target import Target


@dataclass(frozen=True)
class Requirement:
    name: str
    met: Callable[[Target], bool]
    reason: str


def _triton_on_gpu(target: Target) -> bool:
    if target.is_cpu:
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _transformers(target: Target) -> bool:
    import importlib.util

    return importlib.util.find_spec("transformers") is not None


def _hopper(target: Target) -> bool:
    return not target.is_cpu and target.present.arch in ("hopper", "blackwell")


REQUIREMENTS = {
    r.name: r
    for r in (
        Requirement("gpu", lambda t: not t.is_cpu, "needs a GPU: the CPU device times torch's own kernels only"),
        Requirement("triton", _triton_on_gpu,
                    "needs Triton on a GPU (on the CPU the interpreter checks correctness in tests/, it is not timed)"),
        Requirement("hopper", _hopper, "needs a Hopper or newer GPU"),
        Requirement("transformers", _transformers, "needs transformers (pip install -e '.[test]')"),
    )
}


def unmet(names: tuple[str, ...], target: Target) -> str | None:
    """The reason the first unmet requirement gives, or None when all are met."""
    for name in names:
        requirement = REQUIREMENTS.get(name)
        if requirement is None:
            return f"unknown requirement {name!r}; known: {sorted(REQUIREMENTS)}"
        if not requirement.met(target):
            return requirement.reason
    return None
