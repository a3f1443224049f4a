"""Decode attention under the Triton interpreter: correctness against the reference, bitwise batch invariance, and
the TMA load path's bits against the pointer path's.

bf16 is left to the GPU run: the interpreter's tl.dot on bf16 operands is wrong on the CPU (fp16 and fp32 are fine).
"""

import functools

import pytest
import torch

from perf_kernels import decode_attention as da

SPLIT, BLOCK = 64, 16  # a small fixed split: never chosen by batch or length
RULE = da.SplitRule(smallest=32, largest=128, wanted=4)  # a small rule of the module's kind: split by own length


def _inputs(batch, heads, kv_heads, capacity, head_dim=32, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, head_dim, generator=gen).to(dtype)
    k = torch.randn(batch, kv_heads, capacity, head_dim, generator=gen).to(dtype)
    v = torch.randn(batch, kv_heads, capacity, head_dim, generator=gen).to(dtype)
    return q, k, v


def _run_with(q, k, v, lens, split=SPLIT, tma=False):
    return da.decode_attention(q, k, v, torch.tensor(lens, dtype=torch.int32), split=split, block_n=BLOCK, tma=tma)


def _run(q, k, v, lens):
    return _run_with(q, k, v, lens)


@pytest.mark.parametrize(
    "heads,kv_heads,dtype,tol",
    [(4, 2, torch.float32, 1e-5), (4, 4, torch.float16, 3e-3), (4, 1, torch.float32, 1e-5)],
    ids=["gqa-fp32", "mha-fp16", "mqa-fp32"],
)
def test_matches_reference(heads, kv_heads, dtype, tol):
    lens = [300, 17, 129]  # several splits with a ragged tail, less than one split, exactly two splits + 1
    q, k, v = _inputs(3, heads, kv_heads, 300, dtype=dtype)
    out = _run(q, k, v, lens)
    ref = da.reference(q, k, v, torch.tensor(lens, dtype=torch.int32))
    assert out.dtype == dtype and out.shape == q.shape
    err = (out.float() - ref).abs().max().item()
    assert err < tol, f"max abs error {err:.2e} over {tol:.0e}"


def test_length_one_returns_the_value():
    q, k, v = _inputs(1, 4, 2, 64)
    out = _run(q, k, v, [1])
    assert torch.allclose(out[0], v[0, :, 0].repeat_interleave(2, dim=0), atol=1e-6)


@pytest.mark.parametrize("tma", [False, True], ids=["pointer", "tma"])
def test_bitwise_invariant_across_batch_and_cache_lengths(tma):
    q, k, v = _inputs(3, 4, 2, 300, dtype=torch.float16, seed=1)
    lens = [250, 3, 300]
    run = functools.partial(_run_with, tma=tma)
    together = run(q, k, v, lens)
    # Sequence 0 alone, in a cache of a different capacity (more dead splits).
    k_big = torch.zeros(1, 2, 448, 32, dtype=k.dtype)
    v_big = torch.zeros(1, 2, 448, 32, dtype=v.dtype)
    k_big[:, :, :300], v_big[:, :, :300] = k[:1], v[:1]
    alone = run(q[:1], k_big, v_big, [250])
    assert torch.equal(alone[0], together[0])
    # Sequence 2 at position 0 of a batch of two, next to a different neighbour length.
    pair = run(q[[2, 1]], k[[2, 1]], v[[2, 1]], [300, 129])
    assert torch.equal(pair[0], together[2])
    # Sequence 1 is not perturbed by garbage past its length.
    k2, v2 = k.clone(), v.clone()
    k2[1, :, 3:], v2[1, :, 3:] = 1e4, -1e4
    assert torch.equal(run(q, k2, v2, lens)[1], together[1])


