"""The check of a benchmark's output against its reference, run once before the output is timed.

The error is the largest |output - reference| over every element, relative to the reference's largest magnitude
(the CPU tests' measure): one wrong row among thousands fails it, where a norm over the whole output would average
it away. A NaN or an infinity where the reference is finite fails it too.
"""

from __future__ import annotations

# Largest error allowed, relative to max |reference|: 16-bit outputs round at 2^-8 (bf16) and 2^-11 (fp16) of
# each element; fp32 accumulates in a different order from the float64 (or fp32) reference.
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 2e-2}


def relative_max_error(got, ref) -> float:
    """max |got - ref| / max |ref| over every element, in float64 (NaN when got has a NaN where ref has none)."""
    diff = (got.double() - ref.double()).abs()
    if diff.numel() == 0:
        return 0.0
    scale = ref.double().abs().max().item() or 1.0
    return diff.max().item() / scale  # max() of a tensor holding a NaN is NaN


def check_output(got, ref, dtype: str, what: str) -> None:
    """Raise AssertionError naming `what`, the error, the tolerance and the worst element's index."""
    if dtype not in TOLERANCE:
        raise ValueError(f"output check: no tolerance for dtype {dtype!r}; known: {', '.join(TOLERANCE)}")
    if tuple(got.shape) != tuple(ref.shape):
        raise AssertionError(f"{what}: output shape {tuple(got.shape)}, reference {tuple(ref.shape)}")
    tol = TOLERANCE[dtype]
    err = relative_max_error(got, ref)
    if err == err and err <= tol:
        return
    import torch

    diff = (got.double() - ref.double()).abs().nan_to_num(nan=float("inf"))
    worst = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    raise AssertionError(f"{what}: largest error {err:.2e} of the reference's scale at index {worst}, over {tol:.0e}")
