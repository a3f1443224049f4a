"""Decode attention: one new query token per sequence against its KV cache (MHA and GQA), batch-invariant.

Layout (contiguous in the last dimension):

    q        [batch, heads, head_dim]              the new token's queries
    k_cache  [batch, kv_heads, capacity, head_dim] keys; positions >= cache_lens[b] are ignored
    v_cache  [batch, kv_heads, capacity, head_dim] values
    lens     [batch] int32                         tokens in each sequence's cache, 1 to capacity (includes the new
                                                   token); checked at the call (a device sync: check_lens=False skips
                                                   it where the caller knows them, e.g. inside a timed loop)
    out      [batch, heads, head_dim]              in q's dtype

Query head h reads kv head h // (heads // kv_heads) (GQA; MHA when the two are equal).

Split scheme (flash-decoding, the split chosen by the sequence's own length): the cache of each sequence is cut
into splits whose size is a function of that sequence's length alone (`SplitRule.size`: about SPLITS_WANTED splits,
a multiple of BLOCK_N, clamped to [SPLIT_MIN, SPLIT_MAX]), never of the batch, the other sequences or the cache
capacity. A short cache gets short splits, so a batch of one still fills the GPU; a long one gets long splits, so
the combine stays small (measured on an H200: no single fixed split was within 0.67x of SDPA on every suite shape).
Kernel 1 runs one program per (sequence, kv head, split): it loads the split's keys and values once for all the
query heads of the group and runs an online softmax over BLOCK_N-token tiles, writing a partial output and its
log-sum-exp. Kernel 2 runs one program per (sequence, head) and combines that sequence's splits: COMBINE_CHUNK at a
time, all their loads issued at once (one round trip through L2 for up to 32 splits, where a split-by-split loop
waited for each in turn), weighted by exp2(lse - max) and summed in a fixed order, chunk after chunk. The
arithmetic done for a sequence depends only on its own length and data: the result is bitwise the same whatever the
batch size, the other sequences' lengths or the cache capacity.

TMA loads (opt-in, `tma=True`): kernel 1 can load each key and value tile with a bulk TMA copy through a 4-D
descriptor of the cache (block [1, 1, BLOCK_N, head_dim], Hopper's tensor memory accelerator) instead of
per-thread pointer loads. The tiles, their order and the arithmetic are the same, so the output has the same
bits. The copy reads whole tiles, including cache positions past a sequence's length (whatever the unused
capacity holds, NaN or Inf included; zeros only past the capacity), so those keys' scores are set to -inf and
those value rows to 0 with tl.where, exactly what the pointer path's masked loads give. Where no descriptor can
be made (a Triton without host-side descriptors, a base address or a stride that is not a multiple of 16
bytes, a tile side over 256) the call runs the pointer path.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from perf_kernels.tma import descriptors as tma_descriptors

BLOCK_N = 64  # tokens per tile inside a split
NUM_WARPS = 4
# Pipeline stages (measured on an H200): 3 stages are up to 14% faster for GQA at
# batch 1-4 and up to 6% slower from batch 8; MHA is up to 9% faster with 2. Stages change how the loads overlap,
# never the arithmetic, so choosing them by batch keeps the bits (the GPU invariance tests compare a sequence
# alone, 3 stages, with the same sequence in batches of 8 and more, 2 stages).
NUM_STAGES = {"mha": 2, "gqa": 2, "gqa-small-batch": 3}
SMALL_BATCH = 4
# The combine reads COMBINE_CHUNK splits' partials in one step (all the splits of a cache up to 32k tokens under the
# module's rule) on one warp: measured on an H200 (docs/measurements.md, "Decode attention") against 8-16 splits per
# step and 2-4 warps, it cost the least at batch 1-8 and within 0.5 us of the others at batch 64, where reading the
# fp32 partials sets its time. Both are fixed for every call, so the order of the combine's sums follows the length
# alone.
COMBINE_CHUNK = 32
COMBINE_WARPS = 1
# How the split kernel streams the caches; neither changes what a program computes, only which programs run together
# and how the cache lines are kept in L2, so neither changes the bits. SPLIT_FIRST: the grid is (splits, kv heads,
# batch), so programs launched together read consecutive splits of one head's cache, instead of (batch, kv heads,
# splits), where they read one split of many sequences: measured on an H200 and an H100,
# 0.6-2.1% faster at batch 64, within 1.5% either way at batch 1-8. KV_EVICT: the eviction policy of the key
# and value loads (pointer path); "evict_first" (each line is read once per call) moved no shape by more than 1.5%, so
# it is off.
SPLIT_FIRST = True
KV_EVICT = ""
# PART_EVICT: the eviction policy of the split kernel's stores of the partial outputs and log-sum-exps, which the
# combine reads right after: "evict_last" asks L2 to keep them while the caches stream past. Measured on an H200
# (one process, against the plain stores): GQA b64 L1024 -4.7%, MHA b64 L1024 -3.4%,
# b8 L4096 -1.2% to -2.4%, within 0.4% at batch 1; at 16k-32k tokens up to +1.1%. So it applies to caches of up to
# PART_EVICT_MAX_CAPACITY tokens. It changes where the partials are kept, never their values: the same bits.
PART_EVICT = "evict_last"
PART_EVICT_MAX_CAPACITY = 4096
# Programmatic dependent launch (Hopper and later): the combine is launched as a dependent of the split kernel, so its
# programs are placed and read their sequence's length while the split kernel's last programs still run, and wait
# (griddepcontrol.wait, which also makes the split kernel's writes visible) before they read a partial. It changes
# when the combine starts, never what it computes: the same bits.
PDL = True


def part_evict(capacity: int) -> str:
    """The eviction policy of the partials' stores for a cache of `capacity` tokens (a speed choice only)."""
    return PART_EVICT if capacity <= PART_EVICT_MAX_CAPACITY else ""


