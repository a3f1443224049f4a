"""TMA descriptors (Hopper's tensor memory accelerator) for the kernels that can load their tiles through them.

`descriptors(tensors_and_blocks)` makes one host-side descriptor per (tensor, block shape), or returns None where
TMA cannot describe them; the caller then runs its pointer path on the same tiles.
"""

from __future__ import annotations

MAX_BLOCK_SIDE = 256  # elements per side of a TMA box


def describable(t) -> bool:
    """TMA needs a unit last stride, every other stride a positive multiple of 16 bytes and a 16-byte-aligned base."""
    e = t.element_size()
    return t.stride(-1) == 1 and t.data_ptr() % 16 == 0 and all(s > 0 and (s * e) % 16 == 0 for s in t.stride()[:-1])


def descriptors(pairs):
    """A TensorDescriptor per (tensor, block) of `pairs`, or None: this Triton has no host-side descriptors, a tensor
    is not describable, or a block side is over MAX_BLOCK_SIDE."""
    try:
        from triton.tools.tensor_descriptor import TensorDescriptor
    except ImportError:
        return None
    if not all(describable(t) and max(block) <= MAX_BLOCK_SIDE for t, block in pairs):
        return None
    return tuple(TensorDescriptor.from_tensor(t, list(block)) for t, block in pairs)
