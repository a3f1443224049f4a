"""Every operator batch_invariant() routes, end to end through torch's API, with the routes on the CPU key.

Under `batch_invariant("CPU")` the Triton kernels run under the interpreter on CPU tensors, so this is
the routing a CUDA model gets, checked on the CPU: for each routed operator, called the way model
code calls it,
- the result has our kernel's bits (the route is taken),
- it matches torch outside the context within a tolerance,
- a row keeps its bits alone and inside batches of every size up to a few (bitwise batch-invariant).
fp16 throughout: the interpreter's tl.dot is numpy's matmul on the tile, whose fp32 path (host BLAS)
changes bits with a row's place in the tile (see tests/test_kernels_invariance.py), and whose bf16
path is wrong in triton 3.9.

The attention routes also get the cases a served batch produces: a prompt alone and inside a batch
padded after it (prefill), and a decode step whose cache has padding holes anywhere (decode).
"""

import pytest
import torch
import torch.nn.functional as F

from perf_kernels import batch_invariant
from perf_kernels.attention import attention
from perf_kernels.decode_attention import decode_attention
from perf_kernels.invariance import bitwise_equal, check_batch_invariance
from perf_kernels.layer_norm import layer_norm
from perf_kernels.log_softmax import log_softmax, softmax
from perf_kernels.matmul import bmm, matmul
from perf_kernels.mean import mean, row_sum
from perf_kernels.rms_norm import rms_norm

F16 = torch.float16


def _randn(*shape, seed=0, dtype=F16):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


H, K, N = 64, 64, 48  # hidden, matmul K and N
W, BIAS = _randn(K, N, seed=1), _randn(N, seed=2)
NORM_W, NORM_B = (1 + 0.1 * _randn(H, seed=3, dtype=torch.float32)).to(F16), _randn(H, seed=4)
HEADS, KV_HEADS, D, S = 4, 2, 16, 24  # attention: GQA, head_dim 16, sequence 24


def _qkv(t):
    """A packed attention row (3, HEADS, S, D) per batch element -> q, k, v (k and v of KV_HEADS heads)."""
    return t[:, 0], t[:, 1, :KV_HEADS], t[:, 2, :KV_HEADS]


def _decode_qkv(t):
    return t[:, 0, :, :1], t[:, 1, :KV_HEADS], t[:, 2, :KV_HEADS]


# name: (torch call as model code makes it, our kernel called directly, row shape, tolerance vs torch)
ROUTES = {
    "mm (F.linear)": (lambda x: F.linear(x, W.t()), lambda x: matmul(x, W), (K,), 2e-2),
    "addmm (F.linear + bias)": (lambda x: F.linear(x, W.t(), BIAS), lambda x: matmul(x, W, BIAS), (K,), 2e-2),
    "bmm (torch.matmul 3-D)": (lambda x: torch.matmul(x, W.expand(x.shape[0], K, N)),
                               lambda x: bmm(x, W.expand(x.shape[0], K, N)), (5, K), 2e-2),
    "baddbmm": (lambda x: torch.baddbmm(BIAS.expand(x.shape[0], 5, N), x, W.expand(x.shape[0], K, N)),
                lambda x: bmm(x, W.expand(x.shape[0], K, N)) + BIAS, (5, K), 3e-2),
    "_softmax": (lambda x: torch.softmax(x, -1), lambda x: softmax(x, -1), (H,), 1e-3),
    "_log_softmax": (lambda x: F.log_softmax(x, -1), lambda x: log_softmax(x, -1), (H,), 1e-2),
    "mean.dim": (lambda x: x.mean(-1, keepdim=True), lambda x: mean(x, -1, keepdim=True), (H,), 1e-3),
    "sum.dim_IntList": (lambda x: x.sum((-2, -1)), lambda x: row_sum(x, (-2, -1)), (3, H), 5e-2),
    "native_layer_norm": (lambda x: F.layer_norm(x, (H,), NORM_W, NORM_B), lambda x: layer_norm(x, NORM_W, NORM_B),
                          (H,), 1e-2),
    "rms_norm": (lambda x: F.rms_norm(x, (H,), NORM_W, 1e-6), lambda x: rms_norm(x, NORM_W, 1e-6), (H,), 1e-2),
    "sdpa prefill (causal, GQA)": (
        lambda t: F.scaled_dot_product_attention(*_qkv(t), is_causal=True, enable_gqa=True),
        lambda t: attention(*_qkv(t), causal=True), (3, HEADS, S, D), 2e-3),
    "sdpa decode (q_len 1, GQA)": (
        lambda t: F.scaled_dot_product_attention(*_decode_qkv(t), enable_gqa=True),
        lambda t: decode_attention(_decode_qkv(t)[0][:, :, 0], *_decode_qkv(t)[1:],
                                   torch.full((t.shape[0],), S, dtype=torch.int32))[:, :, None], (3, HEADS, S, D), 2e-3),
}


