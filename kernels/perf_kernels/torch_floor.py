"""The oldest torch the kernels and the suite run on, checked when `kernels` is imported and when the suite starts.

torch 2.4 added `torch.nn.functional.rms_norm` (the RMSNorm reference provider) and 2.5 the `enable_gqa` argument
of `scaled_dot_product_attention` (the decode-attention reference provider): an older torch fails deep inside a
benchmark, so refuse it up front with the version found and what to install.
"""

from __future__ import annotations

import re

TORCH_FLOOR = (2, 5)
WHY = "torch.nn.functional.rms_norm (2.4) and scaled_dot_product_attention(enable_gqa=True) (2.5)"


def installed_version() -> str | None:
    """torch.__version__, or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def _major_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def require_torch() -> None:
    """Raise ImportError, one line, unless the installed torch is TORCH_FLOOR or newer."""
    floor = ".".join(map(str, TORCH_FLOOR))
    version = installed_version()
    if version is None:
        raise ImportError(f"torch is not installed; this project needs torch>={floor} for {WHY}: "
                          f"pip install 'torch>={floor}'")
    found = _major_minor(version)
    if found is None or found < TORCH_FLOOR:
        raise ImportError(f"torch {version} is too old; this project needs torch>={floor} for {WHY}: "
                          f"pip install 'torch>={floor}'")
