"""`batch_invariant()`: route torch's operators on CUDA tensors to the batch-invariant kernels.

    with batch_invariant():
        logits = model(tokens)      # what a transformer's forward calls on CUDA runs our kernels

The context registers Python kernels for the CUDA dispatch key of the aten operators below through
`torch.library.Library("aten", "IMPL")`, and destroys that library on exit, which restores the
kernels that were there before. CPU tensors dispatch to the CPU key, which is not touched
(`batch_invariant("CPU")` routes the CPU key instead: a check of the routing on a machine without a
GPU, the Triton kernels running under TRITON_INTERPRET=1).

Covered (bf16, fp16 and fp32 inputs of one dtype):

| aten operator | reached from | kernel |
| --- | --- | --- |
| mm, addmm | F.linear, torch.matmul with a 2-D weight, nn.Linear, HF Conv1D | perf_kernels.matmul.matmul |
| bmm, baddbmm | torch.matmul on 3-D and 4-D operands (eager attention, rotary frequencies) | perf_kernels.matmul.bmm |
| _softmax, _log_softmax | torch.softmax, F.softmax, log_softmax, cross-entropy | perf_kernels.log_softmax |
| mean.dim, sum.dim_IntList | x.mean(dims), x.sum(dims) (floating point) | perf_kernels.mean |
| native_layer_norm | F.layer_norm, nn.LayerNorm | perf_kernels.layer_norm |
| _fused_rms_norm (where torch has it) | F.rms_norm, nn.RMSNorm | perf_kernels.rms_norm |
| scaled_dot_product_attention | F.scaled_dot_product_attention (HF attn_implementation="sdpa") | see below |

Attention: one new query per sequence (q_len 1, not is_causal) runs the split-KV decode kernel
(perf_kernels.decode_attention), and so does the same step packed: Hugging Face's `pack_gqa` (a decode
step of a GQA model with a mask) lays the query heads of each KV head along q_len, with a mask of
one query row; up to 16 such rows are decode queries too, so a sequence takes the same kernel alone
(no mask, q_len 1) and in a padded batch (a mask, packed). With a boolean padding mask (or an
additive one of 0 and "minus infinity" only) that is the same for every head, each sequence's
visible keys are first gathered in order to the front of its cache, so the result does not depend
on where the padding sat.
Everything else (prefill, causal, any mask, GQA) runs the flash kernel perf_kernels.attention, whose
result for a query depends on the positions of its keys: invariant when a sequence keeps its
positions (padding after it). `aten::scaled_dot_product_attention` is composite; a kernel
registered for its CUDA key is reached before it decomposes (no autograd through it: inference).

Falls back to torch (correct, not batch-invariant): other dtypes (float64, integers, bool), mixed
dtypes; attention with dropout, a head_dim that is not a power of two >= 16, value and key head dims
that differ, or inputs that are not 4-D (it then runs torch's math attention, whose matmuls and
softmax are routed). Fallbacks call torch's own kernels through the operators' `out=` overloads,
which are never routed, or through operators that are not routed (var_mean). Not routed at all:
the `out=` and in-place overloads (mm.out, addmm_, ...), full reductions (x.sum() with no dim),
cumsum, and elementwise operators (which are batch-invariant already).

Nesting is allowed: inner contexts only count depth; the outermost one registers and unregisters.
The registration is process-wide while active.
"""

from __future__ import annotations

import contextlib
import threading
import warnings

from perf_kernels.attention import attention as _attention_kernel
from perf_kernels.decode_attention import decode_attention as _decode_attention_kernel
from perf_kernels.layer_norm import layer_norm as _layer_norm_kernel
from perf_kernels.log_softmax import log_softmax as _log_softmax_kernel
from perf_kernels.log_softmax import softmax as _softmax_kernel
from perf_kernels.matmul import bmm as _bmm_kernel
from perf_kernels.matmul import matmul as _matmul_kernel
from perf_kernels.mean import mean as _mean_kernel
from perf_kernels.mean import row_sum as _sum_kernel
from perf_kernels.rms_norm import rms_norm as _rms_norm_kernel

