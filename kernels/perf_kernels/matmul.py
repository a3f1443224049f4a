"""Batch-invariant matrix multiply: C = A @ B (+ bias), 16-bit or fp32 inputs, fp32 accumulation.

Why a row of C does not depend on the batch: each output tile is computed by one program that walks
K from 0 to K in steps of BLOCK_K, always in that order, accumulating in fp32 (`tl.dot(a, b, acc)`
chains the tensor-core instructions through one accumulator). There is no split-K and no
reduction whose order depends on M. Rows past M are loaded (wrapped with `% M`) but never stored,
so they cannot touch the rows that are.

Config choice: `select_config` picks by N and K and by an M bucket (the "bucketed" policy) among tiles
from 16x32 to 128x256 with BLOCK_K 64 to 256; above the buckets `select_plan` may give the columns of one product to
two of them (128x256 tiles filling whole waves, 128x128 tiles for the rest, two launches; see LARGE_M_TILE). The
tile and BLOCK_K change which tensor-core instructions run (BLOCK_M 16 cannot use Hopper's warpgroup MMA; 64 and up
do) and how many elements a program owns, but every one of them accumulates a given output element over K in k16
steps from k = 0 upwards in fp32.
That the instructions then give the same bits is a hardware fact, not a property of the code, and it is
measured: on an H200, row 0 of every tile of the policy and of nine others tried beside them, at M = 1 to
512 and in both layouts of B, equalled row 0 of the M = 4096 tile bitwise (docs/measurements.md, "Matmul"). The
GPU invariance suite checks it on every run across the bucket edges (a row computed alone, M=1, against the
same row inside batches up to 8192), and the "fixed" policy (no M dependence at all) is one argument away
if a GPU ever disagrees.

Two ways of loading the same tiles: a config with `tma=True` loads A and B through TMA descriptors
(Hopper's tensor memory accelerator: one bulk copy per tile, rows past M zero-filled, the store clipped
at the edges) instead of per-thread pointer loads. The tiles, the K order and the MMAs are the same, so
the bits are the same: measured on an H200, the TMA kernel and the pointer kernel of one tile gave
bitwise equal outputs, and a row at M = 1 (TMA, 64x64 tiles) equalled the same row at M = 4096 (TMA,
128x256) and under every pointer tile. Where a descriptor cannot be
made (a stride not a multiple of 16 bytes, a batched bmm, fp32) the same config runs the pointer kernel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import triton
import triton.language as tl

from perf_kernels.tma import descriptors as tma_descriptors
from perf_kernels.dtypes import dtype_name, element_bytes


@dataclass(frozen=True)
class MatmulConfig:
    name: str
    block_m: int
    block_n: int
    block_k: int
    group_m: int
    num_warps: int
    num_stages: int
    tma: bool = False  # load through TMA descriptors where the tensors allow (see the module doc)


# The candidates a tuning run chooses among (see the module doc for why they share the bits).
CANDIDATES: tuple[MatmulConfig, ...] = (
    MatmulConfig("128x256x64-w8-s3", 128, 256, 64, 8, 8, 3),
    MatmulConfig("128x128x64-w8-s4", 128, 128, 64, 8, 8, 4),
    MatmulConfig("128x128x64-w4-s4", 128, 128, 64, 8, 4, 4),
    MatmulConfig("64x128x64-w4-s4", 64, 128, 64, 8, 4, 4),
    MatmulConfig("64x64x64-w4-s5", 64, 64, 64, 8, 4, 5),
    MatmulConfig("64x32x64-w4-s6", 64, 32, 64, 8, 4, 6),
    MatmulConfig("64x64x64-w4-s3", 64, 64, 64, 8, 4, 3),  # fp32 (IEEE FMA path), every M
    MatmulConfig("64x64x64-w4-s8", 64, 64, 64, 8, 4, 8),
    MatmulConfig("tma-128x256x64-w8-s4", 128, 256, 64, 8, 8, 4, tma=True),
    MatmulConfig("tma-128x128x64-w8-s4", 128, 128, 64, 8, 8, 4, tma=True),
    MatmulConfig("tma-128x128x64-w8-s5", 128, 128, 64, 8, 8, 5, tma=True),
    MatmulConfig("tma-64x128x64-w4-s4", 64, 128, 64, 8, 4, 4, tma=True),
    MatmulConfig("tma-64x64x64-w4-s8", 64, 64, 64, 8, 4, 8, tma=True),
    MatmulConfig("tma-64x64x64-w4-s6", 64, 64, 64, 8, 4, 6, tma=True),
    MatmulConfig("tma-64x32x256-w4-s4", 64, 32, 256, 8, 4, 4, tma=True),
    MatmulConfig("tma-16x64x128-w4-s4", 16, 64, 128, 8, 4, 4, tma=True),
    MatmulConfig("tma-16x32x128-w4-s6", 16, 32, 128, 8, 4, 6, tma=True),
)
BY_NAME = {c.name: c for c in CANDIDATES}

# Bucketed policy: an M bucket, then N (wide or not) picks the tile. Chosen from a side-by-side run of 16 tiles
# (H200, bf16, against cuBLAS, N 4096 and 14336, K 4096 and 14336).
WIDE_N = 8192  # from this N up, a bucket has programs enough with the wider tile
BUCKETS: tuple[tuple[int, str, str], ...] = (  # (largest M, tile for N < WIDE_N, tile for N >= WIDE_N)
    (16, "tma-16x32x128-w4-s6", "tma-16x64x128-w4-s4"),  # a GEMV in all but name: 16-row tiles, many programs
    (64, "tma-64x32x256-w4-s4", "64x128x64-w4-s4"),  # wide: TMA 64x64 lost 12% at M = 32 (H200)
    (128, "tma-64x64x64-w4-s8", "tma-64x128x64-w4-s4"),
    (256, "tma-64x64x64-w4-s6", "tma-64x128x64-w4-s4"),
    (512, "tma-128x128x64-w8-s4", "tma-128x128x64-w8-s4"),
)
# Above the last bucket: 128x256 tiles, 128x128 tiles, or both in one product. Either tile fills an SM's shared memory
# (one program per SM), so a launch runs in ceil(tiles / SMs) waves, and its last wave may be mostly idle. A wave of
# 128x128 tiles takes NARROW_WAVE_COST of a 128x256 wave: 0.54-0.56 on an H200 (bf16; docs/measurements.md,
# "Matmul"), 0.61 on an H100, by the device's name, else DEFAULT_NARROW_WAVE_COST. The plan
# (select_plan) is the cheapest under that model of: all 128x256, all 128x128, or columns [0, N1) in 128x256 tiles
# that fill whole waves and the rest in 128x128 tiles, two launches one after the other, which cost SEAM_WAVES more
# (the second launch's ramp: 2-5 us measured). Measured on both GPUs: M 1024, N 14336 from 0.86x (H100)
# and 1.00x (H200) cuBLAS to 1.01x and 1.03x; M 1536 from 0.93x to 0.98x. Every tile accumulates each element
# over K in the same order, so the plan, like the tile, is a speed choice: the mixed products equalled the
# single-tile ones bitwise on every shape measured.
LARGE_M_TILE = "tma-128x256x64-w8-s4"
LARGE_M_NARROW_TILE = "tma-128x128x64-w8-s5"
NARROW_WAVE_COST = {"H100": 0.61, "H200": 0.55}  # by a substring of the CUDA device's name
DEFAULT_NARROW_WAVE_COST = 0.55
SEAM_WAVES = 0.1
WAVE_MARGIN = 0.03  # the narrow tile alone is taken only where the model says it saves more than this
DEFAULT_SMS = 132  # H100 SXM and H200: the count assumed where no CUDA device says otherwise
POLICIES = ("bucketed", "fixed")
DEFAULT_POLICY = "bucketed"
BUCKET_EDGES = tuple(largest for largest, _, _ in BUCKETS)  # M values where the small-M buckets change config


@dataclass(frozen=True)
class Piece:
    """Columns [start, stop) of a product, computed with `config`."""

    start: int
    stop: int
    config: MatmulConfig


def flops(m: int, n: int, k: int, bias: bool = False) -> int:
    """2*M*N*K multiply-adds, plus M*N additions for the bias."""
    return 2 * m * n * k + (m * n if bias else 0)


def bytes(m: int, n: int, k: int, dtype="bf16", bias: bool = False) -> int:  # noqa: A001 (the spec's field name)
    """Fewest bytes moved: read A (M*K) and B (K*N) once, write C (M*N), read the bias (N)."""
    e = element_bytes(dtype)
    return (m * k + k * n + m * n + (n if bias else 0)) * e


def _cuda_index(device):
    """The CUDA device index meant by `device` (None: the current one), or None where it is not a CUDA device."""
    import torch

    if (device is not None and torch.device(device).type != "cuda") or not torch.cuda.is_available():
        return None
    index = torch.device(device).index if device is not None else None
    return torch.cuda.current_device() if index is None else index


def sm_count(device=None) -> int:
    """Streaming multiprocessors of a CUDA device (the current one by default); DEFAULT_SMS for any other device."""
    index = _cuda_index(device)
    return DEFAULT_SMS if index is None else _cuda_sm_count(index)


@functools.lru_cache(maxsize=None)
def _cuda_sm_count(index: int) -> int:
    import torch

    return torch.cuda.get_device_properties(index).multi_processor_count


def narrow_wave_cost(device=None) -> float:
    """A wave of 128x128 tiles as a fraction of a wave of 128x256 tiles on `device` (NARROW_WAVE_COST)."""
    index = _cuda_index(device)
    return DEFAULT_NARROW_WAVE_COST if index is None else _cuda_narrow_wave_cost(index)


@functools.lru_cache(maxsize=None)
def _cuda_narrow_wave_cost(index: int) -> float:
    import torch

    name = torch.cuda.get_device_name(index)
    return next((cost for key, cost in NARROW_WAVE_COST.items() if key in name), DEFAULT_NARROW_WAVE_COST)


def waves(m: int, n: int, config: MatmulConfig, sms: int) -> int:
    """How many rounds of one program per SM the output tiles of an (M, N) product take."""
    return -(-(-(-m // config.block_m) * -(-n // config.block_n)) // sms)


def select_config(m: int, n: int, k: int, dtype="bf16", policy: str = DEFAULT_POLICY,
                  sms: int | None = None, device=None, narrow_cost: float | None = None) -> MatmulConfig:
    """The one config for a problem. "fixed": a function of N, K and dtype only. "bucketed": also of M, through the
    small-M buckets and, above them, the waves each large tile takes on `sms` SMs (default: those of `device`, or
    of the current CUDA device; asked only above the buckets) at `narrow_cost` (default: the device's). Every config
    it returns accumulates in the same order (module doc): a speed choice only. `select_plan` may split the columns
    of a large product between two configs."""
    if policy not in POLICIES:
        raise ValueError(f"perf_kernels.matmul.select_config: policy {policy!r}; expected one of {POLICIES}")
    name = dtype_name(dtype)
    if name == "fp32":  # FMA path, registers bound: one modest tile for every M
        return BY_NAME["64x64x64-w4-s3"]
    if policy == "fixed":
        return BY_NAME["128x128x64-w8-s4"]
    for largest, narrow, wide in BUCKETS:
        if m <= largest:
            return BY_NAME[wide if n >= WIDE_N else narrow]
    sms = sms or sm_count(device)
    cost = narrow_cost or narrow_wave_cost(device)
    wide, narrow = BY_NAME[LARGE_M_TILE], BY_NAME[LARGE_M_NARROW_TILE]
    if waves(m, n, narrow, sms) * cost < waves(m, n, wide, sms) * (1 - WAVE_MARGIN):
        return narrow
    return wide


def select_plan(m: int, n: int, k: int, dtype="bf16", policy: str = DEFAULT_POLICY,
                sms: int | None = None, device=None, narrow_cost: float | None = None) -> tuple[Piece, ...]:
    """How a product's columns are computed: one Piece (select_config's config for all N columns), or, above the
    small-M buckets, two where the wave model (see LARGE_M_TILE) says 128x256 tiles filling whole waves and 128x128
    tiles for the rest cost less than the one config."""
    one = select_config(m, n, k, dtype, policy, sms, device, narrow_cost)
    if policy != "bucketed" or dtype_name(dtype) == "fp32" or m <= BUCKET_EDGES[-1]:
        return (Piece(0, n, one),)
    sms = sms or sm_count(device)
    cost = narrow_cost or narrow_wave_cost(device)
    wide, narrow = BY_NAME[LARGE_M_TILE], BY_NAME[LARGE_M_NARROW_TILE]
    best_cost = waves(m, n, one, sms) * (cost if one == narrow else 1.0)
    best = (Piece(0, n, one),)
    for n1 in wide_columns(m, n, wide, sms):
        mixed = waves(m, n1, wide, sms) + cost * waves(m, n - n1, narrow, sms) + SEAM_WAVES
        if mixed < best_cost:
            best_cost, best = mixed, (Piece(0, n1, wide), Piece(n1, n, narrow))
    return best


def wide_columns(m: int, n: int, wide: MatmulConfig, sms: int) -> list[int]:
    """The column counts N1 (0 < N1 < N) a mixed plan may give `wide` tiles: as many columns as its tiles cover when
    they fill 1, 2, ... whole waves of `sms` SMs."""
    row_tiles = -(-m // wide.block_m)
    found = (full * sms // row_tiles * wide.block_n for full in range(1, waves(m, n, wide, sms)))
    return [n1 for n1 in found if 0 < n1 < n]


def config_edges(n: int, k: int, dtype="bf16", max_m: int = 8192, sms: int | None = None) -> tuple[int, ...]:
    """The M values up to max_m at which the default policy changes its plan for (N, K): where invariance tests
    should put a row alone against batches on either side."""
    sms = sms or sm_count()
    picks = [select_plan(m, n, k, dtype, sms=sms) for m in range(1, max_m + 2)]
    return tuple(m for m in range(1, max_m + 1) if picks[m - 1] != picks[m])


@triton.jit
def grouped_tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """(row tile, column tile) of program `pid` in the grouped order: GROUP_M row tiles share each column of B
    while it is in L2. The pointer and TMA kernels share it, so they own the same tiles."""
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    first_pid_m = (pid // num_pid_in_group) * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    return first_pid_m + ((pid % num_pid_in_group) % group_size_m), (pid % num_pid_in_group) // group_size_m


@triton.jit
def _matmul_kernel(
    a_ptr, b_ptr, c_ptr, bias_ptr,
    M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    stride_ab, stride_bb, stride_cb,  # between the matrices of a batched product (program axis 1)
    HAS_BIAS: tl.constexpr,
    EVEN_K: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    batch = tl.program_id(1).to(tl.int64)
    a_ptr += batch * stride_ab
    b_ptr += batch * stride_bb
    c_ptr += batch * stride_cb

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_am = offs_m % M  # rows past M re-read valid rows; they are never stored
    offs_bn = offs_n % N
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_am[:, None].to(tl.int64) * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_bn[None, :].to(tl.int64) * stride_bn

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kk in range(0, tl.cdiv(K, BLOCK_K)):  # always from k = 0 upwards, one BLOCK_K at a time
        if EVEN_K:
            a = tl.load(a_ptrs)
            b = tl.load(b_ptrs)
        else:
            k_left = K - kk * BLOCK_K
            a = tl.load(a_ptrs, mask=offs_k[None, :] < k_left, other=0.0)
            b = tl.load(b_ptrs, mask=offs_k[:, None] < k_left, other=0.0)
        acc = tl.dot(a, b, acc, input_precision=DOT_PRECISION)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk

    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)
        acc = acc + bias[None, :]
    c = acc.to(c_ptr.dtype.element_ty)
    c_ptrs = c_ptr + offs_m[:, None].to(tl.int64) * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, c, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@triton.jit
def _matmul_tma_kernel(
    a_desc, b_desc, c_desc, bias_ptr,
    M, N, K,
    HAS_BIAS: tl.constexpr,
    B_TRANSPOSED: tl.constexpr,  # b_desc describes B^T (N, K): B was a transposed view, e.g. a Linear's weight.T
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):
    # The pointer kernel's program order, tiles and K order; only the loads differ (bulk TMA copies).
    pid_m, pid_n = grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    off_m = pid_m * BLOCK_M
    off_n = pid_n * BLOCK_N

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kk in range(0, tl.cdiv(K, BLOCK_K)):  # always from k = 0 upwards; past K the copies read zeros
        a = a_desc.load([off_m, kk * BLOCK_K])
        if B_TRANSPOSED:
            b = tl.trans(b_desc.load([off_n, kk * BLOCK_K]))
        else:
            b = b_desc.load([kk * BLOCK_K, off_n])
        acc = tl.dot(a, b, acc)

    if HAS_BIAS:
        offs_n = off_n + tl.arange(0, BLOCK_N)
        bias = tl.load(bias_ptr + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)
        acc = acc + bias[None, :]
    c_desc.store([off_m, off_n], acc.to(c_desc.dtype))  # clipped at M and N


def _tma_descriptors(a2, b2, c2, cfg: MatmulConfig):
    """(a, b, c descriptors, b transposed?) for 2-D operands, or None where TMA cannot describe them (perf_kernels.tma)."""
    b_transposed = b2.stride(-1) != 1
    bt = b2.t() if b_transposed else b2
    b_block = (cfg.block_n, cfg.block_k) if b_transposed else (cfg.block_k, cfg.block_n)
    made = tma_descriptors(((a2, (cfg.block_m, cfg.block_k)), (bt, b_block), (c2, (cfg.block_m, cfg.block_n))))
    return None if made is None else (*made, b_transposed)


def matmul(a, b, bias=None, *, config: MatmulConfig | None = None, policy: str = DEFAULT_POLICY, out=None):
    """A @ B (+ bias) for A of shape (..., K) and B of shape (K, N); the output has A's dtype.

    bf16 and fp16 run on tensor cores with fp32 accumulation; fp32 runs in IEEE fp32 (no TF32).
    """
    import torch

    if a.dtype != b.dtype or (bias is not None and bias.dtype != a.dtype):
        raise TypeError(f"perf_kernels.matmul: dtypes differ: a {a.dtype}, b {b.dtype}, bias {getattr(bias, 'dtype', None)}")
    if b.dim() != 2 or a.dim() < 1 or a.shape[-1] != b.shape[0]:
        raise ValueError(f"perf_kernels.matmul: shapes {tuple(a.shape)} @ {tuple(b.shape)}: expected (..., K) @ (K, N)")
    name = dtype_name(a.dtype)
    lead = a.shape[:-1]
    a2 = a.reshape(-1, a.shape[-1])
    m, k = a2.shape
    n = b.shape[1]
    if bias is not None and bias.shape != (n,):
        raise ValueError(f"perf_kernels.matmul: bias shape {tuple(bias.shape)}; expected ({n},)")
    if bias is not None and bias.stride(0) != 1:
        bias = bias.contiguous()  # the kernel reads the bias at unit stride (a view with stride 2, or an expand's 0)
    if out is None:
        out = torch.empty((m, n), device=a.device, dtype=a.dtype)
    elif out.shape != (m, n) or out.dtype != a.dtype:
        raise ValueError(f"perf_kernels.matmul: out is {tuple(out.shape)} {out.dtype}; expected ({m}, {n}) {a.dtype}")
    if m == 0 or n == 0:
        return out.reshape(*lead, n)
    if k == 0:
        out.zero_()
        if bias is not None:
            out += bias
        return out.reshape(*lead, n)
    plan = (Piece(0, n, config),) if config is not None else select_plan(m, n, k, name, policy, device=a.device)
    for piece in plan:  # columns [start, stop): B's, the output's and the bias's, as views
        cols = slice(piece.start, piece.stop)
        _launch(a2[None], b[None, :, cols], out[None, :, cols], None if bias is None else bias[cols], piece.config,
                name)
    return out.reshape(*lead, n)


def _launch(a3, b3, c3, bias, cfg: MatmulConfig, name: str):
    """One program per (output tile, matrix of the batch): the same tiles and K order for every matrix."""
    batch, m, k = a3.shape
    n = b3.shape[2]
    tiles = triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n)
    descriptors = _tma_descriptors(a3[0], b3[0], c3[0], cfg) if cfg.tma and batch == 1 and name != "fp32" else None
    if descriptors is not None:
        a_desc, b_desc, c_desc, b_transposed = descriptors
        _matmul_tma_kernel[(tiles,)](
            a_desc, b_desc, c_desc, bias if bias is not None else c3,
            m, n, k,
            HAS_BIAS=bias is not None, B_TRANSPOSED=b_transposed,
            BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
            num_warps=cfg.num_warps, num_stages=cfg.num_stages,
        )
        return
    grid = (tiles, batch)
    _matmul_kernel[grid](
        a3, b3, c3, bias if bias is not None else c3,
        m, n, k,
        a3.stride(1), a3.stride(2), b3.stride(1), b3.stride(2), c3.stride(1), c3.stride(2),
        a3.stride(0), b3.stride(0), c3.stride(0),
        HAS_BIAS=bias is not None,
        EVEN_K=k % cfg.block_k == 0,
        DOT_PRECISION="ieee" if name == "fp32" else "tf32",
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )


def bmm(a, b, *, config: MatmulConfig | None = None, policy: str = DEFAULT_POLICY, out=None):
    """A[i] @ B[i] for A of shape (batch, M, K) and B of shape (batch, K, N); the output has A's dtype.

    Each matrix of the batch gets the tile that `select_config` gives a problem of its (M, N, K) (one launch; no
    column plan) and so the K order, and the bits, of `matmul`: a row of one product does not depend on the other
    matrices, on their number, or on the other rows.
    """
    import torch

    if a.dtype != b.dtype:
        raise TypeError(f"perf_kernels.matmul.bmm: dtypes differ: a {a.dtype}, b {b.dtype}")
    if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"perf_kernels.matmul.bmm: shapes {tuple(a.shape)} @ {tuple(b.shape)}: expected (B, M, K) @ (B, K, N)")
    name = dtype_name(a.dtype)
    batch, m, k = a.shape
    n = b.shape[2]
    if out is None:
        out = torch.empty((batch, m, n), device=a.device, dtype=a.dtype)
    elif out.shape != (batch, m, n) or out.dtype != a.dtype:
        raise ValueError(f"perf_kernels.matmul.bmm: out is {tuple(out.shape)} {out.dtype}; expected ({batch}, {m}, {n}) {a.dtype}")
    if out.numel() == 0:
        return out
    if k == 0:
        return out.zero_()
    _launch(a, b, out, None, config or select_config(m, n, k, name, policy, device=a.device), name)
    return out


def bmm_reference(a, b):
    """A[i] @ B[i] computed in float64, returned in float64."""
    return a.double() @ b.double()


def reference(a, b, bias=None):
    """A @ B (+ bias) computed in float64 on A's device, returned in float64 (compare, then cast as needed)."""
    c = a.double() @ b.double()
    if bias is not None:
        c = c + bias.double()
    return c
