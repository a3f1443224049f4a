"""Dtype names of the kernels (the suite's "bf16" / "fp16" / "fp32") and their element sizes."""

from __future__ import annotations

ELEMENT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
_TORCH_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def dtype_name(dtype) -> str:
    """'bf16' / 'fp16' / 'fp32' for a torch dtype or one of those names; ValueError otherwise."""
    name = dtype if isinstance(dtype, str) else _TORCH_NAMES.get(str(dtype).removeprefix("torch."), str(dtype))
    if name not in ELEMENT_BYTES:
        raise ValueError(f"kernels: dtype {dtype!r} is not supported; expected one of {sorted(ELEMENT_BYTES)}")
    return name


def element_bytes(dtype) -> int:
    return ELEMENT_BYTES[dtype_name(dtype)]
