"""The Triton kernels against their float64 references, under the interpreter on CPU tensors.

bf16 matmul is not run here: the interpreter's tl.dot on bf16 operands returns garbage (triton 3.9),
so matmul is checked in fp16 and fp32; the row kernels are checked in all three dtypes.
"""

import importlib

import pytest
import torch

from perf_kernels import log_softmax, matmul, mean, rms_norm
from perf_kernels.matmul import (BUCKET_EDGES, BY_NAME, CANDIDATES, POLICIES, WIDE_N, Piece, config_edges, select_config,
                            select_plan, waves)
from perf_kernels.rows import LOOP_BLOCK, SINGLE_BLOCK_MAX, row_config

MM = importlib.import_module("perf_kernels.matmul")
RMS = importlib.import_module("perf_kernels.rms_norm")
LSM = importlib.import_module("perf_kernels.log_softmax")
MEAN = importlib.import_module("perf_kernels.mean")

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Largest |ours - float64 reference| allowed, relative to the reference's largest magnitude (plus a floor).
TOL = {"fp32": 1e-5, "fp16": 2e-3, "bf16": 1.6e-2}


def _randn(*shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32).to(dtype)


def _close(got, ref, dtype: str, what: str):
    assert got.dtype == DTYPES[dtype], f"{what}: output dtype {got.dtype}, expected {DTYPES[dtype]}"
    assert got.shape == ref.shape, f"{what}: shape {tuple(got.shape)}, reference {tuple(ref.shape)}"
    err = (got.double() - ref).abs().max().item()
    scale = max(ref.abs().max().item(), 1.0)
    assert err <= TOL[dtype] * scale, f"{what} {dtype}: max error {err:.3e} > {TOL[dtype] * scale:.3e}"


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("m,k,n,bias", [(1, 64, 32, False), (17, 128, 96, True), (33, 100, 70, True), (5, 16, 200, False)])
def test_matmul_matches_reference(dtype, m, k, n, bias):
    dt = DTYPES[dtype]
    a, b = _randn(m, k, dtype=dt, seed=1), _randn(k, n, dtype=dt, seed=2)
    c_bias = _randn(n, dtype=dt, seed=3) if bias else None
    _close(matmul(a, b, c_bias), MM.reference(a, b, c_bias), dtype, f"matmul {m}x{k}x{n}")


def test_matmul_takes_strided_operands_and_leading_dims():
    a = _randn(2, 3, 64, dtype=torch.float32)
    w = _randn(48, 64, dtype=torch.float32, seed=4)  # a Linear weight (N, K): B = w.t() is column-major
    got = matmul(a, w.t())
    assert got.shape == (2, 3, 48)
    _close(got, MM.reference(a.reshape(6, 64), w.t()).reshape(2, 3, 48), "fp32", "matmul a @ w.t()")


@pytest.mark.parametrize("layout", ["strided", "expanded"])
def test_matmul_non_contiguous_bias_matches_torch(layout):
    a, b = _randn(9, 32, dtype=torch.float32, seed=1), _randn(32, 40, dtype=torch.float32, seed=2)
    if layout == "strided":
        bias = _randn(40, 2, dtype=torch.float32, seed=3)[:, 1]  # every other element: stride 2
    else:
        bias = _randn(1, dtype=torch.float32, seed=3).expand(40)  # stride 0
    assert not bias.is_contiguous()
    expected = torch.addmm(bias, a, b)
    _close(matmul(a, b, bias), expected.double(), "fp32", f"matmul with a {layout} bias")


def test_matmul_writes_into_out_and_rejects_bad_shapes():
    a, b = _randn(4, 32, dtype=torch.float16), _randn(32, 16, dtype=torch.float16, seed=1)
    out = torch.empty(4, 16, dtype=torch.float16)
    assert matmul(a, b, out=out).data_ptr() == out.data_ptr()
    _close(out, MM.reference(a, b), "fp16", "matmul out=")
    with pytest.raises(ValueError, match=r"\(4, 32\) @ \(16, 32\)"):
        matmul(a, b.t().contiguous())
    with pytest.raises(TypeError, match="dtypes differ"):
        matmul(a, b.float())


