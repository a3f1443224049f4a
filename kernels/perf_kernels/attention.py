"""Attention over a whole query block (prefill, or any query length), batch-invariant: flash attention in Triton.

Layout (the layout of torch's scaled_dot_product_attention; contiguous in head_dim):

    q     [batch, heads, q_len, head_dim]
    k, v  [batch, kv_heads, kv_len, head_dim]      query head h reads kv head h // (heads // kv_heads)
    mask  broadcastable to [batch, heads, q_len, kv_len]: bool (True = attend) or additive (added to the scores)
    out   [batch, heads, q_len, head_dim] in q's dtype

`causal=True` is torch's `is_causal`: query i sees keys 0..i (top-left aligned).

Why a row's result does not depend on the batch: one program per (query block, batch, head), and each
program walks the keys from position 0 upwards in blocks of BLOCK_N tokens, always in that order,
with an online softmax in fp32. BLOCK_M and BLOCK_N are constants of this module, never chosen by the
batch, the sequence lengths or the mask. The kernel is compiled once per mask kind (none or causal,
boolean, additive), and the compiler lays the softmax out differently in each, so nothing whose
result depends on that layout may decide a bit: the row sums of the softmax weights are an MMA with a
tile of ones (the tensor core's order, the same in every variant; a tl.sum would follow the layout),
the row max is exact in any order, and no multiply-add is contracted into one rounding (FP fusion
off), so an `is_causal` call and a boolean-mask call compute the same bits. Without a mask and from
WHOLE_BLOCKS_FROM key blocks on, the key blocks that every query of a program sees whole (before its causal
diagonal, inside kv_len) skip the masking step, which would select each of their scores unchanged. Masked
scores are set to -inf before the softmax, so a masked key adds exactly 0 to the sums, and key blocks
past a sequence's last visible key change nothing (the running max stays, the scale is exp2(0) = 1, the added terms are 0). The arithmetic for
a query therefore depends only on its own row, the keys and values at the positions it sees, and
where those positions sit: a sequence gives the same bits alone and inside a padded batch when its
tokens keep their positions (padding after the sequence). A query that sees no key gets zeros.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

BLOCK_M = 64  # queries per program: fixed
BLOCK_N = 64  # keys per step: fixed
NUM_WARPS = 4
NUM_STAGES = 2
LOG2E = 1.4426950408889634
ROWSUM_N = 16  # columns of the ones tile the row sums are taken with (the smallest tl.dot N)
MASK_KINDS = {"none": 0, "bool": 1, "additive": 2}
# Without a mask, from this many key blocks on, the blocks every query of a program sees whole skip the masking step:
# 4-22% faster from 256 keys on an H200 and an H100, and 5-10% slower at 32-128 keys, where a second loop costs more
# than it saves (docs/measurements.md, "Prefill attention"). A speed choice only: the skipped step selects every
# score as is.
WHOLE_BLOCKS_FROM = 4


@triton.jit
def _attention_kernel(
    Q, K, V, Mask, Out,
    stride_qb, stride_qh, stride_qm,
    stride_kb, stride_kh, stride_kn,
    stride_vb, stride_vh, stride_vn,
    stride_mb, stride_mh, stride_mm, stride_mn,
    stride_ob, stride_oh, stride_om,
    heads, q_len, kv_len, qk_scale,
    GROUP: tl.constexpr, MASK_KIND: tl.constexpr, CAUSAL: tl.constexpr, DOT_PRECISION: tl.constexpr,
    HEAD_DIM: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_K: tl.constexpr, ROWSUM_N: tl.constexpr,
    WHOLE_BLOCKS: tl.constexpr,  # walk the key blocks every query sees whole without the masking step
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    b = bh // heads
    h = bh % heads
    kvh = h // GROUP

    offs_m = pid_m * BLOCK_Q + tl.arange(0, BLOCK_Q)
    offs_d = tl.arange(0, HEAD_DIM)
    offs_n = tl.arange(0, BLOCK_K)
    qmask = offs_m < q_len
    q = tl.load(Q + b * stride_qb + h * stride_qh + offs_m[:, None].to(tl.int64) * stride_qm + offs_d[None, :],
                mask=qmask[:, None], other=0.0)
    k_base = K + b * stride_kb + kvh * stride_kh
    v_base = V + b * stride_vb + kvh * stride_vh
    m_base = Mask + b * stride_mb + h * stride_mh + offs_m[:, None].to(tl.int64) * stride_mm

    m_i = tl.full([BLOCK_Q], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_Q], tl.float32)
    acc = tl.zeros([BLOCK_Q, HEAD_DIM], tl.float32)
    hi = kv_len
    if CAUSAL:  # keys past this block's last query are masked for every row: skipping them changes no bit
        hi = tl.minimum(kv_len, (pid_m + 1) * BLOCK_Q)
    # Key blocks every query of this program sees whole (no mask to load, inside kv_len, wholly before the causal
    # diagonal) skip the masking: for them it selects every score as it is, so the bits are those of the masked step.
    whole = 0
    if WHOLE_BLOCKS:  # no mask, and keys enough for it to pay (see attention())
        whole = (kv_len // BLOCK_K) * BLOCK_K
        if CAUSAL:
            whole = tl.minimum(whole, pid_m * BLOCK_Q // BLOCK_K * BLOCK_K)
        for n0 in range(0, whole, BLOCK_K):  # always from key 0 upwards, one BLOCK_K at a time
            m_i, l_i, acc = _attend(q, k_base, v_base, m_base, n0, offs_m, offs_n, offs_d, qmask, m_i, l_i, acc,
                                    stride_kn, stride_vn, stride_mn, kv_len, qk_scale,
                                    False, MASK_KIND, CAUSAL, DOT_PRECISION, BLOCK_K, ROWSUM_N)
    for n0 in range(whole, hi, BLOCK_K):
        m_i, l_i, acc = _attend(q, k_base, v_base, m_base, n0, offs_m, offs_n, offs_d, qmask, m_i, l_i, acc,
                                stride_kn, stride_vn, stride_mn, kv_len, qk_scale,
                                True, MASK_KIND, CAUSAL, DOT_PRECISION, BLOCK_K, ROWSUM_N)

    l_safe = tl.where(l_i > 0, l_i, 1.0)
    o = acc / l_safe[:, None]
    o_ptrs = Out + b * stride_ob + h * stride_oh + offs_m[:, None].to(tl.int64) * stride_om + offs_d[None, :]
    tl.store(o_ptrs, o.to(Out.dtype.element_ty), mask=qmask[:, None])


@triton.jit
def _attend(q, k_base, v_base, m_base, n0, offs_m, offs_n, offs_d, qmask, m_i, l_i, acc,
            stride_kn, stride_vn, stride_mn, kv_len, qk_scale,
            MASKED: tl.constexpr, MASK_KIND: tl.constexpr, CAUSAL: tl.constexpr, DOT_PRECISION: tl.constexpr,
            BLOCK_K: tl.constexpr, ROWSUM_N: tl.constexpr):
    """One online-softmax step over keys n0 .. n0 + BLOCK_K: the running max, row sums and output after it. MASKED
    applies the key range, the causal diagonal and the mask; without it every score counts."""
    offs = n0 + offs_n
    kmask = offs < kv_len
    if MASKED:
        k = tl.load(k_base + offs[:, None].to(tl.int64) * stride_kn + offs_d[None, :], mask=kmask[:, None], other=0.0)
    else:
        k = tl.load(k_base + offs[:, None].to(tl.int64) * stride_kn + offs_d[None, :])
    s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * qk_scale  # log2 domain
    if MASKED:
        seen = kmask[None, :] & qmask[:, None]
        if CAUSAL:
            seen = seen & (offs[None, :] <= offs_m[:, None])
        if MASK_KIND == 1:
            allowed = tl.load(m_base + offs[None, :] * stride_mn, mask=seen, other=0)
            seen = seen & (allowed != 0)
        if MASK_KIND == 2:
            bias = tl.load(m_base + offs[None, :] * stride_mn, mask=seen, other=0.0).to(tl.float32)
            s = s + bias * 1.4426950408889634
        s = tl.where(seen, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows that have seen nothing yet
    alpha = tl.exp2(m_i - m_safe)
    p = tl.exp2(s - m_safe[:, None]).to(q.dtype)  # the weights the values are multiplied with
    # the row sums as an MMA (every column of p @ ones is the row sum): its order is the tensor core's, the
    # same in every variant of this kernel; tl.sum's order follows the layout the compiler picks for p,
    # which differs between the mask kinds. The max over equal columns is exact.
    ones = tl.full([BLOCK_K, ROWSUM_N], 1.0, q.dtype)
    l_i = l_i * alpha + tl.max(tl.dot(p, ones, input_precision=DOT_PRECISION), 1)
    if MASKED:
        v = tl.load(v_base + offs[:, None].to(tl.int64) * stride_vn + offs_d[None, :], mask=kmask[:, None], other=0.0)
    else:
        v = tl.load(v_base + offs[:, None].to(tl.int64) * stride_vn + offs_d[None, :])
    acc = acc * alpha[:, None] + tl.dot(p, v, input_precision=DOT_PRECISION)
    return m_new, l_i, acc


def _check(q, k, v):
    if q.dim() != 4 or k.dim() != 4 or v.shape != k.shape:
        raise ValueError(
            f"perf_kernels.attention: expected q [batch, heads, q_len, head_dim] and k/v [batch, kv_heads, kv_len, head_dim] "
            f"of one shape; got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    batch, heads, _, head_dim = q.shape
    if k.shape[0] != batch or k.shape[3] != head_dim or heads % k.shape[1]:
        raise ValueError(
            f"perf_kernels.attention: q {tuple(q.shape)} does not fit k {tuple(k.shape)} "
            f"(batch and head_dim must match; kv_heads must divide heads)"
        )
    if head_dim & (head_dim - 1) or head_dim < 16:
        raise ValueError(f"perf_kernels.attention: head_dim must be a power of two >= 16, got {head_dim}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"perf_kernels.attention: dtypes differ: q {q.dtype}, k {k.dtype}, v {v.dtype}")


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
    out: torch.Tensor | None = None,
    block_m: int = BLOCK_M,
    block_n: int = BLOCK_N,
    num_warps: int = NUM_WARPS,
    num_stages: int = NUM_STAGES,
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v per (batch, head), torch SDPA's semantics (no dropout); see the module doc."""
    _check(q, k, v)
    batch, heads, q_len, head_dim = q.shape
    kv_heads, kv_len = k.shape[1], k.shape[2]
    if scale is None:
        scale = 1.0 / math.sqrt(head_dim)
    tensors = [t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v)]
    q, k, v = tensors
    if out is None:
        out = torch.empty((batch, heads, q_len, head_dim), device=q.device, dtype=q.dtype)
    elif out.shape != q.shape or out.dtype != q.dtype or out.stride(-1) != 1:
        raise ValueError(f"perf_kernels.attention: out must be {tuple(q.shape)} {q.dtype} contiguous in head_dim")
    if mask is None:
        kind, m = MASK_KINDS["none"], q.new_empty((1, 1, 1, 1))
    else:
        try:
            m = mask.expand(batch, heads, q_len, kv_len)
        except RuntimeError:
            raise ValueError(
                f"perf_kernels.attention: mask of shape {tuple(mask.shape)} does not broadcast to "
                f"({batch}, {heads}, {q_len}, {kv_len})"
            ) from None
        if mask.dtype == torch.bool:
            kind, m = MASK_KINDS["bool"], m.view(torch.uint8)
        elif mask.is_floating_point():
            kind = MASK_KINDS["additive"]
        else:
            raise TypeError(f"perf_kernels.attention: mask must be bool or floating point, got {mask.dtype}")
    if out.numel() == 0:
        return out
    grid = (triton.cdiv(q_len, block_m), batch * heads)
    _attention_kernel[grid](
        q, k, v, m, out,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        m.stride(0), m.stride(1), m.stride(2), m.stride(3),
        out.stride(0), out.stride(1), out.stride(2),
        heads, q_len, kv_len, scale * LOG2E,
        GROUP=heads // kv_heads, MASK_KIND=kind, CAUSAL=bool(causal),
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",  # fp32: no TF32, as torch's SDPA
        HEAD_DIM=head_dim, BLOCK_Q=block_m, BLOCK_K=block_n, ROWSUM_N=ROWSUM_N,
        WHOLE_BLOCKS=kind == MASK_KINDS["none"] and kv_len >= WHOLE_BLOCKS_FROM * block_n,
        num_warps=num_warps, num_stages=num_stages,
        enable_fp_fusion=False,  # no a*b+c contracted in one variant and rounded twice in another
    )
    return out