@pytest.mark.parametrize("name", list(ROUTES))
def test_routed_operator_runs_our_kernel_matches_torch_and_is_batch_invariant(name):
    call, ours, shape, tol = ROUTES[name]
    row = _randn(*shape, seed=7)
    batch = _randn(3, *shape, seed=8)
    outside = call(batch)
    with batch_invariant("CPU"):
        inside = call(batch)
        result = check_batch_invariance(call, row, max_batch=5, name=name)
    assert bitwise_equal(inside, ours(batch)), f"{name}: inside batch_invariant('CPU') the result is not our kernel's"
    assert inside.dtype == outside.dtype and inside.shape == outside.shape
    err = (inside.double() - outside.double()).abs().max().item()
    assert err <= tol * max(1.0, outside.double().abs().max().item()), f"{name}: {err:.2e} from torch"
    assert result.invariant, result.summary()


def test_prefill_alone_equals_the_same_prompt_inside_a_batch_padded_after_it():
    length, padded = 13, S
    t = _randn(4, 3, HEADS, padded, D, seed=9)
    q, k, v = _qkv(t)
    visible = torch.zeros(4, padded, dtype=torch.bool)
    for b, n in enumerate((padded, length, 20, 5)):
        visible[b, :n] = True
    mask = torch.ones(padded, padded, dtype=torch.bool).tril() & visible[:, None, None, :]  # HF's causal + padding
    with batch_invariant("CPU"):
        batched = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        alone = F.scaled_dot_product_attention(q[1:2, :, :length], k[1:2, :, :length], v[1:2, :, :length],
                                               is_causal=True, enable_gqa=True)
    assert bitwise_equal(batched[1, :, :length], alone[0])
    ref = F.scaled_dot_product_attention(q[1:2, :, :length].float(), k[1:2, :, :length].float().repeat_interleave(2, 1),
                                         v[1:2, :, :length].float().repeat_interleave(2, 1), is_causal=True)
    assert (alone.float() - ref).abs().max().item() < 2e-3


@pytest.mark.parametrize("mask_kind", ["bool", "additive"])
def test_decode_with_padding_holes_equals_the_sequence_alone(mask_kind):
    t = _randn(3, 3, HEADS, S, D, seed=10)
    q, k, v = _decode_qkv(t)
    visible = torch.ones(3, S, dtype=torch.bool)
    visible[0, :6] = False  # left padding
    visible[0, 15:20] = False  # a hole between the prompt and the generated tokens (right-padded prefill)
    visible[2, 3:] = False
    mask = visible[:, None, None, :]
    if mask_kind == "additive":
        mask = torch.zeros(mask.shape, dtype=F16).masked_fill(~mask, torch.finfo(F16).min)
    keep = visible[0].nonzero()[:, 0]
    with batch_invariant("CPU"):
        batched = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        alone = F.scaled_dot_product_attention(q[:1], k[:1, :, keep], v[:1, :, keep], enable_gqa=True)
        pair = F.scaled_dot_product_attention(q[[2, 0]], k[[2, 0]], v[[2, 0]], attn_mask=mask[[2, 0]], enable_gqa=True)
    assert bitwise_equal(batched[0], alone[0]) and bitwise_equal(pair[1], alone[0])
    outside = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=visible[:, None, None, :],
                                             enable_gqa=True)
    assert (batched.float() - outside).abs().max().item() < 2e-3