def test_matmul_config_policy_never_leaves_the_invariance_class():
    # Every config the policies choose is a candidate (the tiles measured bitwise equal on the GPU, module doc).
    ms = (1, 2, 8, 9, 16, 17, 63, 64, 65, 128, 129, 256, 257, 512, 513, 8192)
    chosen = {select_config(m, n, 4096, "bf16", p) for m in ms for n in (4096, 14336) for p in POLICIES}
    assert chosen <= set(CANDIDATES)
    assert all(c.num_warps % 4 == 0 for c in CANDIDATES)
    fixed = {select_config(m, 4096, 4096, "bf16", "fixed") for m in ms}
    assert len(fixed) == 1, f"the fixed policy depends on M: {fixed}"
    fp32 = {select_config(m, 4096, 4096, "fp32", p) for m in ms for p in POLICIES}
    assert len(fp32) == 1, "fp32 must use one config for every M"
    # Up to the last bucket the policy changes config only at its bucket edges, and N picks the wider tile from WIDE_N.
    for lo, hi in zip((1,) + tuple(e + 1 for e in BUCKET_EDGES[:-1]), BUCKET_EDGES):
        for n in (4096, WIDE_N):
            assert select_config(lo, n, 4096) == select_config(hi, n, 4096), f"M {lo}..{hi}, N {n}"
    assert select_config(1, 4096, 4096).name == "tma-16x32x128-w4-s6"  # GEMV-like: 16-row tiles, many programs
    assert select_config(16, 14336, 4096).name == "tma-16x64x128-w4-s4"
    assert select_config(17, 4096, 4096).name == "tma-64x32x256-w4-s4"
    assert select_config(8192, 4096, 4096).name == "tma-128x256x64-w8-s4"
    with pytest.raises(ValueError, match="policy 'fast'"):
        select_config(1, 64, 64, "bf16", "fast")


def test_large_m_tile_follows_the_waves_on_the_sms():
    wide, narrow = "tma-128x256x64-w8-s4", "tma-128x128x64-w8-s5"
    pick = lambda m, n, sms=132: select_config(m, n, 4096, "bf16", sms=sms).name  # noqa: E731
    # N 14336 on 132 SMs: M 1024 is 448 wide tiles (4 waves, the last a third full) or 896 narrow ones (7 waves).
    assert waves(1024, 14336, BY_NAME[wide], 132) == 4 and waves(1024, 14336, BY_NAME[narrow], 132) == 7
    assert pick(1024, 14336) == narrow and pick(2048, 14336) == wide and pick(8192, 14336) == wide
    assert pick(1024, 4096) == wide  # 128 tiles: one wave, nearly full
    assert pick(1152, 4096) == narrow  # 144 wide tiles: a second wave of 12
    assert pick(1024, 14336, sms=112) == wide  # 448 tiles on 112 SMs: 4 full waves
    assert select_config(1024, 14336, 4096, device="cpu").name == narrow  # no CUDA device: DEFAULT_SMS (132)
    # config_edges lists exactly the M values after which the plan changes, small-M buckets included.
    edges = config_edges(14336, 4096, max_m=4096, sms=132)
    assert set(BUCKET_EDGES) - {128} <= set(edges) and 1024 in edges  # 65-128 and 129-256 share the wide tile
    plan = lambda m: select_plan(m, 14336, 4096, sms=132)  # noqa: E731
    for m in range(1, 4096):
        assert (plan(m) != plan(m + 1)) == (m in edges), m