@pytest.mark.parametrize("tma", [False, True], ids=["pointer", "tma"])
def test_grid_order_is_a_speed_choice_with_the_same_bits(monkeypatch, tma):
    # SPLIT_FIRST reorders the split kernel's grid (splits, kv heads, batch) against (batch, kv heads, splits): each
    # program must still find its own sequence, kv head and split, so both orders give the reference and the same bits.
    q, k, v = _inputs(3, 8, 2, 300, dtype=torch.float16, seed=4)
    lens = [250, 3, 300]
    runs = {}
    for split_first in (True, False):
        monkeypatch.setattr(da, "SPLIT_FIRST", split_first)
        runs[split_first] = _run_with(q, k, v, lens, split=RULE, tma=tma)
    reference = da.reference(q, k, v, torch.tensor(lens, dtype=torch.int32))
    assert (runs[True].float() - reference).abs().max().item() < 3e-3
    assert torch.equal(runs[True], runs[False])


def test_split_rule_follows_the_sequence_length_alone():
    import inspect

    params = inspect.signature(da.decode_attention).parameters
    assert params["split"].default is da.SPLIT  # one module rule: no batch or capacity argument reaches it
    rule = da.SPLIT
    assert [rule.size(n) for n in (1, 1024, 2048, 4096, 5000, 16384, 32768)] == [128, 128, 128, 256, 320, 1024, 1024]
    for capacity in (1, 100, 2048, 2049, 4096, 16384, 16385, 40000):
        most = max(-(-n // rule.size(n)) for n in range(1, capacity + 1))
        assert rule.max_splits(capacity) >= most, capacity  # the grid and the workspace cover every length
        assert rule.max_splits(capacity) <= max(most, 16), capacity
    assert da.SplitRule(64, 64).max_splits(300) == 5


@pytest.mark.parametrize("lens", [[250, 3, 300], [40, 100, 129]])
def test_split_rule_is_bitwise_invariant_and_matches_the_reference(lens):
    # RULE cuts 3 tokens into one split of 32, 100 into 4 of 32, 250 into 4 of 64, 300 into 3 of 128 (clamped).
    q, k, v = _inputs(3, 4, 2, 300, dtype=torch.float16, seed=2)
    t = torch.tensor(lens, dtype=torch.int32)
    together = da.decode_attention(q, k, v, t, split=RULE, block_n=BLOCK)
    ref = da.reference(q, k, v, t)
    assert (together.float() - ref).abs().max().item() < 3e-3
    for i, n in enumerate(lens):  # each sequence alone, in a cache of its own length
        alone = da.decode_attention(q[i:i + 1], k[i:i + 1, :, :n].contiguous(), v[i:i + 1, :, :n].contiguous(),
                                    t[i:i + 1], split=RULE, block_n=BLOCK)
        assert torch.equal(alone[0], together[i]), f"sequence {i} (length {n})"


def test_more_splits_than_one_combine_chunk_stay_invariant_and_right():
    # A 16-token split cuts 700 tokens into 44 splits: the combine folds a full chunk of COMBINE_CHUNK, then a ragged
    # one; 520 tokens make 33 splits (one live lane in the second chunk); 30 tokens make 2 (one chunk).
    assert -(-520 // 16) == da.COMBINE_CHUNK + 1 and -(-700 // 16) > da.COMBINE_CHUNK
    lens = [700, 30, 520]
    q, k, v = _inputs(3, 4, 2, 700, dtype=torch.float16, seed=3)
    t = torch.tensor(lens, dtype=torch.int32)
    together = da.decode_attention(q, k, v, t, split=16, block_n=16)
    assert (together.float() - da.reference(q, k, v, t)).abs().max().item() < 3e-3
    for i, n in enumerate(lens):
        alone = da.decode_attention(q[i:i + 1], k[i:i + 1, :, :n].contiguous(), v[i:i + 1, :, :n].contiguous(),
                                    t[i:i + 1], split=16, block_n=16)
        assert torch.equal(alone[0], together[i]), f"sequence {i} (length {n})"


def test_shape_errors_name_the_problem():
    q, k, v = _inputs(2, 4, 3, 64)
    with pytest.raises(ValueError, match="kv_heads must divide heads"):
        _run(q, k, v, [64, 64])
    q, k, v = _inputs(2, 4, 2, 64)
    with pytest.raises(ValueError, match="int32"):
        da.decode_attention(q, k, v, torch.tensor([64, 64]), split=SPLIT, block_n=BLOCK)
    with pytest.raises(ValueError, match="multiple of block_n"):
        da.decode_attention(q, k, v, torch.tensor([64, 64], dtype=torch.int32), split=48, block_n=32)


@pytest.mark.parametrize("lens, index, value", [([300, 0, 129], 1, 0), ([300, 17, 301], 2, 301), ([-5, 17, 1], 0, -5)])
def test_lens_outside_one_to_capacity_is_refused(lens, index, value):
    q, k, v = _inputs(3, 4, 2, 300)
    with pytest.raises(ValueError, match=rf"decode_attention: lens\[{index}\] = {value}; every length must be between 1 "
                                         rf"and the cache capacity 300"):
        _run(q, k, v, lens)


def test_lens_at_the_limits_are_accepted():
    q, k, v = _inputs(2, 4, 2, 300)
    lens = torch.tensor([1, 300], dtype=torch.int32)
    out = da.decode_attention(q, k, v, lens, split=SPLIT, block_n=BLOCK)
    assert (out - da.reference(q, k, v, lens)).abs().max().item() < 1e-5


def test_flops_and_bytes():
    # Llama-3-8B-like decode at batch 1, L=4096: K and V of 8 kv heads dominate.
    assert da.flops(1, 32, 8, 4096, 128) == 4 * 32 * 4096 * 128
    kv = 2 * 8 * 4096 * 128 * 2
    assert da.bytes(1, 32, 8, 4096, 128, 2) == kv + 2 * 32 * 128 * 2
    # MHA moves 4x the cache of GQA with 8 kv heads for the same FLOPs.
    assert da.bytes(1, 32, 32, 4096, 128) > 3.9 * da.bytes(1, 32, 8, 4096, 128)
    # Decode attention sits at about heads/kv_heads FLOP/byte (bf16): memory-bound.
    ai = da.flops(1, 32, 8, 4096, 128) / da.bytes(1, 32, 8, 4096, 128)
    assert 3.9 < ai < 4.0


def test_pipeline_stages_are_a_speed_choice_by_batch_and_group():
    assert da.stages(batch=1, group=4) == 3 and da.stages(batch=4, group=4) == 3  # GQA at small batch: deeper
    assert da.stages(batch=8, group=4) == 2 and da.stages(batch=1, group=1) == 2  # GQA from 8 sequences; MHA
    # That the bits do not depend on them is a GPU fact (the interpreter ignores stages): perf/suite/test_invariance.py
    # compares a sequence alone (3 stages) with the same sequence in batches of 17 and 64 (2 stages).


# ------------------------------------------------------------------ the TMA load path: the pointer path's bits


def _poison_past_lengths(k, v, lens):
    """NaN and Inf in every cache position past a sequence's length (what torch.empty may leave there)."""
    k, v = k.clone(), v.clone()
    for b, n in enumerate(lens):
        k[b, :, n::2], k[b, :, n + 1::2] = float("nan"), float("-inf")
        v[b, :, n::2], v[b, :, n + 1::2] = float("inf"), float("nan")
    return k, v


def _spy_descriptors(monkeypatch, swap=False):
    """Record what _tma_descriptors returned (None: the pointer path); with swap, hand the kernel the values'
    descriptor in place of the keys' one, so an output that changes shows the kernel reads through descriptors."""
    made = []
    real = da._tma_descriptors

    def spy(k_cache, v_cache, block_n):
        got = real(k_cache, v_cache, block_n)
        made.append(got)
        return (got[1], got[1]) if swap and got is not None else got

    monkeypatch.setattr(da, "_tma_descriptors", spy)
    return made


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")  # the NaN keys' scores
@pytest.mark.parametrize(
    "heads,kv_heads,dtype,split,tol",
    [(4, 4, torch.float16, SPLIT, 3e-3), (4, 2, torch.float32, SPLIT, 1e-5), (8, 2, torch.float16, RULE, 3e-3)],
    ids=["mha-fp16", "gqa-fp32", "gqa-fp16-rule"],
)
def test_tma_path_gives_the_pointer_paths_bits_over_poisoned_caches(monkeypatch, heads, kv_heads, dtype, split, tol):
    # The TMA copy reads whole tiles, also the cache past a sequence's length (here NaN and Inf); only the
    # capacity (100, not a multiple of the 16-token tile) clips it. Lengths: full, mid-tile, one token, a split
    # boundary plus one, one short of a tile.
    lens = [100, 37, 1, 65, 15]
    q, k, v = _inputs(len(lens), heads, kv_heads, 100, dtype=dtype, seed=3)
    k, v = _poison_past_lengths(k, v, lens)
    pointer = _run_with(q, k, v, lens, split)
    made = _spy_descriptors(monkeypatch)
    tma = _run_with(q, k, v, lens, split, tma=True)
    assert len(made) == 1 and made[0] is not None, "the caches are describable: the TMA path must run"
    assert torch.equal(tma, pointer)
    ref = da.reference(q, k, v, torch.tensor(lens, dtype=torch.int32))
    assert (tma.float() - ref).abs().max().item() < tol
    swapped = _spy_descriptors(monkeypatch, swap=True)
    assert not torch.equal(_run_with(q, k, v, lens, split, tma=True), pointer) and swapped[0] is not None


def test_tma_path_reads_a_position_major_cache_through_its_strides(monkeypatch):
    # A cache stored [batch, capacity, kv_heads, head_dim] and passed transposed: every stride a multiple of 16
    # bytes, so the 4-D descriptor describes it as it is.
    lens = [100, 37, 1]
    q, k, v = _inputs(3, 4, 2, 100, dtype=torch.float16, seed=5)
    k_t, v_t = k.transpose(1, 2).contiguous().transpose(1, 2), v.transpose(1, 2).contiguous().transpose(1, 2)
    made = _spy_descriptors(monkeypatch)
    assert torch.equal(_run_with(q, k_t, v_t, lens, tma=True), _run_with(q, k, v, lens))
    assert len(made) == 1 and made[0] is not None


def _odd_row_stride(q, k, v):
    """head_dim slices of caches whose rows are 36 elements apart: a position stride TMA cannot describe."""
    pad = torch.full((*k.shape[:-1], 36), float("nan"), dtype=k.dtype)
    k36, v36 = pad.clone(), pad.clone()
    k36[..., :32], v36[..., :32] = k, v
    return k36[..., :32], v36[..., :32]


def _odd_base(q, k, v):
    """Caches starting one element past a 16-byte boundary."""
    def shifted(t):
        flat = torch.empty(t.numel() + 1, dtype=t.dtype)[1:]
        return flat.view(t.shape).copy_(t)

    return shifted(k), shifted(v)


@pytest.mark.parametrize("layout", [_odd_row_stride, _odd_base], ids=["row-stride-72-bytes", "base-2-bytes-off"])
def test_tma_falls_back_to_pointers_where_descriptors_cannot_describe_the_cache(monkeypatch, layout):
    lens = [100, 37, 1]
    q, k, v = _inputs(3, 4, 2, 100, dtype=torch.float16, seed=4)
    k_odd, v_odd = layout(q, k, v)
    assert torch.equal(k_odd, k) and torch.equal(v_odd, v)
    made = _spy_descriptors(monkeypatch)
    got = _run_with(q, k_odd, v_odd, lens, tma=True)
    assert made == [None], "no descriptor for this layout: the pointer path"
    assert torch.equal(got, _run_with(q, k, v, lens))
    assert (got.float() - da.reference(q, k, v, torch.tensor(lens, dtype=torch.int32))).abs().max().item() < 3e-3