def test_a_packed_gqa_decode_step_equals_the_sequence_alone_unpacked():
    """Hugging Face's pack_gqa: a decode step of a GQA model with a mask passes q (batch, kv_heads, group, d) and a
    mask of one query row; alone (no mask) the same step is q (1, heads, 1, d) with enable_gqa. Both must run the
    decode kernel and give the same bits."""
    group = HEADS // KV_HEADS
    t = _randn(3, 3, HEADS, S, D, seed=11)
    q, k, v = _decode_qkv(t)  # q (3, HEADS, 1, D), k and v (3, KV_HEADS, S, D)
    visible = torch.ones(3, S, dtype=torch.bool)
    visible[1, 10:20] = False  # sequence 1: a prompt of 10, padding, then its generated tokens
    visible[2, 5:] = False
    packed = q.reshape(3, KV_HEADS, group, D)  # what pack_gqa does
    keep = visible[1].nonzero()[:, 0]
    with batch_invariant("CPU"):
        batched = F.scaled_dot_product_attention(packed, k, v, attn_mask=visible[:, None, None, :])
        alone = F.scaled_dot_product_attention(q[1:2], k[1:2, :, keep], v[1:2, :, keep], enable_gqa=True)
    assert batched.shape == (3, KV_HEADS, group, D)
    assert bitwise_equal(batched.reshape(3, HEADS, 1, D)[1:2], alone)
    lens = visible.sum(-1).to(torch.int32)
    order = torch.sort((~visible).to(torch.uint8), dim=-1, stable=True).indices  # visible keys first, in order
    idx = order[:, None, :, None].expand(3, KV_HEADS, S, D)
    direct = decode_attention(q[:, :, 0], k.gather(2, idx), v.gather(2, idx), lens)
    assert bitwise_equal(batched.reshape(3, HEADS, D), direct)  # the decode kernel, not the flash kernel
    outside = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=visible[:, None, None, :],
                                             enable_gqa=True)
    assert (batched.reshape(3, HEADS, 1, D).float() - outside).abs().max().item() < 2e-3


def test_what_the_kernels_do_not_take_falls_back_to_torch():
    x64 = _randn(3, 4, 8, dtype=torch.float64)
    q = _randn(1, 2, 5, 24)  # head_dim 24: not a power of two
    ints = torch.arange(12).reshape(3, 4)
    with batch_invariant("CPU"):
        got = {
            "sum int": ints.sum(-1),
            "bmm f64": torch.bmm(x64, x64.transpose(1, 2)),
            "layer_norm f64": F.layer_norm(x64, (8,)),
            "softmax f64": torch.softmax(x64, -1),
            "sdpa d24": F.scaled_dot_product_attention(q, q, q, is_causal=True),
            "sdpa wide v": F.scaled_dot_product_attention(q[..., :16], q[..., :16], q),  # value head dim 24 != 16
        }
    assert torch.equal(got["sum int"], ints.sum(-1)) and got["sum int"].dtype == torch.int64
    assert torch.allclose(got["bmm f64"], torch.bmm(x64, x64.transpose(1, 2)))
    assert torch.allclose(got["layer_norm f64"], F.layer_norm(x64, (8,)))
    assert torch.allclose(got["softmax f64"], torch.softmax(x64, -1))
    ref = F.scaled_dot_product_attention(q.float(), q.float(), q.float(), is_causal=True)
    assert (got["sdpa d24"].float() - ref).abs().max().item() < 2e-3
    ref = F.scaled_dot_product_attention(q[..., :16].float(), q[..., :16].float(), q.float())
    assert got["sdpa wide v"].shape == (1, 2, 5, 24) and (got["sdpa wide v"].float() - ref).abs().max().item() < 2e-3


def test_dispatch_key_is_checked():
    with pytest.raises(ValueError, match="dispatch_key 'XLA'"):
        with batch_invariant("XLA"):
            pass
