"""`batch_invariant()`: route torch's operators on CUDA tensors to the batch-invariant kernels.

    with batch_invariant():
        y = model(x)      # mm, addmm, _log_softmax, mean.dim (and _fused_rms_norm) on CUDA run our kernels

The context registers Python kernels for the CUDA dispatch key of these aten operators through
`torch.library.Library("aten", "IMPL")`, and destroys that library on exit, which restores the
kernels that were there before. CPU tensors dispatch to the CPU key, which is never touched.

- `aten::linear` and `aten::matmul` are composite: on CUDA they decompose into mm / addmm, so they
  are routed through those (a CUDA kernel registered on a composite operator would never be reached).
- `aten::rms_norm` is composite too: it reaches `_fused_rms_norm` where the torch version has that
  operator (routed here), or decomposes into pow / mean.dim / rsqrt / mul (mean.dim is routed).
- Inputs the kernels do not cover (float64, say) go to equivalent torch operators that are not
  routed (bmm, logsumexp, sum), so behaviour stays correct; those calls are not batch-invariant.

Nesting is allowed: inner contexts only count depth; the outermost one registers and unregisters.
"""

from __future__ import annotations

import contextlib
import threading
import warnings

from kernels.log_softmax import log_softmax as _log_softmax_kernel
from kernels.matmul import matmul as _matmul_kernel
from kernels.mean import mean as _mean_kernel
from kernels.rms_norm import rms_norm as _rms_norm_kernel

DISPATCH_KEY = "CUDA"
_lock = threading.Lock()
_state = {"depth": 0, "library": None}


def _supported(*tensors) -> bool:
    import torch

    return all(t.dtype in (torch.bfloat16, torch.float16, torch.float32) for t in tensors)


def _mm(a, b):
    import torch

    if not _supported(a, b) or a.dtype != b.dtype:
        return torch.bmm(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0)
    return _matmul_kernel(a, b)


def _addmm(bias, a, b, *, beta=1, alpha=1):
    import torch

    if not _supported(bias, a, b) or not (a.dtype == b.dtype == bias.dtype):
        prod = torch.bmm(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0)
        return prod * alpha + bias * beta if beta != 0 else prod * alpha
    n = b.shape[1]
    if beta == 1 and alpha == 1 and bias.dim() == 1 and bias.shape[0] == n:
        return _matmul_kernel(a, b, bias.contiguous())  # the bias is added in fp32 in the epilogue
    prod = _matmul_kernel(a, b)
    if alpha != 1:
        prod = prod * alpha
    return prod if beta == 0 else prod + bias * beta


def _log_softmax(x, dim, half_to_float):
    import torch

    if not _supported(x):
        return x - torch.logsumexp(x, dim, keepdim=True)
    return _log_softmax_kernel(x, dim, out_dtype=torch.float32 if half_to_float else None)


def _mean_dim(x, dim, keepdim=False, *, dtype=None):
    import torch

    if dtype is not None:
        x = x.to(dtype)
    dims = list(range(x.dim())) if dim is None or len(dim) == 0 else list(dim)
    if not x.is_floating_point() and not x.is_complex():
        raise RuntimeError(f"mean(): input dtype must be floating point or complex, got {x.dtype}")
    if not _supported(x):
        n = 1
        for d in dims:
            n *= x.shape[d]
        return torch.sum(x, dims, keepdim=keepdim) / n
    if x.dim() == 0:
        return x.clone()
    return _mean_kernel(x, dims, keepdim)


def _fused_rms_norm(x, normalized_shape, weight, eps):
    import torch

    k = len(normalized_shape)
    lead = x.shape[: x.dim() - k]
    n = 1
    for s in normalized_shape:
        n *= s
    if eps is None:
        eps = torch.finfo(torch.float32 if x.dtype != torch.float64 else torch.float64).eps
    if not _supported(x, *([weight] if weight is not None else [])):
        up = x.double() if x.dtype == torch.float64 else x.float()
        dims = list(range(x.dim() - k, x.dim()))
        rstd = torch.rsqrt(up.pow(2).sum(dims, keepdim=True) / n + eps)
        y = up * rstd
        return (y * weight if weight is not None else y).to(x.dtype), rstd
    w = weight.reshape(n) if weight is not None else None
    y, rstd = _rms_norm_kernel(x.reshape(*lead, n), w, eps, return_rstd=True)
    return y.reshape(x.shape), rstd.reshape(*lead, *([1] * k))


def routes() -> dict[str, object]:
    """aten operator (overload) name -> the Python kernel registered for it on CUDA."""
    import torch

    table: dict[str, object] = {
        "mm": _mm,
        "addmm": _addmm,
        "_log_softmax": _log_softmax,
        "mean.dim": _mean_dim,
    }
    if hasattr(torch.ops.aten, "_fused_rms_norm"):
        table["_fused_rms_norm"] = _fused_rms_norm
    return table


def is_active() -> bool:
    return _state["library"] is not None


def _register():
    import torch

    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding a previously registered kernel": that is the point
        for name, fn in routes().items():
            library.impl(name, fn, DISPATCH_KEY)
    return library


@contextlib.contextmanager
def batch_invariant():
    """Within the context, the routed aten operators on CUDA tensors run the batch-invariant kernels."""
    with _lock:
        if _state["depth"] == 0:
            _state["library"] = _register()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                library, _state["library"] = _state["library"], None
                library._destroy()
