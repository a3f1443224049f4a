"""perf_kernels.attention (flash attention, any query length) under the interpreter: against its float64 reference,
bitwise batch invariance, the masks and shapes it takes, the errors it gives, and its flops() / bytes()."""

import importlib
import json
import os
import subprocess
import sys

import pytest
import torch

from perf_kernels.invariance import check_batch_invariance

att = importlib.import_module("perf_kernels.attention")  # the package exports the function of the same name


def _inputs(batch, heads, kv_heads, q_len, kv_len, head_dim=16, dtype=torch.float16, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, q_len, head_dim, generator=g).to(dtype)
    k = torch.randn(batch, kv_heads, kv_len, head_dim, generator=g).to(dtype)
    v = torch.randn(batch, kv_heads, kv_len, head_dim, generator=g).to(dtype)
    return q, k, v


def _err(got, ref):
    return (got.double() - ref).abs().max().item()


@pytest.mark.parametrize("dtype,tol", [(torch.float16, 3e-3), (torch.float32, 1e-5)], ids=["fp16", "fp32"])
@pytest.mark.parametrize("q_len,kv_len,causal",
                         [(37, 37, True), (5, 40, True), (1, 70, False), (33, 20, False), (70, 70, True), (20, 80, False)],
                         ids=["prefill-causal", "chunk-causal", "decode", "more-queries", "whole-blocks-causal",
                              "whole-blocks"])  # the last two: kv_len >= WHOLE_BLOCKS_FROM blocks of 16
def test_matches_reference(dtype, tol, q_len, kv_len, causal):
    q, k, v = _inputs(2, 4, 2, q_len, kv_len, dtype=dtype)
    got = att.attention(q, k, v, causal=causal, block_m=16, block_n=16)
    assert got.dtype == dtype and got.shape == q.shape
    assert _err(got, att.reference(q, k, v, causal=causal)) < tol


def test_masks_bool_and_additive_broadcast_and_a_row_that_sees_nothing():
    q, k, v = _inputs(2, 4, 4, 9, 30)
    g = torch.Generator().manual_seed(3)
    per_head = torch.rand(2, 4, 9, 30, generator=g) > 0.4
    per_head[1, 2, 4] = False  # sees no key: zeros, not NaN
    got = att.attention(q, k, v, per_head, block_m=16, block_n=16)
    assert _err(got, att.reference(q, k, v, per_head)) < 3e-3
    assert torch.equal(got[1, 2, 4], torch.zeros(16, dtype=torch.float16))
    bias = torch.randn(1, 1, 9, 30, generator=g).to(torch.float16)  # additive, broadcast over batch and heads
    assert _err(att.attention(q, k, v, bias, scale=0.3), att.reference(q, k, v, bias, scale=0.3)) < 3e-3
    keys_only = torch.rand(30, generator=g) > 0.5  # a 1-D key mask
    assert _err(att.attention(q, k, v, keys_only), att.reference(q, k, v, keys_only)) < 3e-3


def test_bitwise_batch_invariant_and_position_independent_of_the_batch_index():
    q, k, v = _inputs(1, 2, 1, 21, 21, seed=4)
    row = torch.stack([q[0], k[0].expand(2, -1, -1), v[0].expand(2, -1, -1)])  # (3, heads, len, d)

    def op(t):
        return att.attention(t[:, 0], t[:, 1, :1], t[:, 2, :1], causal=True, block_m=16, block_n=16)

    result = check_batch_invariance(op, row, max_batch=5, name="attention causal gqa")
    assert result.invariant, result.summary()


@pytest.mark.parametrize("block", [64, 16], ids=["module-blocks", "small-blocks"])
def test_alone_with_is_causal_and_padded_with_a_bool_mask_give_the_same_bits(block):
    """HF's two calls for one prompt: alone (is_causal, no mask) and inside a right-padded batch (a boolean
    causal-and-padding mask over a longer kv_len, other sequences beside it). With 16-token blocks the prompt alone
    has key blocks that skip the masking (before the diagonal; kv_len >= WHOLE_BLOCKS_FROM blocks), which the padded
    batch masks."""
    length, padded = 77, 100
    assert length >= att.WHOLE_BLOCKS_FROM * 16
    q, k, v = _inputs(3, 4, 2, padded, padded, seed=6)
    blocks = dict(block_m=block, block_n=block)
    alone = att.attention(q[1:2, :, :length], k[1:2, :, :length], v[1:2, :, :length], causal=True, **blocks)
    lens = torch.tensor([padded, length, 90])
    keys = torch.arange(padded)[None, :] < lens[:, None]
    mask = torch.ones(padded, padded, dtype=torch.bool).tril()[None, None] & keys[:, None, None, :]
    batch = att.attention(q, k, v, mask, **blocks)
    assert torch.equal(batch[1:2, :, :length], alone)
    unmasked = att.attention(q[1:2, :, :length], k[1:2, :, :length], v[1:2, :, :length], **blocks)  # no mask at all
    everything = torch.ones(length, length, dtype=torch.bool)
    assert torch.equal(att.attention(q[1:2, :, :length], k[1:2, :, :length], v[1:2, :, :length], everything, **blocks),
                       unmasked)