DISPATCH_KEY = "CUDA"
DISPATCH_KEYS = ("CUDA", "CPU")
_lock = threading.Lock()
_state: dict[str, dict] = {key: {"depth": 0, "library": None} for key in DISPATCH_KEYS}


def _supported(*tensors) -> bool:
    import torch

    kinds = (torch.bfloat16, torch.float16, torch.float32)
    return all(t.dtype in kinds for t in tensors) and len({t.dtype for t in tensors}) == 1


def _torch_out(functional, out_overload, *args, **kwargs):
    """torch's own kernel through the operator's out= overload (never routed): shape and dtype from the meta kernel."""
    import torch

    meta = functional(*[a.to("meta") if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
    device = next(a.device for a in args if isinstance(a, torch.Tensor))
    out = torch.empty(meta.shape, dtype=meta.dtype, device=device)
    return out_overload(*args, **kwargs, out=out)


# ---------------------------------------------------------------------------------------------- matmuls

def _mm(a, b):
    import torch

    if not _supported(a, b):
        return _torch_out(torch.ops.aten.mm.default, torch.ops.aten.mm.out, a, b)
    return _matmul_kernel(a, b)


def _addmm(bias, a, b, *, beta=1, alpha=1):
    import torch

    if not _supported(bias, a, b):
        return _torch_out(torch.ops.aten.addmm.default, torch.ops.aten.addmm.out, bias, a, b, beta=beta, alpha=alpha)
    n = b.shape[1]
    if beta == 1 and alpha == 1 and bias.dim() == 1 and bias.shape[0] == n:
        return _matmul_kernel(a, b, bias.contiguous())  # the bias is added in fp32 in the epilogue
    return _scaled_plus(_matmul_kernel(a, b), bias, beta=beta, alpha=alpha)


def _bmm(a, b):
    import torch

    if not _supported(a, b):
        return _torch_out(torch.ops.aten.bmm.default, torch.ops.aten.bmm.out, a, b)
    return _bmm_kernel(a, b)


def _baddbmm(bias, a, b, *, beta=1, alpha=1):
    import torch

    if not _supported(bias, a, b):
        return _torch_out(torch.ops.aten.baddbmm.default, torch.ops.aten.baddbmm.out, bias, a, b, beta=beta, alpha=alpha)
    return _scaled_plus(_bmm_kernel(a, b), bias, beta=beta, alpha=alpha)


def _scaled_plus(prod, bias, *, beta, alpha):
    """addmm / baddbmm semantics after our product: alpha * prod + beta * bias (elementwise, batch-invariant)."""
    if alpha != 1:
        prod = prod * alpha
    return prod if beta == 0 else prod + bias * beta


# ---------------------------------------------------------------------------------------------- row kernels

def _log_softmax(x, dim, half_to_float):
    import torch

    if not _supported(x):
        return _torch_out(torch.ops.aten._log_softmax.default, torch.ops.aten._log_softmax.out, x, dim, half_to_float)
    return _log_softmax_kernel(x, dim, out_dtype=torch.float32 if half_to_float else None)


def _softmax(x, dim, half_to_float):
    import torch

    if not _supported(x):
        return _torch_out(torch.ops.aten._softmax.default, torch.ops.aten._softmax.out, x, dim, half_to_float)
    return _softmax_kernel(x, dim, out_dtype=torch.float32 if half_to_float else None)


def _reduced_dims(x, dim) -> list[int]:
    return list(range(x.dim())) if dim is None or len(dim) == 0 else list(dim)


def _mean_dim(x, dim, keepdim=False, *, dtype=None):
    import torch

    if not _supported(x) or (dtype is not None and dtype not in (torch.bfloat16, torch.float16, torch.float32)):
        return _torch_out(torch.ops.aten.mean.dim, torch.ops.aten.mean.out, x, dim, keepdim, dtype=dtype)
    if dtype is not None:
        x = x.to(dtype)
    if x.dim() == 0:
        return x.clone()
    return _mean_kernel(x, _reduced_dims(x, dim), keepdim)


def _sum_dim(x, dim, keepdim=False, *, dtype=None):
    import torch

    if not _supported(x) or (dtype is not None and dtype not in (torch.bfloat16, torch.float16, torch.float32)):
        return _torch_out(torch.ops.aten.sum.dim_IntList, torch.ops.aten.sum.IntList_out, x, dim, keepdim, dtype=dtype)
    if dtype is not None:
        x = x.to(dtype)
    if x.dim() == 0:
        return x.clone()
    return _sum_kernel(x, _reduced_dims(x, dim), keepdim)


def _flatten_normalized(x, normalized_shape):
    k = len(normalized_shape)
    n = 1
    for s in normalized_shape:
        n *= s
    return x.shape[: x.dim() - k], k, n


def _fused_rms_norm(x, normalized_shape, weight, eps):
    import torch

    lead, k, n = _flatten_normalized(x, normalized_shape)
    if eps is None:
        eps = torch.finfo(torch.float32 if x.dtype != torch.float64 else torch.float64).eps
    if not _supported(x, *([weight] if weight is not None else [])):
        up = x.double() if x.dtype == torch.float64 else x.float()
        dims = list(range(x.dim() - k, x.dim()))
        rstd = torch.rsqrt(up.pow(2).sum(dims, keepdim=True) / n + eps)  # float64 sums fall back to torch's
        y = up * rstd
        return (y * weight if weight is not None else y).to(x.dtype), rstd
    w = weight.reshape(n) if weight is not None else None
    y, rstd = _rms_norm_kernel(x.reshape(*lead, n), w, eps, return_rstd=True)
    return y.reshape(x.shape), rstd.reshape(*lead, *([1] * k))


def _native_layer_norm(x, normalized_shape, weight, bias, eps):
    import torch

    lead, k, n = _flatten_normalized(x, normalized_shape)
    params = [t for t in (weight, bias) if t is not None]
    if not _supported(x, *params):
        dims = list(range(x.dim() - k, x.dim()))
        var, mu = torch.var_mean(x, dims, correction=0, keepdim=True)
        rstd = torch.rsqrt(var + eps)
        y = (x - mu) * rstd
        y = y * weight if weight is not None else y
        return (y + bias if bias is not None else y), mu, rstd
    y, mu, rstd = _layer_norm_kernel(
        x.reshape(*lead, n),
        weight.reshape(n) if weight is not None else None,
        bias.reshape(n) if bias is not None else None,
        eps,
        return_stats=True,
    )
    stat_shape = (*lead, *([1] * k))
    return y.reshape(x.shape), mu.reshape(stat_shape), rstd.reshape(stat_shape)


# ---------------------------------------------------------------------------------------------- attention

PACKED_GROUP_MAX = 16  # a packed decode query (HF's pack_gqa): up to this many query heads per KV head


def _attention_supported(query, key, value, attn_mask, dropout_p, enable_gqa) -> bool:
    import torch

    if query.dim() != 4 or key.dim() != 4 or value.shape != key.shape or dropout_p != 0.0:
        return False
    if not _supported(query, key, value) or key.shape[0] != query.shape[0] or key.shape[3] != query.shape[3]:
        return False
    heads, kv_heads, head_dim = query.shape[1], key.shape[1], query.shape[3]
    if heads % kv_heads or (heads != kv_heads and not enable_gqa):
        return False
    if head_dim < 16 or head_dim & (head_dim - 1):
        return False
    return attn_mask is None or attn_mask.dtype == torch.bool or attn_mask.is_floating_point()


def _visible_keys(attn_mask, batch: int, kv_len: int):
    """For a one-query mask that is the same for every head: (batch, kv_len) bool of the keys each sequence
    sees, or None when the mask is not of that kind (per-head, or additive with values other than 0 / -inf)."""
    import torch

    if attn_mask.dim() >= 3 and attn_mask.shape[-3] != 1:
        return None
    try:
        m = attn_mask.expand(batch, 1, 1, kv_len)[:, 0, 0]
    except RuntimeError:
        return None
    if m.dtype == torch.bool:
        return m
    hidden = m <= torch.finfo(m.dtype).min / 2
    if not bool(((m == 0) | hidden).all()):
        return None
    return m == 0


def _decode(query, key, value, attn_mask, scale):
    """One new token per sequence: the split-KV decode kernel over each sequence's visible keys, gathered to the
    front in order. Its queries are q_len 1 per head, or, packed (HF's pack_gqa), the query heads of each KV head
    laid along q_len with a mask of one query row: (batch, kv_heads, group, d), which is the same (batch, heads, d)
    of queries, each reading the KV head it reads unpacked."""
    import torch

    batch, heads, q_len, head_dim = query.shape
    kv_len = key.shape[2]
    lens = torch.full((batch,), kv_len, dtype=torch.int32, device=query.device)
    if attn_mask is not None:
        visible = _visible_keys(attn_mask, batch, kv_len)
        if visible is None:
            return None
        lens = torch.count_nonzero(visible, dim=-1).to(torch.int32)
        fewest, most = (int(v) for v in torch.stack([lens.min(), lens.max()]).tolist())
        if fewest == 0:
            return None  # a query that sees nothing: the flash kernel's zeros
        if fewest < kv_len:
            order = torch.sort((~visible).to(torch.uint8), dim=-1, stable=True).indices[:, :most]
            idx = order[:, None, :, None].expand(batch, key.shape[1], most, key.shape[3])
            key, value = key.gather(2, idx), value.gather(2, idx)
    q = query.reshape(batch, heads * q_len, head_dim)  # query row r of head h: head h * q_len + r
    if q.stride(-1) != 1:
        q = q.contiguous()
    key = key if key.stride(-1) == 1 else key.contiguous()
    value = value if value.stride(-1) == 1 else value.contiguous()
    return _decode_attention_kernel(q, key, value, lens, sm_scale=scale).view(batch, heads, q_len, head_dim)


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False):
    import torch

    if not _attention_supported(query, key, value, attn_mask, dropout_p, enable_gqa) or (is_causal and attn_mask is not None):
        return torch.ops.aten._scaled_dot_product_attention_math(  # torch's semantics, and torch's errors
            query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa
        )[0]
    q_len = query.shape[2]
    packed = 1 < q_len <= PACKED_GROUP_MAX and attn_mask is not None and attn_mask.dim() >= 2 and attn_mask.shape[-2] == 1
    if (q_len == 1 or packed) and not is_causal:
        out = _decode(query, key, value, attn_mask, scale)
        if out is not None:
            return out
    return _attention_kernel(query, key, value, attn_mask, causal=is_causal, scale=scale)


# ---------------------------------------------------------------------------------------------- the context

def routes() -> dict[str, object]:
    """aten operator (overload) name -> the Python kernel registered for it."""
    import torch

    table: dict[str, object] = {
        "mm": _mm,
        "addmm": _addmm,
        "bmm": _bmm,
        "baddbmm": _baddbmm,
        "_softmax": _softmax,
        "_log_softmax": _log_softmax,
        "mean.dim": _mean_dim,
        "sum.dim_IntList": _sum_dim,
        "native_layer_norm": _native_layer_norm,
        "scaled_dot_product_attention": _sdpa,
    }
    if hasattr(torch.ops.aten, "_fused_rms_norm"):
        table["_fused_rms_norm"] = _fused_rms_norm
    return table


def is_active(dispatch_key: str | None = None) -> bool:
    """Whether the routes are registered (for one dispatch key, or for any)."""
    keys = DISPATCH_KEYS if dispatch_key is None else (dispatch_key,)
    return any(_state[key]["library"] is not None for key in keys)


def _register(dispatch_key: str):
    import torch

    library = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding a previously registered kernel": that is the point
        for name, fn in routes().items():
            library.impl(name, fn, dispatch_key)
    return library


@contextlib.contextmanager
def batch_invariant(dispatch_key: str = DISPATCH_KEY):
    """Within the context, the routed aten operators on `dispatch_key` tensors ("CUDA", or "CPU" for a check
    under the Triton interpreter) run the batch-invariant kernels."""
    if dispatch_key not in DISPATCH_KEYS:
        raise ValueError(f"batch_invariant: dispatch_key {dispatch_key!r}; expected one of {DISPATCH_KEYS}")
    state = _state[dispatch_key]
    with _lock:
        if state["depth"] == 0:
            state["library"] = _register(dispatch_key)
        state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            state["depth"] -= 1
            if state["depth"] == 0:
                library, state["library"] = state["library"], None
                library._destroy()