def reference(q, k, v, mask=None, *, causal: bool = False, scale: float | None = None) -> torch.Tensor:
    """torch scaled_dot_product_attention in float64 (GQA by repeating kv heads); rows that see no key give 0."""
    group = q.shape[1] // k.shape[1]
    qd, kd, vd = q.double(), k.double().repeat_interleave(group, 1), v.double().repeat_interleave(group, 1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = qd @ kd.transpose(-1, -2) * scale
    q_len, kv_len = q.shape[2], k.shape[2]
    seen = torch.ones((q_len, kv_len), dtype=torch.bool, device=q.device)
    if causal:
        seen = seen.tril()
    if mask is not None and mask.dtype == torch.bool:
        seen = seen & mask
    elif mask is not None:
        scores = scores + mask.double()
    scores = scores.masked_fill(~seen, float("-inf"))
    weights = torch.softmax(scores, -1).nan_to_num(0.0)
    return weights @ vd


def flops(batch: int, heads: int, q_len: int, kv_len: int, head_dim: int, causal: bool = False) -> int:
    """q k^T and p v: 4 x head_dim FLOPs per (query, key) pair seen; causal sees about half the pairs."""
    pairs = q_len * kv_len
    if causal:
        seen = min(q_len, kv_len)  # query i sees min(i + 1, kv_len) keys
        pairs = seen * (seen + 1) // 2 + (q_len - seen) * kv_len
    return 4 * batch * heads * pairs * head_dim


def bytes(batch: int, heads: int, kv_heads: int, q_len: int, kv_len: int, head_dim: int, dtype_bytes: int = 2) -> int:  # noqa: A001
    """Fewest bytes moved: q read and out written once, k and v read once per kv head."""
    return dtype_bytes * head_dim * (2 * batch * heads * q_len + 2 * batch * kv_heads * kv_len)