_COMPILE_FOR_SM90 = """
import importlib, json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
att = importlib.import_module("perf_kernels.attention")
constexprs = json.loads(sys.argv[1])
fn = att._attention_kernel
pointers = {"Q": "*bf16", "K": "*bf16", "V": "*bf16", "Out": "*bf16", "Mask": "*u8"}
signature = {n: pointers.get(n, "constexpr" if n in constexprs else "fp32" if n == "qk_scale" else "i32")
             for n in fn.arg_names}
source = ASTSource(fn, signature, constexprs={(fn.arg_names.index(n),): v for n, v in constexprs.items()})
options = {"num_warps": att.NUM_WARPS, "num_stages": att.NUM_STAGES}
print(triton.compile(source, target=GPUTarget("cuda", 90, 128), options=options).asm["ttgir"])
"""


def _row_reductions_that_add(**constexprs):
    """The tt.reduce ops with an addition in them, in the kernel compiled (not run) for an H100, sm_90, by a
    process without the interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", _COMPILE_FOR_SM90, json.dumps(constexprs)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    bodies = [r.split("tt.reduce.return")[0] for r in done.stdout.split('"tt.reduce"')[1:]]
    assert bodies, "no tt.reduce in the compiled kernel: the row max has gone, so this check reads the wrong thing"
    return [body for body in bodies if "arith.addf" in body]


@pytest.mark.parametrize("causal,mask_kind", [(True, 0), (False, 1)], ids=["is_causal", "bool-mask"])
def test_no_sum_whose_order_follows_the_compilers_layout(causal, mask_kind):
    """The compiler lays the softmax out differently per mask kind (measured on an H200: a prompt's bits changed
    between its is_causal call and its padded-batch call); the row sums must therefore be MMAs, not tl.sum."""
    pytest.importorskip("triton.backends.nvidia")
    constexprs = dict(GROUP=1, MASK_KIND=mask_kind, CAUSAL=causal, DOT_PRECISION="tf32", HEAD_DIM=64,
                      BLOCK_Q=att.BLOCK_M, BLOCK_K=att.BLOCK_N, ROWSUM_N=att.ROWSUM_N)
    assert _row_reductions_that_add(**constexprs) == []


def test_strided_inputs_as_hf_passes_them():
    # [batch, len, heads, d] projected, then transposed: not contiguous, still unit stride in head_dim
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 11, 4, 16, generator=g).to(torch.float16)
    q = x.transpose(1, 2)
    assert not q.is_contiguous()
    assert _err(att.attention(q, q, q, causal=True), att.reference(q, q, q, causal=True)) < 3e-3


def test_errors_name_the_problem():
    q, k, v = _inputs(1, 4, 3, 8, 8)
    with pytest.raises(ValueError, match="kv_heads must divide heads"):
        att.attention(q, k, v)
    q, k, v = _inputs(1, 4, 2, 8, 8, head_dim=24)
    with pytest.raises(ValueError, match="power of two"):
        att.attention(q, k, v)
    q, k, v = _inputs(1, 4, 2, 8, 8)
    with pytest.raises(ValueError, match="does not broadcast"):
        att.attention(q, k, v, torch.ones(3, 8, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool or floating"):
        att.attention(q, k, v, torch.ones(8, 8, dtype=torch.int32))


def test_flops_and_bytes():
    assert att.flops(2, 32, 1024, 1024, 128) == 4 * 2 * 32 * 1024 * 1024 * 128
    causal = att.flops(1, 1, 4, 4, 1, causal=True)  # 1 + 2 + 3 + 4 pairs
    assert causal == 4 * 10
    assert att.flops(1, 1, 6, 4, 1, causal=True) == 4 * (1 + 2 + 3 + 4 + 4 + 4)
    # GQA moves the kv heads' keys and values only
    assert att.bytes(1, 32, 8, 1024, 1024, 128, 2) == 2 * 128 * (2 * 32 * 1024 + 2 * 8 * 1024)