def test_large_m_plan_fills_whole_waves_with_wide_tiles_and_the_rest_with_narrow_ones():
    wide, narrow = BY_NAME["tma-128x256x64-w8-s4"], BY_NAME["tma-128x128x64-w8-s5"]
    plan = lambda m, n, cost, sms=132: select_plan(m, n, 4096, "bf16", sms=sms, narrow_cost=cost)  # noqa: E731
    # M 1024, N 14336 on 132 SMs (measured on an H100 and an H200): 128x256 alone takes 4 waves for 3.39 of
    # work, 128x128 alone 7; 49 wide column tiles x 8 row tiles fill 3 waves and the 112 narrow tiles left take one.
    for cost in (0.55, 0.61):
        assert plan(1024, 14336, cost) == (Piece(0, 12544, wide), Piece(12544, 14336, narrow))
        assert waves(1024, 12544, wide, 132) == 3 and 8 * 49 <= 3 * 132 and waves(1024, 14336 - 12544, narrow, 132) == 1
    # where one tile fills its waves nearly, it stays alone; the single-tile choice follows the device's narrow cost
    assert plan(1024, 4096, 0.61) == (Piece(0, 4096, wide),)  # 128 tiles, one wave
    assert plan(2048, 14336, 0.61) == (Piece(0, 14336, wide),)  # 6.79 waves: a mixed plan would cost 7.32
    assert plan(1536, 4096, 0.55) == (Piece(0, 4096, narrow),)  # mixed 1 + 0.55 + seam ties narrow's 3 x 0.55
    assert plan(1536, 4096, 0.61) == (Piece(0, 2816, wide), Piece(2816, 4096, narrow))  # on the H100 mixed wins
    # every plan covers the columns once, in order, from the candidates; small M and other policies: one piece
    for m in (1, 64, 512, 513, 768, 1024, 1536, 3072, 8192):
        for n in (4096, 14336):
            for policy in POLICIES:
                pieces = select_plan(m, n, 4096, "bf16", policy, sms=132)
                assert pieces[0].start == 0 and pieces[-1].stop == n
                assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))
                assert {p.config for p in pieces} <= set(CANDIDATES)
                assert len(pieces) == 1 or (policy == "bucketed" and m > BUCKET_EDGES[-1])


def _small_integers(*shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-4, 5, shape, generator=g).to(torch.float16)


@pytest.mark.parametrize("layout", ["kn", "weight.T"])
def test_a_mixed_plan_gives_the_bits_of_either_tile_alone(monkeypatch, layout):
    # Two SMs make a small product mixed: M 513, N 640 is 128x256 tiles for columns 0-511, 128x128 for the rest.
    # Under the interpreter a tile's dot is numpy's matmul, whose BLAS sums K in an order that depends on the tile's
    # width, so random floats differ in their last bits between tiles there (on a GPU the order is the kernel's;
    # the GPU suite's invariance benchmarks check those bits). Small integers sum exactly in any order: what this
    # checks is the plan itself, every column computed once, by its tile, at its offset, with its bias.
    monkeypatch.setattr(MM, "DEFAULT_SMS", 2)
    m, n, k = 513, 640, 96
    assert len(select_plan(m, n, k, device="cpu")) == 2
    a = _small_integers(m, k, seed=0)
    b = _small_integers(k, n, seed=3) if layout == "kn" else _small_integers(n, k, seed=3).t()
    bias = _small_integers(n, seed=4)
    mixed = matmul(a, b, bias)
    for tile in ("tma-128x256x64-w8-s4", "tma-128x128x64-w8-s5"):
        assert torch.equal(mixed, matmul(a, b, bias, config=BY_NAME[tile])), tile
    _close(mixed, MM.reference(a, b, bias), "fp16", "mixed plan")


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("tokens,hidden", [(1, 64), (9, 256), (3, 200)])
def test_rms_norm_matches_reference(dtype, tokens, hidden):
    dt = DTYPES[dtype]
    x = _randn(tokens, hidden, dtype=dt)
    w = (1 + 0.1 * _randn(hidden, dtype=torch.float32, seed=5)).to(dt)
    _close(rms_norm(x, w, 1e-6), RMS.reference(x, w, 1e-6), dtype, "rms_norm")
    _close(rms_norm(x), RMS.reference(x), dtype, "rms_norm without weight")