def pdl_launch(device: torch.device) -> bool:
    """Whether the combine is launched as a programmatic dependent of the split kernel on `device`: PDL is on, and the
    device is a CUDA GPU of compute capability 9.0 or later (the interpreter and older GPUs launch in plain order)."""
    if not PDL or device.type != "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        return False
    return _cuda_major(device.index if device.index is not None else torch.cuda.current_device()) >= 9


@functools.lru_cache(maxsize=None)
def _cuda_major(index: int) -> int:
    """The compute capability's major number of CUDA device `index` (asked once, not on every decode step)."""
    return torch.cuda.get_device_capability(index)[0]


def stages(batch: int, group: int) -> int:
    """The pipeline depth for a launch: a speed choice only (see NUM_STAGES)."""
    if group == 1:
        return NUM_STAGES["mha"]
    return NUM_STAGES["gqa-small-batch" if batch <= SMALL_BATCH else "gqa"]
LOG2E = 1.4426950408889634


@dataclass(frozen=True)
class SplitRule:
    """Tokens per split as a function of a sequence's own length: about `wanted` splits, rounded up to a
    multiple of the tile, within [smallest, largest]. A fixed split is the rule with smallest == largest."""

    smallest: int
    largest: int
    wanted: int = 16

    def size(self, length: int, block_n: int = BLOCK_N) -> int:
        per = -(-length // self.wanted)
        return min(max(-(-per // block_n) * block_n, self.smallest), self.largest)

    def max_splits(self, capacity: int) -> int:
        """The most splits any length from 1 to `capacity` is cut into (the grid's and the workspace's extent)."""
        if self.smallest == self.largest:
            return -(-capacity // self.smallest)
        return max(min(self.wanted, -(-capacity // self.smallest)), -(-capacity // self.largest))


SPLIT = SplitRule(smallest=128, largest=1024, wanted=16)  # the module's rule: never chosen by batch or capacity


def _rule(split: int | SplitRule) -> SplitRule:
    return split if isinstance(split, SplitRule) else SplitRule(split, split, 1)


@triton.jit
def _split_size(length, SPLIT_MIN: tl.constexpr, SPLIT_MAX: tl.constexpr, SPLITS_WANTED: tl.constexpr,
                BLOCK: tl.constexpr):
    """SplitRule.size in the kernels: the same integer arithmetic on the sequence's own length."""
    per = tl.cdiv(tl.cdiv(length, SPLITS_WANTED), BLOCK) * BLOCK
    return tl.minimum(tl.maximum(per, SPLIT_MIN), SPLIT_MAX)


@triton.jit
def _kv_tile(src, b, kvh, n0, offs, offs_d, nmask, stride_n,
             HEAD_DIM: tl.constexpr, BLOCK: tl.constexpr, USE_TMA: tl.constexpr, EVICT: tl.constexpr):
    """Keys or values at cache positions offs (n0 upwards) of sequence b, kv head kvh: [BLOCK, HEAD_DIM].
    Pointer path: `src` points at the head's first position and rows outside `nmask` read 0. TMA path: `src` is a
    4-D descriptor of the whole cache; the copy reads the cache past `nmask` too (zeros only past the capacity)."""
    if USE_TMA:
        tile = src.load([b.to(tl.int32), kvh.to(tl.int32), n0, 0]).reshape(BLOCK, HEAD_DIM)  # int32 coordinates
    else:
        tile = tl.load(src + offs[:, None] * stride_n + offs_d[None, :], mask=nmask[:, None], other=0.0,
                       eviction_policy=EVICT)
    return tile


@triton.jit
def _decode_split_kernel(
    Q, K, V, Lens, Opart, Lse,
    stride_qb, stride_qh,
    stride_kb, stride_kh, stride_kn,
    stride_vb, stride_vh, stride_vn,
    stride_ob, stride_oh, stride_os,
    stride_lb, stride_lh,
    qk_scale,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
    SPLIT_MIN: tl.constexpr, SPLIT_MAX: tl.constexpr, SPLITS_WANTED: tl.constexpr, BLOCK: tl.constexpr,
    USE_TMA: tl.constexpr,  # K and V are 4-D descriptors of the caches (see _tma_descriptors), not pointers
    SPLIT_FIRST: tl.constexpr, EVICT: tl.constexpr,  # the grid's order and the loads' eviction policy (module doc)
    PART_EVICT: tl.constexpr,  # the eviction policy of the partials' stores (PART_EVICT)
    PDL: tl.constexpr,  # the combine is launched as this kernel's programmatic dependent (see PDL)
):
    if PDL:  # the combine may be placed once every program here has started; it waits for their writes
        tl.extra.cuda.gdc_launch_dependents()
    # 64-bit offsets: a cache of batch x heads x L x head_dim passes 2**31 elements at batch 64, L 16k.
    if SPLIT_FIRST:
        split = tl.program_id(0)
        b = tl.program_id(2).to(tl.int64)
    else:
        split = tl.program_id(2)
        b = tl.program_id(0).to(tl.int64)
    kvh = tl.program_id(1).to(tl.int64)
    length = tl.load(Lens + b)
    split_size = _split_size(length, SPLIT_MIN, SPLIT_MAX, SPLITS_WANTED, BLOCK)
    start = split * split_size
    end = tl.minimum(start + split_size, length)

    offs_g = tl.arange(0, GROUP_PAD)
    offs_d = tl.arange(0, HEAD_DIM)
    offs_n = tl.arange(0, BLOCK)
    heads = kvh * GROUP + offs_g
    gmask = offs_g < GROUP

    q = tl.load(Q + b * stride_qb + heads[:, None] * stride_qh + offs_d[None, :], mask=gmask[:, None], other=0.0)
    if USE_TMA:  # the copy's coordinates pick the sequence and the kv head
        k_src = K
        v_src = V
    else:
        k_src = K + b * stride_kb + kvh * stride_kh
        v_src = V + b * stride_vb + kvh * stride_vh

    m_i = tl.full([GROUP_PAD], float("-inf"), tl.float32)
    l_i = tl.zeros([GROUP_PAD], tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM], tl.float32)
    for n0 in range(start, end, BLOCK):
        offs = n0 + offs_n
        nmask = offs < end
        k = _kv_tile(k_src, b, kvh, n0, offs, offs_d, nmask, stride_kn, HEAD_DIM, BLOCK, USE_TMA, EVICT)
        qk = tl.dot(q, tl.trans(k)) * qk_scale  # log2 domain
        qk = tl.where(nmask[None, :], qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(qk - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        v = _kv_tile(v_src, b, kvh, n0, offs, offs_d, nmask, stride_vn, HEAD_DIM, BLOCK, USE_TMA, EVICT)
        if USE_TMA:  # rows past `end` hold the cache's bytes (NaN, Inf in unused capacity): 0 * NaN would be NaN
            v = tl.where(nmask[:, None], v, 0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new

    live = gmask & (offs_g * 0 + start < length)  # splits past this sequence's length write nothing
    l_safe = tl.where(l_i > 0, l_i, 1.0)  # l_i is 0 only in splits past the length, which store nothing
    o = acc / l_safe[:, None]
    lse = m_i + tl.log2(l_safe)
    o_ptrs = Opart + b * stride_ob + heads[:, None] * stride_oh + split * stride_os + offs_d[None, :]
    tl.store(o_ptrs, o, mask=live[:, None] & (offs_d[None, :] < HEAD_DIM), eviction_policy=PART_EVICT)
    tl.store(Lse + b * stride_lb + heads * stride_lh + split, lse, mask=live, eviction_policy=PART_EVICT)


@triton.jit
def _decode_combine_kernel(
    Opart, Lse, Lens, Out,
    stride_ob, stride_oh, stride_os,
    stride_lb, stride_lh,
    stride_outb, stride_outh,
    HEAD_DIM: tl.constexpr,
    SPLIT_MIN: tl.constexpr, SPLIT_MAX: tl.constexpr, SPLITS_WANTED: tl.constexpr, BLOCK: tl.constexpr,
    CHUNK: tl.constexpr,
    PDL: tl.constexpr,  # launched as the split kernel's programmatic dependent: wait for it before reading a partial
):
    b = tl.program_id(0).to(tl.int64)
    h = tl.program_id(1).to(tl.int64)
    length = tl.load(Lens + b)  # the lengths are the caller's, not the split kernel's: read before the wait
    n_splits = tl.cdiv(length, _split_size(length, SPLIT_MIN, SPLIT_MAX, SPLITS_WANTED, BLOCK))
    if PDL:
        tl.extra.cuda.gdc_wait()
    offs_s = tl.arange(0, CHUNK)
    offs_d = tl.arange(0, HEAD_DIM)
    o_base = Opart + b * stride_ob + h * stride_oh
    l_base = Lse + b * stride_lb + h * stride_lh

    # CHUNK splits at a time, every load of a chunk issued at once (one round trip for up to CHUNK splits), chunks
    # in order. Within a chunk the weighted sum is one fixed-order tl.sum over CHUNK lanes; lanes past n_splits
    # weigh exactly 0. Which lanes are live depends on the sequence's length alone, so the result does too.
    m = tl.max(tl.full([CHUNK], float("-inf"), tl.float32), 0)
    acc = tl.zeros([HEAD_DIM], tl.float32)
    denom = tl.sum(tl.zeros([CHUNK], tl.float32), 0)
    for s0 in range(0, n_splits, CHUNK):
        splits = s0 + offs_s
        live = splits < n_splits
        lse = tl.load(l_base + splits, mask=live, other=float("-inf"))
        o = tl.load(o_base + splits[:, None] * stride_os + offs_d[None, :], mask=live[:, None], other=0.0)
        m_new = tl.maximum(m, tl.max(lse, 0))  # split 0 is always live: m_new is finite
        scale = tl.exp2(m - m_new)  # 0 at the first chunk (m = -inf), where acc and denom are 0
        w = tl.exp2(lse - m_new)  # 0 on lanes past n_splits
        acc = acc * scale + tl.sum(o * w[:, None], 0)
        denom = denom * scale + tl.sum(w, 0)
        m = m_new
    out = acc / denom
    tl.store(Out + b * stride_outb + h * stride_outh + offs_d, out.to(Out.dtype.element_ty))


def _check(q, k_cache, v_cache, lens):
    if q.dim() != 3 or k_cache.dim() != 4 or v_cache.shape != k_cache.shape:
        raise ValueError(
            f"decode_attention: expected q [batch, heads, head_dim] and k_cache/v_cache [batch, kv_heads, capacity, "
            f"head_dim] of one shape; got q {tuple(q.shape)}, k {tuple(k_cache.shape)}, v {tuple(v_cache.shape)}"
        )
    batch, heads, head_dim = q.shape
    kb, kv_heads, _, kd = k_cache.shape
    if kb != batch or kd != head_dim or heads % kv_heads:
        raise ValueError(
            f"decode_attention: q {tuple(q.shape)} does not fit k_cache {tuple(k_cache.shape)} "
            f"(batch and head_dim must match; kv_heads must divide heads)"
        )
    if head_dim & (head_dim - 1) or head_dim < 16:
        raise ValueError(f"decode_attention: head_dim must be a power of two >= 16, got {head_dim}")
    if lens.shape != (batch,) or lens.dtype != torch.int32:
        raise ValueError(f"decode_attention: lens must be int32 of shape ({batch},), got {lens.dtype} {tuple(lens.shape)}")
    for name, t in (("q", q), ("k_cache", k_cache), ("v_cache", v_cache)):
        if t.stride(-1) != 1:
            raise ValueError(f"decode_attention: {name} must be contiguous in head_dim (stride {t.stride(-1)})")


def _check_lens(lens: torch.Tensor, capacity: int) -> None:
    """Every length from 1 to the cache capacity: 0 keys have no softmax, more than the capacity read past the cache."""
    bad = ((lens < 1) | (lens > capacity)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(f"decode_attention: lens[{i}] = {int(lens[i])}; every length must be between 1 and the cache "
                         f"capacity {capacity}")


def _tma_descriptors(k_cache: torch.Tensor, v_cache: torch.Tensor, block_n: int):
    """4-D descriptors of the caches with [1, 1, block_n, head_dim] blocks, or None where TMA cannot describe them
    (perf_kernels.tma; the pointer path then)."""
    block = (1, 1, block_n, k_cache.shape[-1])
    return tma_descriptors(((k_cache, block), (v_cache, block)))


def workspace(q: torch.Tensor, capacity: int, split: int | SplitRule = SPLIT) -> tuple[torch.Tensor, torch.Tensor]:
    """The partial outputs and log-sum-exps for one call: allocate once, outside any timed region."""
    batch, heads, head_dim = q.shape
    n_splits = _rule(split).max_splits(capacity)
    o_part = torch.empty((batch, heads, n_splits, head_dim), device=q.device, dtype=torch.float32)
    lse = torch.empty((batch, heads, n_splits), device=q.device, dtype=torch.float32)
    return o_part, lse


def decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    lens: torch.Tensor,
    *,
    sm_scale: float | None = None,
    out: torch.Tensor | None = None,
    work: tuple[torch.Tensor, torch.Tensor] | None = None,
    split: int | SplitRule = SPLIT,
    block_n: int = BLOCK_N,
    num_warps: int = NUM_WARPS,
    num_stages: int | None = None,
    check_lens: bool = True,
    tma: bool = False,
) -> torch.Tensor:
    """softmax(q k^T * sm_scale) v over each sequence's first lens[b] cache positions. Pass `out` and `work`
    (from `workspace`) to allocate nothing. `split` (a SplitRule, or an int for a fixed split) and `block_n` are fixed
    per call site (tests use small ones); the split size of a sequence follows from its own length alone.
    `check_lens=False` skips the lens check (and its device sync) for a caller that has checked them once.
    `tma=True` loads keys and values through TMA descriptors where the caches allow (the same bits; see the module
    doc), else through pointers."""
    _check(q, k_cache, v_cache, lens)
    if check_lens:
        _check_lens(lens, k_cache.shape[2])
    batch, heads, head_dim = q.shape
    kv_heads, capacity = k_cache.shape[1], k_cache.shape[2]
    group = heads // kv_heads
    rule = _rule(split)
    if rule.smallest % block_n or rule.largest % block_n or rule.smallest > rule.largest or rule.wanted < 1:
        raise ValueError(f"decode_attention: split {split} must be a multiple of block_n ({block_n}), or a SplitRule "
                         f"with smallest <= largest, both multiples of block_n, and wanted >= 1")
    if sm_scale is None:
        sm_scale = 1.0 / math.sqrt(head_dim)
    if out is None:
        out = torch.empty_like(q)
    o_part, lse = work if work is not None else workspace(q, capacity, split)
    n_splits = rule.max_splits(capacity)
    if o_part.shape[2] < n_splits:
        raise ValueError(f"decode_attention: workspace holds {o_part.shape[2]} splits, capacity {capacity} needs {n_splits}")
    descriptors = _tma_descriptors(k_cache, v_cache, block_n) if tma else None
    k_src, v_src = descriptors if descriptors is not None else (k_cache, v_cache)
    grid = (n_splits, kv_heads, batch) if SPLIT_FIRST else (batch, kv_heads, n_splits)
    pdl = pdl_launch(q.device)
    _decode_split_kernel[grid](
        q, k_src, v_src, lens, o_part, lse,
        q.stride(0), q.stride(1),
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2),
        v_cache.stride(0), v_cache.stride(1), v_cache.stride(2),
        o_part.stride(0), o_part.stride(1), o_part.stride(2),
        lse.stride(0), lse.stride(1),
        sm_scale * LOG2E,
        GROUP=group, GROUP_PAD=max(16, triton.next_power_of_2(group)), HEAD_DIM=head_dim,
        SPLIT_MIN=rule.smallest, SPLIT_MAX=rule.largest, SPLITS_WANTED=rule.wanted, BLOCK=block_n,
        USE_TMA=descriptors is not None, SPLIT_FIRST=SPLIT_FIRST, EVICT=KV_EVICT, PART_EVICT=part_evict(capacity),
        PDL=pdl,
        num_warps=num_warps, num_stages=num_stages or stages(batch, group),
    )
    _decode_combine_kernel[(batch, heads)](
        o_part, lse, lens, out,
        o_part.stride(0), o_part.stride(1), o_part.stride(2),
        lse.stride(0), lse.stride(1),
        out.stride(0), out.stride(1),
        HEAD_DIM=head_dim,
        SPLIT_MIN=rule.smallest, SPLIT_MAX=rule.largest, SPLITS_WANTED=rule.wanted, BLOCK=block_n,
        CHUNK=COMBINE_CHUNK, PDL=pdl, num_warps=COMBINE_WARPS, **({"launch_pdl": True} if pdl else {}),
    )
    return out


def reference(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, lens: torch.Tensor, sm_scale: float | None = None
) -> torch.Tensor:
    """torch scaled_dot_product_attention in float32, one sequence at a time over its own cache length."""
    batch, heads, head_dim = q.shape
    group = heads // k_cache.shape[1]
    out = torch.empty((batch, heads, head_dim), dtype=torch.float32, device=q.device)
    for b, n in enumerate(lens.tolist()):
        k = k_cache[b, :, :n].float().repeat_interleave(group, dim=0)  # [heads, n, d]
        v = v_cache[b, :, :n].float().repeat_interleave(group, dim=0)
        out[b] = torch.nn.functional.scaled_dot_product_attention(
            q[b, :, None, :].float(), k, v, scale=sm_scale
        )[:, 0]
    return out


def torch_sdpa(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor) -> torch.Tensor:
    """The framework's provider on a full cache (every sequence at the cache capacity), in q's dtype."""
    heads, kv_heads = q.shape[1], k_cache.shape[1]
    kwargs = {"enable_gqa": True} if heads != kv_heads else {}
    return torch.nn.functional.scaled_dot_product_attention(q[:, :, None, :], k_cache, v_cache, **kwargs)[:, :, 0]


def flops(batch: int, heads: int, kv_heads: int, length: int, head_dim: int) -> int:
    """q k^T and p v: 2 x 2 x head_dim FLOPs per (sequence, head, cache position)."""
    return 4 * batch * heads * length * head_dim


def bytes(batch: int, heads: int, kv_heads: int, length: int, head_dim: int, dtype_bytes: int = 2) -> int:
    """Fewest bytes moved: the keys and values read once, the queries read and the outputs written."""
    return dtype_bytes * (2 * batch * kv_heads * length * head_dim + 2 * batch * heads * head_dim)