def test_rms_norm_returns_rstd_and_loops_over_long_rows():
    n = SINGLE_BLOCK_MAX + 300  # the chunked path
    assert not row_config(n).single and row_config(n).block == LOOP_BLOCK
    x = _randn(2, n, dtype=torch.float32)
    y, rstd = rms_norm(x, None, 1e-5, return_rstd=True)
    _close(y, RMS.reference(x, None, 1e-5), "fp32", "rms_norm (chunked)")
    expected = torch.rsqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-5)
    assert rstd.shape == (2, 1) and rstd.dtype == torch.float32
    assert torch.allclose(rstd.double(), expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_log_softmax_matches_reference(dtype):
    dt = DTYPES[dtype]
    x = _randn(7, 256, dtype=dt) * 4
    _close(log_softmax(x, -1), LSM.reference(x, -1), dtype, "log_softmax dim=-1")
    _close(log_softmax(x, 0), LSM.reference(x, 0), dtype, "log_softmax dim=0")
    x3 = _randn(2, 5, 33, dtype=dt)
    _close(log_softmax(x3, 1), LSM.reference(x3, 1), dtype, "log_softmax 3-d dim=1")


def test_log_softmax_chunked_rows_and_extreme_values():
    n = SINGLE_BLOCK_MAX + 5
    x = _randn(2, n, dtype=torch.float32) * 10
    x[0, -1] = 80.0  # the max in the last, partial chunk
    x[1, :LOOP_BLOCK] = -float("inf")  # a whole chunk of -inf lanes
    got, ref = log_softmax(x), LSM.reference(x)
    assert torch.isneginf(got[1, :LOOP_BLOCK]).all(), "exp(-inf) lanes must give -inf"
    assert torch.isfinite(got[1, LOOP_BLOCK:]).all(), "a chunk of -inf lanes must not poison the row (NaN)"
    _close(got[:, LOOP_BLOCK:], ref[:, LOOP_BLOCK:], "fp32", "log_softmax (chunked)")
    _close(got[0], ref[0], "fp32", "log_softmax (chunked, max in the last chunk)")


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_mean_matches_reference(dtype):
    dt = DTYPES[dtype]
    x = _randn(6, 4, 40, dtype=dt)
    _close(mean(x), MEAN.reference(x), dtype, "mean dim=-1")
    _close(mean(x, 1, keepdim=True), MEAN.reference(x, 1, True), dtype, "mean dim=1 keepdim")
    _close(mean(x, (0, 2)), MEAN.reference(x, (0, 2)), dtype, "mean dims (0, 2)")
    long_rows = _randn(3, SINGLE_BLOCK_MAX + 7, dtype=dt, seed=9)
    _close(mean(long_rows), MEAN.reference(long_rows), dtype, "mean (chunked)")


@pytest.mark.parametrize("shape, dim, keepdim", [((3, 0), -1, False), ((0, 4), 0, True), ((2, 0, 5), (1, 2), False)])
def test_mean_over_an_empty_dimension_is_nan_like_torch(shape, dim, keepdim):
    x = torch.empty(shape)
    got, expected = mean(x, dim, keepdim), torch.mean(x, dim, keepdim=keepdim)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert torch.isnan(got).all() and torch.isnan(expected).all()


def test_mean_of_no_rows_is_empty_like_torch():
    x = torch.empty(0, 6)
    assert mean(x, -1).shape == torch.mean(x, -1).shape == (0,)


def test_flops_and_bytes_by_hand():
    # matmul (4, 8) x (8, 16): 2*4*16*8 = 1024 FLOPs; bytes bf16: (4*8 + 8*16 + 4*16) * 2 = 448; bias adds 4*16
    # FLOPs and 16 elements.
    assert MM.flops(4, 16, 8) == 1024
    assert MM.bytes(4, 16, 8, "bf16") == 448
    assert MM.flops(4, 16, 8, bias=True) == 1024 + 64
    assert MM.bytes(4, 16, 8, "fp32", bias=True) == (32 + 128 + 64 + 16) * 4
    # (1024, 4096) x (4096, 4096) bf16: 2 * 1024 * 4096^2 = 34_359_738_368 FLOPs;
    # bytes (1024*4096 + 4096*4096 + 1024*4096) * 2 = 50_331_648.
    assert MM.flops(1024, 4096, 4096) == 34_359_738_368
    assert MM.bytes(1024, 4096, 4096, torch.bfloat16) == 50_331_648
    # rms_norm (8, 4096) bf16: read + write 8*4096 elements and a 4096 weight: (65536 + 4096) * 2 = 139_264 bytes;
    # 4 FLOPs per element: 131_072.
    assert RMS.bytes(8, 4096, "bf16") == 139_264
    assert RMS.flops(8, 4096) == 131_072
    # log_softmax (8, 4096) fp32: 2 * 32768 * 4 = 262_144 bytes; 5 FLOPs per element: 163_840.
    assert LSM.bytes(8, 4096, "fp32") == 262_144
    assert LSM.flops(8, 4096) == 163_840
    # mean (8, 4096) fp16: (32768 + 8) * 2 = 65_552 bytes; one FLOP per element: 32_768.
    assert MEAN.bytes(8, 4096, "fp16") == 65_552
    assert MEAN.flops(8, 4096) == 32_768
    with pytest.raises(ValueError, match="dtype 'fp8' is not supported"):
        MM.bytes(1, 1, 1, "fp8")


# ------------------------------------------------------------- the kernels batch_invariant() routes softmax, sum,
# layer_norm and bmm to (their modules' references; the routes themselves: tests/test_batch_invariant_routes.py)

LN = importlib.import_module("perf_kernels.layer_norm")


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("hidden", [200, SINGLE_BLOCK_MAX + 300], ids=["single", "loop"])
def test_softmax_sum_and_layer_norm_match_references(dtype, hidden):
    dt = DTYPES[dtype]
    x = _randn(3, hidden, dtype=dt, seed=5) * 3
    w, b = _randn(hidden, dtype=dt, seed=6), _randn(hidden, dtype=dt, seed=7)
    _close(LSM.softmax(x, -1), LSM.softmax_reference(x, -1), dtype, "softmax")
    _close(MEAN.row_sum(x, -1) / hidden, MEAN.sum_reference(x, -1) / hidden, dtype, "row_sum / n")
    y, mu, rstd = LN.layer_norm(x, w, b, 1e-5, return_stats=True)
    _close(y, LN.reference(x, w, b, 1e-5), dtype, "layer_norm")
    assert mu.shape == rstd.shape == (3, 1) and mu.dtype == torch.float32
    assert torch.allclose(mu[:, 0].double(), x.double().mean(-1), atol=1e-3)


def test_softmax_and_sum_along_middle_dims():
    x = _randn(4, 5, 6, dtype=torch.float32)
    _close(LSM.softmax(x, 1), LSM.softmax_reference(x, 1), "fp32", "softmax dim 1")
    _close(MEAN.row_sum(x, (0, 2), keepdim=True), MEAN.sum_reference(x, (0, 2), keepdim=True), "fp32", "sum dims 0, 2")


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_bmm_matches_reference_for_strided_and_broadcast_operands(dtype):
    dt = DTYPES[dtype]
    a = _randn(3, 7, 40, dtype=dt, seed=8)
    b = _randn(3, 24, 40, dtype=dt, seed=9).transpose(1, 2)  # (3, 40, 24), column-major matrices
    _close(MM.bmm(a, b), MM.bmm_reference(a, b), dtype, "bmm")
    shared = _randn(40, 24, dtype=dt, seed=10).expand(3, 40, 24)  # batch stride 0
    _close(MM.bmm(a, shared), MM.bmm_reference(a, shared), dtype, "bmm broadcast")
    with pytest.raises(ValueError, match="expected \\(B, M, K\\) @ \\(B, K, N\\)"):
        MM.bmm(a, b[:2])


@pytest.mark.parametrize("b_layout", ["k-major", "transposed"])
@pytest.mark.parametrize("bias", [False, True])
def test_matmul_tma_config_gives_the_pointer_kernels_bits(b_layout, bias):
    # A TMA config loads the same tiles in the same K order as the pointer kernel of that tile: the same bits, with
    # rows past M and columns past N (zero-filled loads, clipped stores), a K that is not a multiple of 64, a
    # Linear-style transposed B, and a bias. A layout TMA cannot describe runs the pointer kernel instead.
    import torch

    from perf_kernels.matmul import BY_NAME, MatmulConfig

    g = torch.Generator().manual_seed(3)
    m, k, n = 70, 136, 72
    a = torch.randn(m, k, generator=g, dtype=torch.float16)
    b = torch.randn(k, n, generator=g, dtype=torch.float16) if b_layout == "k-major" else \
        torch.randn(n, k, generator=g, dtype=torch.float16).t()
    c = torch.randn(n, generator=g, dtype=torch.float16) if bias else None
    tma = BY_NAME["tma-64x64x64-w4-s6"]
    pointer = MatmulConfig("pointer twin", tma.block_m, tma.block_n, tma.block_k, tma.group_m, tma.num_warps,
                           tma.num_stages)
    got = matmul(a, b, c, config=tma)
    assert torch.equal(got, matmul(a, b, c, config=pointer))
    ref = a.double() @ b.double() + (c.double() if bias else 0)
    assert ((got.double() - ref).norm() / ref.norm()).item() < 2e-3
    odd = torch.randn(m, k + 1, generator=g, dtype=torch.float16)[:, :k]  # row stride of 137 halves: not 16 bytes
    assert torch.equal(matmul(odd, b, c, config=tma), matmul(odd, b, c, config=pointer))
