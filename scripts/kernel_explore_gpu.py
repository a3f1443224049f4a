"""Kernel speed exploration on one GPU (issue 13's targets), in one process, timed with the suite's own timer.

    OUT=out PYTHONPATH=. python3 scripts/kernel_explore_gpu.py [--parts matmul,matmul-tiles,matmul-large,matmul-waves,mean,decode,...]
    KX_SMOKE=1 TRITON_INTERPRET=1 PYTHONPATH=. python3 scripts/kernel_explore_gpu.py   # code paths on the CPU

Each part times variants of one kernel against its reference on the suite's shapes, with
perf.measure.timing.measure (device time: CUPTI for short calls, events for long ones; L2 flushed):

- matmul: the current policy; more small-M tiles of the current kernel; a split-K kernel whose split
  count S is a function of (N, K) only (fp32 partials summed in order 0..S-1 by a second kernel); a
  TMA-descriptor kernel, plain and persistent. Bits: each variant's row 0 alone (M=1) against the same row
  in the largest M, and the TMA kernel against the pointer kernel of the same tile.
- matmul-tiles: every tile of TILE_CONFIGS at M = 1 to 512 (narrow, deep, BLOCK_K 128/256, BLOCK_M 16), each
  with its row 0 compared bitwise against the policy's row 0 at M = 4096, in both layouts of B.
- matmul-large: more tiles and depths at M = 768-2048; matmul-waves: the policy's two large-M tiles at the M values
  where its wave rule chooses between them, against cuBLAS; matmul-mixed: at M 768-8192, each large tile alone and
  both in one product (128x256 columns filling whole waves, 128x128 for the rest), outputs compared whole.
- mean: rows per program and warps, and persistent rows with pipelined loads, against torch, torch.sum over the
  whole tensor and a same-size device copy.
- decode: the split kernel's fixed (split, block_n, warps, stages) against SDPA on the suite's decode shapes;
  decode-rules: the length rule's variants; decode-tma: TMA loads against pointer loads (bits against the default).
  decode-before: an earlier kernel ($KX_DECODE_BEFORE) against the current one, bits and 50 repeated calls compared.
  decode-pdl: the combine as a programmatic dependent (the default) against the plain launch order; decode-l2: the
  partials' stores marked evict_last up to PART_EVICT_MAX_CAPACITY tokens (the default) against plain and always.
  decode-launch: the module's rule with other tiles (32, 64), warps (2-8) and stages (2-4); decode-splits: rules with
  shorter longest splits (256, 512 tokens) or 32 splits wanted (other bits); decode-stages: 1-4 stages, 2 warps;
  decode-parts: the split kernel alone and the combine alone (each with the other not launched). (decode-regs, the
  combine with its registers capped, was measured at ca9369b and removed with the option.)
  decode-combine: the current kernel against $KX_DECODE_BEFORE, that kernel's split kernel alone (its combine's
  cost), and the combine with other warps and chunks.
- mean-flush: mean, rms_norm, torch's mean and sum and a copy after the suite's flush (a zero_() that leaves the L2
  dirty) and after a clean one (a read of another buffer), on one event timer; and on the suite's timer.
- prefill: the flash kernel's fixed (block_m, block_n, warps, stages) against SDPA, causal; and an earlier kernel
  ($KX_PREFILL_BEFORE, else .abrepo/attention_before_fix.py, if present) against now, bits included.

Writes $OUT/kernel_explore.json; prints a short table last.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

import importlib  # noqa: E402

attn = importlib.import_module("perf_kernels.attention")  # modules, not the functions kernels/__init__ exports
da = importlib.import_module("perf_kernels.decode_attention")
mm = importlib.import_module("perf_kernels.matmul")
mean_mod = importlib.import_module("perf_kernels.mean")

SMOKE = os.environ.get("KX_SMOKE") == "1"
DEV = "cpu" if SMOKE else "cuda"
DT = torch.float16 if SMOKE else torch.bfloat16


# ------------------------------------------------------------------------------------------- timing

def make_timer():
    if SMOKE:
        def host(fn):
            fn()
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) * 1e3
        return host
    from perf import gpus
    from perf.measure import timing
    from perf.measure.target import Target
    from perf.spec import Prepared

    present = gpus.detect()
    target = Target(gpu=present, present=present)
    settings = timing.TimingSettings(warmup_ms=100.0, min_time_s=0.1, max_time_s=0.6)
    return lambda fn: timing.measure(Prepared(fn=fn), target, settings).summary().median_ms


# ------------------------------------------------------------------------------------------- matmul variants

@triton.jit
def _splitk_kernel(a_ptr, b_ptr, ws_ptr, M, N, K, K_CHUNK,
                   stride_am, stride_ak, stride_bk, stride_bn, stride_ws,
                   EVEN: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                   GROUP_M: tl.constexpr):
    s = tl.program_id(1)
    pid_m, pid_n = mm.grouped_tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_am = offs_m % M
    offs_bn = offs_n % N
    offs_k = tl.arange(0, BLOCK_K)
    k0 = s * K_CHUNK
    a_ptrs = a_ptr + offs_am[:, None].to(tl.int64) * stride_am + (k0 + offs_k)[None, :] * stride_ak
    b_ptrs = b_ptr + (k0 + offs_k)[:, None] * stride_bk + offs_bn[None, :].to(tl.int64) * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kk in range(0, tl.cdiv(K_CHUNK, BLOCK_K)):
        if EVEN:
            a = tl.load(a_ptrs)
            b = tl.load(b_ptrs)
        else:
            k_left = tl.minimum(K - k0, K_CHUNK) - kk * BLOCK_K
            a = tl.load(a_ptrs, mask=offs_k[None, :] < k_left, other=0.0)
            b = tl.load(b_ptrs, mask=offs_k[:, None] < k_left, other=0.0)
        acc = tl.dot(a, b, acc)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    w_ptrs = ws_ptr + s.to(tl.int64) * stride_ws + offs_m[:, None].to(tl.int64) * N + offs_n[None, :]
    tl.store(w_ptrs, acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@triton.jit
def _splitk_reduce(ws_ptr, c_ptr, total, S, stride_ws, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    acc = tl.load(ws_ptr + offs, mask=mask, other=0.0)
    for s in range(1, S):  # in order 0, 1, 2, ...
        acc += tl.load(ws_ptr + s * stride_ws + offs, mask=mask, other=0.0)
    tl.store(c_ptr + offs, acc.to(c_ptr.dtype.element_ty), mask=mask)


def splitk_matmul(a, b, splits, cfg, ws):
    m, k = a.shape
    n = b.shape[1]
    chunk = triton.cdiv(triton.cdiv(k, splits), cfg.block_k) * cfg.block_k
    c = torch.empty((m, n), device=a.device, dtype=a.dtype)
    grid = (triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n), splits)
    _splitk_kernel[grid](a, b, ws, m, n, k, chunk, a.stride(0), a.stride(1), b.stride(0), b.stride(1), m * n,
                         EVEN=(chunk * splits == k), BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k,
                         GROUP_M=cfg.group_m, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
    _splitk_reduce[(triton.cdiv(m * n, 1024),)](ws, c, m * n, splits, m * n, BLOCK=1024, num_warps=4)
    return c


@triton.jit
def _tma_persistent_kernel(a_desc, b_desc, c_desc, M, N, K, NUM_SMS: tl.constexpr,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                           GROUP_M: tl.constexpr, FLATTEN: tl.constexpr, WS: tl.constexpr):
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    k_tiles = tl.cdiv(K, BLOCK_K)
    num_tiles = num_pid_m * num_pid_n
    for tile in tl.range(tl.program_id(0), num_tiles, NUM_SMS, flatten=FLATTEN, warp_specialize=WS):
        pid_m, pid_n = mm.grouped_tile(tile, M, N, BLOCK_M, BLOCK_N, GROUP_M)
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for kk in range(k_tiles):
            a = a_desc.load([pid_m * BLOCK_M, kk * BLOCK_K])
            b = b_desc.load([kk * BLOCK_K, pid_n * BLOCK_N])
            acc = tl.dot(a, b, acc)
        c_desc.store([pid_m * BLOCK_M, pid_n * BLOCK_N], acc.to(c_desc.dtype))


def _descs(a, b, c, cfg):
    from triton.tools.tensor_descriptor import TensorDescriptor

    return (TensorDescriptor.from_tensor(a, [cfg.block_m, cfg.block_k]),
            TensorDescriptor.from_tensor(b, [cfg.block_k, cfg.block_n]),
            TensorDescriptor.from_tensor(c, [cfg.block_m, cfg.block_n]))


def tma_matmul(a, b, cfg, c):
    """The module's TMA kernel (perf_kernels.matmul) with this tile."""
    return mm.matmul(a, b, config=dataclasses.replace(cfg, tma=True), out=c)


def tma_persistent(a, b, cfg, c, flatten=False, ws=False, sms=132):
    m, k = a.shape
    n = b.shape[1]
    da_, db_, dc_ = _descs(a, b, c, cfg)
    tiles = triton.cdiv(m, cfg.block_m) * triton.cdiv(n, cfg.block_n)
    _tma_persistent_kernel[(min(sms, tiles),)](da_, db_, dc_, m, n, k, NUM_SMS=min(sms, tiles), BLOCK_M=cfg.block_m,
                                               BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m,
                                               FLATTEN=flatten, WS=ws, num_warps=cfg.num_warps,
                                               num_stages=cfg.num_stages)
    return c


C = mm.MatmulConfig
SMALL_TILES = (C("64x16x64-w4-s6", 64, 16, 64, 8, 4, 6), C("64x16x64-w4-s8", 64, 16, 64, 8, 4, 8),
               C("64x32x64-w4-s8", 64, 32, 64, 8, 4, 8), C("64x64x64-w4-s6", 64, 64, 64, 8, 4, 6),
               C("64x128x64-w4-s4", 64, 128, 64, 8, 4, 4), C("64x64x64-w4-s8", 64, 64, 64, 8, 4, 8))
SPLIT_TILES = (C("64x64x64-w4-s5", 64, 64, 64, 8, 4, 5), C("64x128x64-w4-s4", 64, 128, 64, 8, 4, 4),
               C("128x128x64-w8-s4", 128, 128, 64, 8, 8, 4), C("128x256x64-w8-s3", 128, 256, 64, 8, 8, 3))
TMA_TILES = (C("128x256x64-w8-s3", 128, 256, 64, 8, 8, 3), C("128x256x64-w8-s4", 128, 256, 64, 8, 8, 4),
             C("128x128x64-w8-s4", 128, 128, 64, 8, 8, 4), C("64x64x64-w4-s6", 64, 64, 64, 8, 4, 6),
             C("64x32x64-w4-s8", 64, 32, 64, 8, 4, 8))


def part_matmul(bench, rows):
    shapes = {"n4096k4096": (4096, 4096), "n14336k4096": (14336, 4096), "n4096k14336": (4096, 14336)}
    ms = (1, 16, 64, 1024, 4096)
    if SMOKE:
        shapes, ms = {"n96k128": (96, 128)}, (1, 70)
    for sname, (n, k) in shapes.items():
        g = torch.Generator(device=DEV).manual_seed(0)
        a_full = torch.randn(max(ms), k, device=DEV, dtype=DT, generator=g)
        b = torch.randn(k, n, device=DEV, dtype=DT, generator=g) / math.sqrt(k)
        ref_full = torch.matmul(a_full, b)
        ws = torch.empty(8 * max(ms) * n, device=DEV, dtype=torch.float32)
        variants = {"policy": lambda a: mm.matmul(a, b)}
        variants.update({f"tile:{c.name}": (lambda a, c=c: mm.matmul(a, b, config=c)) for c in SMALL_TILES})
        for s in (2, 4, 8):
            for c in SPLIT_TILES:
                variants[f"split{s}:{c.name}"] = lambda a, s=s, c=c: splitk_matmul(a, b, s, c, ws)
        for c in TMA_TILES:
            variants[f"tma:{c.name}"] = lambda a, c=c: tma_matmul(a, b, c, torch.empty(a.shape[0], n, device=DEV,
                                                                                        dtype=DT))
        for c in TMA_TILES[:2]:
            for fl, wsp in ((False, False), (True, False), (False, True)):
                variants[f"tmap{'F' if fl else ''}{'W' if wsp else ''}:{c.name}"] = (
                    lambda a, c=c, fl=fl, wsp=wsp: tma_persistent(a, b, c, torch.empty(a.shape[0], n, device=DEV,
                                                                                         dtype=DT), fl, wsp))
        row0 = {}
        for m in ms:
            a = a_full[:m]
            t_ref = bench(lambda: torch.matmul(a, b))
            rows.append(dict(part="matmul", shape=f"{sname}:m{m}", variant="cuBLAS", ms=t_ref, ratio=1.0))
            for vname, fn in variants.items():
                big = m >= 1024
                if vname.startswith("tile:") and big:
                    continue
                tile = vname.split(":")[-1]
                if vname.startswith("split") and (tile.startswith("128x256") != big):
                    continue
                if vname.startswith("tma") and not big and "64x" not in vname.split(":")[1][:3]:
                    continue
                try:
                    out = fn(a)
                    err = ((out.float() - ref_full[:m].float()).norm() / ref_full[:m].float().norm()).item()
                    t = bench(lambda: fn(a))
                    row0.setdefault(vname, {})[m] = out[0].clone()
                    rows.append(dict(part="matmul", shape=f"{sname}:m{m}", variant=vname, ms=t, ratio=t_ref / t,
                                     rel_error=err))
                except Exception as exc:  # a variant that does not compile here is a finding, not a crash
                    rows.append(dict(part="matmul", shape=f"{sname}:m{m}", variant=vname, error=repr(exc)[:300]))
        families = {}
        for vname, by_m in row0.items():  # a family (policy, split S, tma) across its tiles and M
            for m, r in by_m.items():
                families.setdefault(vname.split(":")[0].rstrip("FW"), []).append((m, vname, r))
        for fam, got in families.items():
            if len({m for m, _, _ in got}) > 1:
                first = min(got, key=lambda t: t[0])
                rows.append(dict(part="matmul-bits", shape=sname, variant=f"family {fam}",
                                 row0_equal_across_m=all(torch.equal(first[2], r) for _, _, r in got),
                                 differing=sorted({f"{v}@m{m}" for m, v, r in got if not torch.equal(first[2], r)})[:6]))
        for vname, by_m in row0.items():
            if len(by_m) > 1:
                first = by_m[min(by_m)]
                same = all(torch.equal(first, r) for r in by_m.values())
                rows.append(dict(part="matmul-bits", shape=sname, variant=vname, ms_values=sorted(by_m),
                                 row0_equal_across_m=same))
        # TMA vs pointer kernel of the same tile: the same bits?
        a = a_full[:4096]
        for c in TMA_TILES[:3]:
            try:
                same = torch.equal(mm.matmul(a, b, config=c), tma_matmul(a, b, c, torch.empty(a.shape[0], n,
                                                                                               device=DEV, dtype=DT)))
                rows.append(dict(part="matmul-bits", shape=sname, variant=f"tma-vs-pointer:{c.name}",
                                 equal=same))
            except Exception as exc:
                rows.append(dict(part="matmul-bits", shape=sname, variant=f"tma-vs-pointer:{c.name}",
                                 error=repr(exc)[:300]))
        del a_full, ws, ref_full
        if not SMOKE:
            torch.cuda.empty_cache()


# Issue 13's matmul at M = 1-8 (0.72-0.80x cuBLAS in round 6) and M = 128-512 (0.62-0.80x): narrower and deeper
# tiles, longer BLOCK_K, BLOCK_M = 16 (mma.sync instead of the warpgroup MMA: the bits must be checked), TMA or
# pointer loads. Every (tile, M) is timed and its row 0 compared bitwise with row 0 of the policy at M = 4096, in
# the suite's layout (B as (K, N)) and in a Linear's (B = weight.T).
TILE_CONFIGS = (
    C("tma-64x64x64-w4-s6", 64, 64, 64, 8, 4, 6, tma=True), C("tma-64x32x64-w4-s8", 64, 32, 64, 8, 4, 8, tma=True),
    C("tma-64x16x64-w4-s8", 64, 16, 64, 8, 4, 8, tma=True), C("tma-64x32x128-w4-s6", 64, 32, 128, 8, 4, 6, tma=True),
    C("tma-64x64x128-w4-s4", 64, 64, 128, 8, 4, 4, tma=True), C("tma-64x16x128-w4-s8", 64, 16, 128, 8, 4, 8, tma=True),
    C("tma-64x32x256-w4-s4", 64, 32, 256, 8, 4, 4, tma=True), C("tma-16x32x128-w4-s6", 16, 32, 128, 8, 4, 6, tma=True),
    C("tma-16x64x128-w4-s4", 16, 64, 128, 8, 4, 4, tma=True), C("tma-16x16x256-w4-s4", 16, 16, 256, 8, 4, 4, tma=True),
    C("16x32x128-w4-s6", 16, 32, 128, 8, 4, 6),
    C("tma-64x128x64-w4-s4", 64, 128, 64, 8, 4, 4, tma=True), C("tma-128x128x64-w8-s4", 128, 128, 64, 8, 8, 4, tma=True),
    C("tma-64x64x64-w4-s8", 64, 64, 64, 8, 4, 8, tma=True),
    C("64x128x64-w4-s4", 64, 128, 64, 8, 4, 4), C("64x64x64-w4-s8", 64, 64, 64, 8, 4, 8),
)
TILE_MS = (1, 8, 16, 64, 128, 256, 512)

# Large M, where the policy has one tile (128x256): wave quantization at M = 1024 (N 14336: 448 tiles on 132 SMs)
# against smaller or taller tiles and other depths. The bits are compared with the policy's at M = 4096, as above.
LARGE_CONFIGS = (
    C("tma-128x256x64-w8-s3", 128, 256, 64, 8, 8, 3, tma=True), C("tma-128x128x64-w8-s5", 128, 128, 64, 8, 8, 5, tma=True),
    C("tma-128x128x64-w8-s4", 128, 128, 64, 8, 8, 4, tma=True), C("tma-128x128x64-w4-s4", 128, 128, 64, 8, 4, 4, tma=True),
    C("tma-256x128x64-w8-s3", 256, 128, 64, 8, 8, 3, tma=True), C("tma-64x256x64-w4-s4", 64, 256, 64, 8, 4, 4, tma=True),
    C("tma-128x256x64-w8-s4-g4", 128, 256, 64, 4, 8, 4, tma=True),
    C("tma-128x256x64-w8-s4-g16", 128, 256, 64, 16, 8, 4, tma=True),
    C("tma-128x128x128-w8-s3", 128, 128, 128, 8, 8, 3, tma=True),
)
LARGE_MS = (768, 1024, 2048)


def part_matmul_large(bench, rows):
    if SMOKE:
        return part_matmul_tiles(bench, rows, ms=(40, 70), configs=LARGE_CONFIGS[2:4])
    return part_matmul_tiles(bench, rows, ms=LARGE_MS, configs=LARGE_CONFIGS)


# The large-M rule (perf_kernels.matmul.select_config: 128x256 or 128x128 tiles by the waves they take on the SMs) at M
# values it predicts for and that section 29 did not measure, and at its edges.
WAVE_MS = (513, 640, 768, 896, 1024, 1025, 1152, 1536, 2048, 2049, 2560)


def part_matmul_waves(bench, rows):
    configs = (mm.BY_NAME[mm.LARGE_M_TILE], mm.BY_NAME[mm.LARGE_M_NARROW_TILE])
    return part_matmul_tiles(bench, rows, ms=(40, 70) if SMOKE else WAVE_MS, configs=configs)


# Large M, wide and narrow tiles in one product: columns [0, N1) in 128x256 tiles, [N1, N) in 128x128 tiles, two
# launches one after the other. N1 is chosen so that the wide launch fills whole waves of the SMs and the narrow one
# takes the rest: the last wave of a single-tile launch is the loss (M 1024, N 14336: 448 wide tiles take 4 waves on
# 132 SMs, 3.39 of work). Every element still accumulates over K from 0 in BLOCK_K 64 steps: the output is compared
# whole with the narrow-only and the wide-only launch.
MIXED_MS = (768, 1024, 1536, 2048, 3072, 4096, 8192)


def mixed_matmul(a, b, out, n1, wide, narrow):
    """out[:, :n1] in `wide` tiles, out[:, n1:] in `narrow` tiles: two launches of the module's kernel."""
    mm.matmul(a, b[:, :n1], config=wide, out=out[:, :n1])
    mm.matmul(a, b[:, n1:], config=narrow, out=out[:, n1:])
    return out


def part_matmul_mixed(bench, rows):
    shapes = {"n14336k4096": (14336, 4096), "n4096k4096": (4096, 4096), "n4096k14336": (4096, 14336)}
    wide, narrow = mm.BY_NAME[mm.LARGE_M_TILE], mm.BY_NAME[mm.LARGE_M_NARROW_TILE]
    wide3 = mm.MatmulConfig("tma-128x256x64-w8-s3", 128, 256, 64, 8, 8, 3, tma=True)
    ms, sms = MIXED_MS, mm.sm_count()
    if SMOKE:
        shapes, ms, sms = {"n96k128": (96, 128)}, (40, 70), 2
        wide, narrow, wide3 = (mm.MatmulConfig("w", 32, 32, 64, 8, 4, 2), mm.MatmulConfig("n", 32, 16, 64, 8, 4, 2),
                               mm.MatmulConfig("w3", 32, 32, 64, 8, 4, 3))
    for sname, (n, k) in shapes.items():
        g = torch.Generator(device=DEV).manual_seed(0)
        a_full = torch.randn(max(ms), k, device=DEV, dtype=DT, generator=g)
        b = torch.randn(k, n, device=DEV, dtype=DT, generator=g) / math.sqrt(k)
        for m in ms:
            a = a_full[:m]
            out = torch.empty(m, n, device=DEV, dtype=DT)
            t_ref = bench(lambda: torch.matmul(a, b, out=out))
            shape = f"{sname}:m{m}"
            rows.append(dict(part="mixed", shape=shape, variant="cuBLAS", ms=t_ref, ratio=1.0))
            policy = mm.select_config(m, n, k)
            rows.append(dict(part="mixed", shape=shape, variant=f"policy:{policy.name}",
                             ms=(t := bench(lambda: mm.matmul(a, b, out=out))), ratio=t_ref / t))
            narrow_out = mm.matmul(a, b, config=narrow).clone()
            for c in (wide, narrow, wide3):
                t = bench(lambda c=c: mm.matmul(a, b, config=c, out=out))
                rows.append(dict(part="mixed", shape=shape, variant=f"only:{c.name}", ms=t, ratio=t_ref / t,
                                 waves=mm.waves(m, n, c, sms),
                                 equal_narrow=torch.equal(mm.matmul(a, b, config=c), narrow_out)))
            for n1 in mm.wide_columns(m, n, wide, sms)[-2:]:  # wide tiles filling all but the last wave, or two
                for wname, wcfg in (("", wide), ("s3", wide3)):
                    fn = lambda n1=n1, wcfg=wcfg: mixed_matmul(a, b, out, n1, wcfg, narrow)  # noqa: E731
                    try:
                        same = torch.equal(fn(), narrow_out)
                        t = bench(fn)
                        rows.append(dict(part="mixed", shape=shape, variant=f"mixed{wname}:N1={n1}", ms=t,
                                         ratio=t_ref / t, equal_narrow=same,
                                         wide_waves=mm.waves(m, n1, wcfg, sms),
                                         narrow_waves=mm.waves(m, n - n1, narrow, sms)))
                    except Exception as exc:
                        rows.append(dict(part="mixed", shape=shape, variant=f"mixed{wname}:N1={n1}",
                                         error=repr(exc)[:300]))
        del a_full, b
        if not SMOKE:
            torch.cuda.empty_cache()


def mixed_summary(rows) -> list[str]:
    got = [r for r in rows if r["part"] == "mixed" and r.get("ratio") is not None]
    lines = []
    for shape in dict.fromkeys(r["shape"] for r in got):
        here = [r for r in got if r["shape"] == shape]
        pol = next(r for r in here if r["variant"].startswith("policy"))
        only = " ".join(f"{r['variant'][5:]} {r['ratio']:.2f}" for r in here if r["variant"].startswith("only"))
        mixed = [r for r in here if r["variant"].startswith("mixed")]
        best = max(mixed, key=lambda r: r["ratio"], default=None)
        bits = all(r.get("equal_narrow") for r in here if "equal_narrow" in r)
        lines.append(f"mixed {shape:<18} policy {pol['ratio']:.2f} | {only} | best mixed "
                     + (f"{best['ratio']:.2f} {best['variant']}" if best else "-") + f" | bits = narrow's: {bits}")
    return lines


def part_matmul_tiles(bench, rows, ms=TILE_MS, configs=TILE_CONFIGS):
    shapes = {"n4096k4096": (4096, 4096), "n14336k4096": (14336, 4096), "n4096k14336": (4096, 14336)}
    big = 4096
    if SMOKE and configs is TILE_CONFIGS:
        ms, configs = (1, 20), TILE_CONFIGS[:3] + TILE_CONFIGS[7:8]
    if SMOKE:
        shapes, big = {"n96k128": (96, 128)}, 70
    for sname, (n, k) in shapes.items():
        g = torch.Generator(device=DEV).manual_seed(0)
        a_full = torch.randn(big, k, device=DEV, dtype=DT, generator=g)
        b = torch.randn(k, n, device=DEV, dtype=DT, generator=g) / math.sqrt(k)
        bt = b.t().contiguous().t()  # the same values as a Linear's weight.T: (N, K) storage
        want = {"kn": mm.matmul(a_full, b)[0].clone(), "weight.T": mm.matmul(a_full, bt)[0].clone()}
        for m in ms:
            a = a_full[:m]
            out = torch.empty(m, n, device=DEV, dtype=DT)
            t_ref = bench(lambda: torch.matmul(a, b, out=out))
            rows.append(dict(part="tiles", shape=f"{sname}:m{m}", variant="cuBLAS", ms=t_ref, ratio=1.0))
            policy = mm.select_config(m, n, k)
            t_pol = bench(lambda: mm.matmul(a, b, out=out))
            rows.append(dict(part="tiles", shape=f"{sname}:m{m}", variant=f"policy:{policy.name}", ms=t_pol,
                             ratio=t_ref / t_pol))
            for c in configs:
                try:
                    got = mm.matmul(a, b, config=c, out=out)
                    same = torch.equal(got[0], want["kn"])
                    same_t = torch.equal(mm.matmul(a, bt, config=c)[0], want["weight.T"]) if m <= 16 else None
                    t = bench(lambda c=c: mm.matmul(a, b, config=c, out=out))
                    rows.append(dict(part="tiles", shape=f"{sname}:m{m}", variant=c.name, ms=t, ratio=t_ref / t,
                                     row0_equal=same, row0_equal_weight_t=same_t))
                except Exception as exc:  # a tile that does not compile here is a finding, not a crash
                    rows.append(dict(part="tiles", shape=f"{sname}:m{m}", variant=c.name, error=repr(exc)[:300]))
        del a_full, b, bt
        if not SMOKE:
            torch.cuda.empty_cache()


def tiles_summary(rows) -> list[str]:
    tiles = [r for r in rows if r["part"] == "tiles" and r.get("ratio") is not None]
    lines = []
    for shape in dict.fromkeys(r["shape"] for r in tiles):
        here = [r for r in tiles if r["shape"] == shape]
        pol = next(r for r in here if r["variant"].startswith("policy"))
        same = [r for r in here if r.get("row0_equal") and r.get("row0_equal_weight_t") is not False]
        best = max(same, key=lambda r: r["ratio"], default=None)
        lines.append(f"tiles {shape:<18} policy {pol['ratio']:.2f}  best with the same bits "
                     + (f"{best['ratio']:.2f} {best['variant']}" if best else "-"))
    differ = sorted({r["variant"] for r in tiles if r.get("row0_equal") is False or r.get("row0_equal_weight_t") is False})
    lines.append(f"tiles whose row 0 differs from the policy's at M = 4096: {differ}")
    return lines


# ------------------------------------------------------------------------------------------- mean variants

@triton.jit
def _mean_rows2d(x_ptr, y_ptr, M, N, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + rows[:, None].to(tl.int64) * N + cols[None, :], mask=(rows[:, None] < M) & (cols[None, :] < N),
                other=0.0)
    total = tl.sum(x.to(tl.float32), axis=1) / N
    tl.store(y_ptr + rows, total.to(y_ptr.dtype.element_ty), mask=rows < M)


@triton.jit
def _mean_rows_loop(x_ptr, y_ptr, M, N, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    for r in tl.static_range(ROWS):
        row = tl.program_id(0) * ROWS + r
        if row < M:
            x = tl.load(x_ptr + row * N + cols, mask=cols < N, other=0.0)  # 32-bit offsets: x has < 2**31 elements
            total = tl.sum(x.to(tl.float32), axis=0) / N
            tl.store(y_ptr + row, total.to(y_ptr.dtype.element_ty))


@triton.jit
def _mean_persistent(x_ptr, y_ptr, M, N, BLOCK: tl.constexpr, STAGES: tl.constexpr):
    """Rows pid, pid + grid, ...: the next rows' loads are in flight (software-pipelined through shared memory)
    while this row is reduced. Each row's reduction is the current kernel's (same block, same warps)."""
    cols = tl.arange(0, BLOCK)
    for row in tl.range(tl.program_id(0), M, tl.num_programs(0), num_stages=STAGES):
        x = tl.load(x_ptr + row * N + cols, mask=cols < N, other=0.0)  # 32-bit offsets: x has < 2**31 elements
        total = tl.sum(x.to(tl.float32), axis=0) / N
        tl.store(y_ptr + row, total.to(y_ptr.dtype.element_ty))


def _copy_ms_gbs(bench, src) -> tuple[float, float]:
    """The suite's time of a device-to-device copy of `src` and the bytes it moves (read and written) per second."""
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src))
    return ms, 2 * src.numel() * src.element_size() / (ms * 1e-3) / 1e9


def part_mean(bench, rows):
    hidden = 64 if SMOKE else 4096
    for tokens in ((4, 16) if SMOKE else (1024, 4096, 8192)):
        x = torch.randn(tokens, hidden, device=DEV, dtype=DT)
        y = torch.empty(tokens, device=DEV, dtype=DT)
        nbytes = (tokens * hidden + tokens) * x.element_size()
        t_copy, copy_gbs = _copy_ms_gbs(bench, x)
        t_torch = bench(lambda: torch.mean(x, dim=-1))
        ref = mean_mod.mean(x)
        shape = f"h{hidden}:tok{tokens}"
        rows.append(dict(part="mean", shape=shape, variant="copy", ms=t_copy, gbs=copy_gbs))
        rows.append(dict(part="mean", shape=shape, variant="torch", ms=t_torch, gbs=nbytes / (t_torch * 1e-3) / 1e9))
        t_sum = bench(lambda: torch.sum(x))  # one reduction of everything: what reading x can cost
        rows.append(dict(part="mean", shape=shape, variant="torch-sum-all", ms=t_sum, gbs=nbytes / (t_sum * 1e-3) / 1e9,
                         pct_of_copy=100 * nbytes / (t_sum * 1e-3) / 1e9 / copy_gbs))
        variants = {"current": lambda: mean_mod.mean(x, out=y)}
        sms = 4 if SMOKE else torch.cuda.get_device_properties(0).multi_processor_count
        for per_sm in (2, 4, 8):
            for stages in (2, 3, 4):
                for w in (4, 8):
                    variants[f"persist-p{per_sm}-s{stages}-w{w}"] = lambda p=per_sm, st=stages, w=w: _mean_persistent[
                        (min(tokens, sms * p),)](x, y, tokens, hidden, BLOCK=hidden, STAGES=st, num_warps=w)
        for w in (4, 16):
            variants[f"single-w{w}"] = lambda w=w: mean_mod._mean_kernel[(tokens,)](
                x, y, hidden, DIVIDE=True, SINGLE=True, BLOCK=hidden, EVICT="", num_warps=w)
        for r in (2, 4, 8):
            for w in (4, 8, 16):
                variants[f"2d-r{r}-w{w}"] = lambda r=r, w=w: _mean_rows2d[(triton.cdiv(tokens, r),)](
                    x, y, tokens, hidden, ROWS=r, BLOCK=hidden, num_warps=w)
            variants[f"loop-r{r}-w8"] = lambda r=r: _mean_rows_loop[(triton.cdiv(tokens, r),)](
                x, y, tokens, hidden, ROWS=r, BLOCK=hidden, num_warps=8)
        for vname, fn in variants.items():
            try:
                fn()
                equal = torch.equal(y, ref)
                t = bench(fn)
                rows.append(dict(part="mean", shape=shape, variant=vname, ms=t, gbs=nbytes / (t * 1e-3) / 1e9,
                                 pct_of_copy=100 * nbytes / (t * 1e-3) / 1e9 / copy_gbs, vs_torch=t_torch / t,
                                 bits_equal_current=equal))
            except Exception as exc:
                rows.append(dict(part="mean", shape=shape, variant=vname, error=repr(exc)[:300]))


def _event_ms(fn, flush, reps: int) -> float:
    """Median CUDA-event time of fn over `reps` samples, each after `flush` (the same timer for every flush kind).
    A spin kernel queued first holds the GPU while the host queues every sample, so no sample waits for the host
    (section 40: without it, a flush shorter than the host's launch of the next call timed that gap too)."""
    from perf.measure import timing

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    torch.cuda._sleep(int(50.0 * timing.sleep_cycles_per_ms()))  # 50 ms: more than the host needs to queue reps
    pairs = []
    for _ in range(reps):
        flush()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        pairs.append((start, end))
    torch.cuda.synchronize()
    times = sorted(s.elapsed_time(e) for s, e in pairs)
    return times[len(times) // 2]


def part_mean_flush(bench, rows):
    """The suite's cold L2 is a zero_() of a buffer twice the L2: it leaves the L2 full of dirty lines, whose
    write-backs a kernel that only reads pays for as it evicts them. Here mean, rms_norm, torch.sum and a copy of the
    same tensor are timed after that flush ("dirty") and after a read of another buffer twice the L2 ("clean": the
    dirty lines are written back before the sample), with one event timer for both."""
    if SMOKE:
        return
    rms_mod = importlib.import_module("perf_kernels.rms_norm")
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    dirty_buf = torch.empty(max(2 * l2, 64 * 2**20), dtype=torch.int8, device=DEV)
    clean_buf = torch.ones(max(2 * l2, 64 * 2**20) // 4, dtype=torch.float32, device=DEV)
    flushes = {"dirty": dirty_buf.zero_, "clean": lambda: (dirty_buf.zero_(), clean_buf.max())}
    hidden = 4096
    for tokens in (1024, 4096, 8192, 32768):
        x = torch.randn(tokens, hidden, device=DEV, dtype=DT)
        y = torch.empty(tokens, device=DEV, dtype=DT)
        z = torch.empty_like(x)
        w = torch.ones(hidden, device=DEV, dtype=DT)
        size = x.numel() * x.element_size()
        work = {"copy": (lambda: z.copy_(x), 2 * size), "mean": (lambda: mean_mod.mean(x, out=y), size),
                "torch-mean": (lambda: torch.mean(x, dim=-1), size), "torch-sum-all": (lambda: torch.sum(x), size),
                "rms_norm": (lambda: rms_mod.rms_norm(x, w, out=z), 2 * size)}
        for name, (fn, nbytes) in work.items():  # the suite's own timer (its flush is the dirty one)
            t = bench(fn)
            rows.append(dict(part="mean-flush", shape=f"h{hidden}:tok{tokens}", variant=f"{name}:suite", ms=t,
                             gbs=nbytes / (t * 1e-3) / 1e9))
        for flush_name, flush in flushes.items():
            for name, (fn, nbytes) in work.items():
                t = _event_ms(fn, flush, reps=40)
                rows.append(dict(part="mean-flush", shape=f"h{hidden}:tok{tokens}", variant=f"{name}:{flush_name}",
                                 ms=t, gbs=nbytes / (t * 1e-3) / 1e9))
        del x, z


def part_rows_evict(bench, rows):
    """mean with its loads of x marked evict_first (perf_kernels.mean.LOAD_EVICT, the module's policy now), with the default
    policy and with evict_last, on the suite's own timer (its dirty flush), as % of a same-size copy and of a 2 GiB
    copy. (evict_last is not a candidate: its lines outlive the suite's flush, so the next sample finds x in L2.)"""
    hidden = 64 if SMOKE else 4096
    t_big, big_gbs = _copy_ms_gbs(bench, torch.empty((16 if SMOKE else 2**30) // 2, device=DEV, dtype=DT))
    rows.append(dict(part="rows-evict", shape="copy-2GiB", variant="copy", ms=t_big, gbs=big_gbs))
    module_policy = mean_mod.LOAD_EVICT
    for tokens in ((4, 16) if SMOKE else (256, 512, 1024, 4096, 8192, 32768)):
        x = torch.randn(tokens, hidden, device=DEV, dtype=DT)
        y = torch.empty(tokens, device=DEV, dtype=DT)
        size = x.numel() * x.element_size()
        shape = f"h{hidden}:tok{tokens}"
        t_copy, copy_gbs = _copy_ms_gbs(bench, x)
        rows.append(dict(part="rows-evict", shape=shape, variant="copy", ms=t_copy, gbs=copy_gbs))
        default = mean_mod.mean(x)
        for evict in (module_policy, "", "evict_last"):
            mean_mod.LOAD_EVICT = evict
            try:
                mean_mod.mean(x, out=y)
                same = torch.equal(y, default)
                t = bench(lambda: mean_mod.mean(x, out=y))
                gbs = size / (t * 1e-3) / 1e9
                rows.append(dict(part="rows-evict", shape=shape, variant=f"mean:{evict or 'no-policy'}", ms=t,
                                 gbs=gbs, pct_of_copy=100 * gbs / copy_gbs, pct_of_2gib=100 * gbs / big_gbs,
                                 bits_equal_default=same))
            finally:
                mean_mod.LOAD_EVICT = module_policy
        del x


def rows_evict_summary(rows) -> list[str]:
    lines = []
    got = [r for r in rows if r["part"] == "rows-evict" and r.get("pct_of_copy") is not None]
    for shape in dict.fromkeys(r["shape"] for r in got):
        cells = [f"{r['variant']} {r['pct_of_copy']:.0f}%/{r['pct_of_2gib']:.0f}%"
                 + ("" if r["bits_equal_default"] else " BITS DIFFER") for r in got if r["shape"] == shape]
        lines.append(f"rows-evict {shape} (% of same-size / 2 GiB copy): " + ", ".join(cells))
    return lines


# ------------------------------------------------------------------------------------------- decode attention

DECODE_CONFIGS = ((256, 64, 4, 2), (512, 64, 4, 3), (512, 64, 8, 3), (1024, 64, 4, 3), (128, 64, 4, 3),
                  (256, 64, 8, 3))


# The length rule (perf_kernels.decode_attention.SplitRule) with fewer or more splits wanted, and 2 or 3 stages.
DECODE_RULE_CONFIGS = tuple((da.SplitRule(128, 1024, wanted), 64, 4, stages) for wanted in (16, 8) for stages in (2, 3)) \
    + ((da.SplitRule(128, 2048, 16), 64, 4, 3), (da.SplitRule(64, 1024, 16), 64, 4, 3))


# TMA loads of the key and value tiles (decode_attention(tma=True)) against pointer loads, with the module's rule,
# 2-4 stages, and 128-token tiles (which change the split rounding, so their bits may differ from the default's).
DECODE_TMA_CONFIGS = tuple((da.SPLIT, 64, 4, st, tma) for tma in (False, True) for st in (2, 3, 4)) \
    + ((da.SPLIT, 128, 4, 2, True), (da.SPLIT, 128, 4, 3, True), (da.SPLIT, 128, 8, 2, True))


# Shorter longest splits (more programs where the module's rule gives 1,024 programs of 1,024 tokens: GQA b8 L16k, MHA b1
# L32k), and more splits wanted at 4k tokens: other rules, so other bits, each still fixed by the length alone.
DECODE_SPLIT_CONFIGS = ((da.SPLIT, 64, 4, None), (da.SplitRule(128, 512, 16), 64, 4, None),
                        (da.SplitRule(128, 256, 16), 64, 4, None), (da.SplitRule(128, 512, 32), 64, 4, None),
                        (da.SplitRule(128, 512, 16), 64, 4, 3))


# The module's rule and tile with every pipeline depth from 1 (no overlap of a program's own loads: less shared memory,
# more programs per SM) to 4, and 2 warps: stages never change the bits; warps may (another dot layout).
DECODE_STAGE_CONFIGS = tuple((da.SPLIT, 64, 4, st) for st in (None, 1, 2, 3, 4)) \
    + ((da.SPLIT, 64, 2, 1), (da.SPLIT, 64, 2, 2))


def _config_name(split, bn, w, st, tma=False) -> str:
    head = f"r{split.smallest}-{split.largest}-x{split.wanted}" if isinstance(split, da.SplitRule) else f"s{split}"
    return f"{'tma-' if tma else ''}{head}-n{bn}-w{w}-st{st}"


# An earlier decode kernel ($KX_DECODE_BEFORE) against the current one with the module's rule, or with rules of
# more, shorter splits, each with the module's stages (None). The combine fused into the split kernel (commit
# fd211f4: the last split to finish combines) was measured this way against the two-launch kernel.
DECODE_BEFORE_CONFIGS = tuple((rule, 64, 4, None) for rule in (
    da.SPLIT, da.SplitRule(64, 1024, 16), da.SplitRule(64, 1024, 32), da.SplitRule(128, 1024, 32)))
BEFORE_REPEATS = 3 if SMOKE else 50  # calls per shape whose bits must all equal the first call's


# The module's rule with other tiles, warps and stages (bits may differ from the default's where the tile does:
# another tile is another order of the online softmax, still fixed by the length alone).
DECODE_LAUNCH_CONFIGS = tuple((da.SPLIT, bn, w, st) for bn, w, st in (
    (64, 4, None), (64, 8, 2), (64, 8, 3), (32, 4, 3), (32, 4, 4), (32, 2, 4), (64, 4, 4)))


def part_decode_launch(bench, rows):
    part_decode(bench, rows, DECODE_LAUNCH_CONFIGS)


def _decode_before(name: str = "decode_before"):
    """The earlier kernels/decode_attention.py named by $KX_DECODE_BEFORE, loaded as module `name`, or None."""
    path = os.environ.get("KX_DECODE_BEFORE")
    return _load_module(name, Path(path)) if path else None


def part_decode_before(bench, rows):
    part_decode(bench, rows, DECODE_BEFORE_CONFIGS, before=_decode_before(), repeats=BEFORE_REPEATS)


def _no_launch(*args, **kwargs):
    return None


class _NoKernel:
    """Stands in for a kernel: launching it does nothing (to time the rest of a call alone)."""

    def __getitem__(self, grid):
        return _no_launch


def part_decode_combine(bench, rows):
    """The combine of all splits at once (now) against the split-by-split combine ($KX_DECODE_BEFORE), and the earlier
    kernel's split kernel alone (its combine launch skipped): what its combine cost. Also the new combine with other
    chunks and warps (other reduction layouts: other bits, still fixed by the length alone)."""
    before, split_only = _decode_before(), _decode_before("decode_split_only")
    if split_only is not None:
        split_only._decode_combine_kernel = _NoKernel()
    variants = {f"combine-c{chunk}-w{warps}": {"COMBINE_CHUNK": chunk, "COMBINE_WARPS": warps}
                for chunk, warps in ((8, 1), (32, 1), (16, 2), (32, 2), (32, 4))}
    part_decode(bench, rows, ((da.SPLIT, 64, 4, None),), before=before, repeats=BEFORE_REPEATS,
                split_only=split_only, module_variants=variants)


def part_decode_stream(bench, rows):
    """The split kernel's grid in batch-first order (SPLIT_FIRST off) and its key and value loads marked evict_first
    (KV_EVICT) against the module's launch, and the module's launch with 2, 3 and 4 stages for every batch: the same
    programs and arithmetic, so the same bits."""
    variants = {"batch-first": {"SPLIT_FIRST": False}, "evict-first": {"KV_EVICT": "evict_first"}}
    part_decode(bench, rows, tuple((da.SPLIT, 64, 4, st) for st in (None, 2, 3, 4)), module_variants=variants)


def part_decode_pdl(bench, rows):
    """The combine launched as the split kernel's programmatic dependent (the module's default where the GPU has it)
    against the plain launch order (PDL off): the same programs and arithmetic, so the same bits."""
    part_decode(bench, rows, ((da.SPLIT, 64, 4, None),), module_variants={"no-pdl": {"PDL": False}})


def part_decode_parts(bench, rows):
    """Where a call's time goes: the module's launch against its split kernel alone (the combine not launched, so the
    output is not computed: its bits are not compared) and its combine alone (the split kernel not launched; the
    combine then reads whatever partials the workspace holds)."""
    part_decode(bench, rows, ((da.SPLIT, 64, 4, None),),
                module_variants={"split-only": {"_decode_combine_kernel": _NoKernel()},
                                 "combine-only": {"_decode_split_kernel": _NoKernel()}})


def part_decode_l2(bench, rows):
    """The partials kept in L2 for the combine: their stores marked evict_last (PART_EVICT) for caches of up to
    PART_EVICT_MAX_CAPACITY tokens (the module's launch), against plain stores ("part-plain") and evict_last at every
    capacity ("part-evict-always", also with the cache loads marked evict_first, "both-always"): the same programs
    and arithmetic, the same bits. (As first run, at 3ac0fb8, the module's launch had plain stores and the variants
    were evict_last alone, KV_EVICT alone and both.)"""
    variants = {"part-plain": {"PART_EVICT": ""}, "part-evict-always": {"PART_EVICT_MAX_CAPACITY": 1 << 30},
                "both-always": {"PART_EVICT_MAX_CAPACITY": 1 << 30, "KV_EVICT": "evict_first"}}
    part_decode(bench, rows, ((da.SPLIT, 64, 4, None),), module_variants=variants)


def part_decode_rules(bench, rows):
    part_decode(bench, rows, DECODE_RULE_CONFIGS)


def part_decode_stages(bench, rows):
    part_decode(bench, rows, DECODE_STAGE_CONFIGS)


def part_decode_splits(bench, rows):
    part_decode(bench, rows, DECODE_SPLIT_CONFIGS)


def part_decode_tma(bench, rows):
    part_decode(bench, rows, DECODE_TMA_CONFIGS)


def part_decode(bench, rows, configs=DECODE_CONFIGS, before=None, repeats=0, split_only=None, module_variants=None):
    """`before`: an earlier kernels/decode_attention.py, timed as variant "before" with its bits against the current
    default's; `repeats`: the default called that many more times, its bits against its first call's; `split_only`:
    a module timed as variant "before-split-only"; `module_variants`: name -> module constants to set for a variant
    of the current kernel's default call."""
    from perf.suite.decode_specs import ATTENTION_SHAPES, BATCHES, LENGTHS

    shapes = [(s.name, s.heads, s.kv_heads, s.head_dim) for s in ATTENTION_SHAPES]
    batches, lengths = BATCHES["compact"], LENGTHS["compact"]
    if SMOKE:
        shapes, batches, lengths = [("gqa-h4-kv2-d32", 4, 2, 32)], (1, 2), (64,)
        configs = ((64, 32, 4, 2), (da.SplitRule(32, 64, 4), 32, 4, 2), (da.SplitRule(32, 64, 4), 32, 4, 2, True))
    for name, heads, kv, d in shapes:
        for batch in batches:
            for length in lengths:
                q = torch.randn(batch, heads, d, device=DEV, dtype=DT)
                k = torch.randn(batch, kv, length, d, device=DEV, dtype=DT)
                v = torch.randn(batch, kv, length, d, device=DEV, dtype=DT)
                lens = torch.full((batch,), length, device=DEV, dtype=torch.int32)
                shape = f"{name}:b{batch}:L{length}"
                t_ref = bench(lambda: da.torch_sdpa(q, k, v))
                rows.append(dict(part="decode", shape=shape, variant="sdpa", ms=t_ref, ratio=1.0))
                default = da.decode_attention(q, k, v, lens)  # the module's own choice: the bits to keep
                if repeats:
                    again = [torch.equal(da.decode_attention(q, k, v, lens), default) for _ in range(repeats)]
                    rows.append(dict(part="decode-repeat", shape=shape, calls=repeats, equal=sum(again)))
                if before is not None:
                    out_b, work_b = torch.empty_like(q), before.workspace(q, length)
                    fn_b = lambda: before.decode_attention(q, k, v, lens, out=out_b, work=work_b,  # noqa: E731
                                                           check_lens=False)
                    fn_b()
                    rows.append(dict(part="decode", shape=shape, variant="before", ms=(t := bench(fn_b)),
                                     ratio=t_ref / t, bits_equal_default=torch.equal(out_b, default)))
                if split_only is not None:
                    out_s, work_s = torch.empty_like(q), split_only.workspace(q, length)
                    t = bench(lambda: split_only.decode_attention(q, k, v, lens, out=out_s, work=work_s,
                                                                  check_lens=False))
                    rows.append(dict(part="decode", shape=shape, variant="before-split-only", ms=t, ratio=t_ref / t))
                for vname, constants in (module_variants or {}).items():
                    saved = {c: getattr(da, c) for c in constants}
                    try:
                        for c, value in constants.items():
                            setattr(da, c, value)
                        out_v, work_v = torch.empty_like(q), da.workspace(q, length)
                        fn_v = lambda: da.decode_attention(q, k, v, lens, out=out_v, work=work_v,  # noqa: E731
                                                           check_lens=False)
                        fn_v()
                        same = torch.equal(out_v, default)
                        alone = torch.equal(da.decode_attention(q[:1], k[:1], v[:1], lens[:1]), out_v[:1])
                        t = bench(fn_v)
                        rows.append(dict(part="decode", shape=shape, variant=vname, ms=t, ratio=t_ref / t,
                                         bits_equal_default=same, first_alone_equal=alone))
                    except Exception as exc:  # a launch option the installed Triton refuses, say
                        rows.append(dict(part="decode", shape=shape, variant=vname, error=repr(exc)[:300]))
                    finally:
                        for c, value in saved.items():
                            setattr(da, c, value)
                for split, bn, w, st, *tma in configs:
                    tma = bool(tma and tma[0])
                    vname = _config_name(split, bn, w, st, tma)
                    out = torch.empty_like(q)
                    work = da.workspace(q, length, split)
                    fn = lambda: da.decode_attention(q, k, v, lens, out=out, work=work, split=split, block_n=bn,  # noqa: E731
                                                     num_warps=w, num_stages=st, check_lens=False, tma=tma)
                    try:
                        fn()
                        same = torch.equal(out, default)
                        t = bench(fn)
                        rows.append(dict(part="decode", shape=shape, variant=vname, ms=t, ratio=t_ref / t,
                                         bits_equal_default=same))
                    except Exception as exc:
                        rows.append(dict(part="decode", shape=shape, variant=vname, error=repr(exc)[:300]))
                del q, k, v
                if not SMOKE:
                    torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------- prefill attention

PREFILL_CONFIGS = ((64, 64, 4, 2), (128, 64, 8, 2), (128, 64, 8, 3), (128, 128, 8, 2), (64, 128, 4, 2),
                   (128, 64, 4, 3))


def _load_module(name: str, path: Path):
    """A kernel module from a file outside the package (an earlier version kept for comparison), or None."""
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _load_before():
    """An earlier kernels/attention.py to time beside the current one: $KX_PREFILL_BEFORE, else
    .abrepo/attention_before_fix.py (the kernel before the row-sum fix), if present."""
    path = Path(os.environ.get("KX_PREFILL_BEFORE") or Path(__file__).resolve().parents[1] / ".abrepo" /
                "attention_before_fix.py")
    return _load_module("attention_before", path)


def part_prefill(bench, rows):
    before = _load_before()
    shapes = [(1, 32, 32, n, 128) for n in (64, 128, 256, 512, 1024, 4096, 8192)] + [(4, 32, 8, 2048, 128)]
    configs = PREFILL_CONFIGS
    if SMOKE:
        shapes, configs = [(1, 2, 2, 40, 16)], ((16, 16, 4, 2),)
    for batch, heads, kv, length, d in shapes:
        q = torch.randn(batch, heads, length, d, device=DEV, dtype=DT)
        k = torch.randn(batch, kv, length, d, device=DEV, dtype=DT)
        v = torch.randn(batch, kv, length, d, device=DEV, dtype=DT)
        shape = f"b{batch}-h{heads}-kv{kv}-L{length}-d{d}"
        gqa = {"enable_gqa": True} if heads != kv else {}
        t_ref = bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa))
        rows.append(dict(part="prefill", shape=shape, variant="sdpa", ms=t_ref, ratio=1.0))
        if before is not None:
            t_b = bench(lambda: before.attention(q, k, v, causal=True))
            same = torch.equal(before.attention(q, k, v, causal=True), attn.attention(q, k, v, causal=True))
            rows.append(dict(part="prefill", shape=shape, variant="before-64x64", ms=t_b, ratio=t_ref / t_b,
                             bits_equal_now=same))
        for bm, bn, w, st in configs:
            vname = f"m{bm}-n{bn}-w{w}-st{st}"
            try:
                fn = lambda: attn.attention(q, k, v, causal=True, block_m=bm, block_n=bn, num_warps=w,  # noqa: E731
                                            num_stages=st)
                fn()
                t = bench(fn)
                rows.append(dict(part="prefill", shape=shape, variant=vname, ms=t, ratio=t_ref / t))
            except Exception as exc:
                rows.append(dict(part="prefill", shape=shape, variant=vname, error=repr(exc)[:300]))
        del q, k, v
        if not SMOKE:
            torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------- summary

def summary(rows) -> list[str]:
    lines = []
    best = {}
    for r in rows:
        if r.get("ratio") is not None and r["variant"] not in ("cuBLAS", "sdpa"):
            key = (r["part"], r["shape"])
            if key not in best or r["ratio"] > best[key]["ratio"]:
                best[key] = r
    cur = {(r["part"], r["shape"]): r for r in rows if r.get("variant") in ("policy", "s256-n64-w4-st2",
                                                                                "m64-n64-w4-st2")}
    for key in sorted(best):
        b, c = best[key], cur.get(key)
        lines.append(f"{key[0]:<8} {key[1]:<28} now {c['ratio'] if c else float('nan'):5.2f}x  best {b['ratio']:5.2f}x "
                     f"{b['variant']}")
    for r in rows:
        if r["part"] == "prefill" and r["variant"] == "before-64x64":
            now = cur.get(("prefill", r["shape"]))
            lines.append(f"prefill {r['shape']:<24} before {r['ratio']:.2f}x ({r['ms']:.3f} ms) now "
                         f"{now['ratio'] if now else float('nan'):.2f}x ({now['ms'] if now else float('nan'):.3f} ms), "
                         f"bits equal: {r['bits_equal_now']}")
    decode = [r for r in rows if r["part"] == "decode" and r.get("ratio") and r["variant"] != "sdpa"]
    for variant in sorted({r["variant"] for r in decode}):
        got = sorted(r["ratio"] for r in decode if r["variant"] == variant)
        same = [r.get("bits_equal_default") for r in decode if r["variant"] == variant]
        lines.append(f"decode {variant:<28} min {got[0]:.2f} median {got[len(got) // 2]:.2f} >= 1.0 on "
                     f"{sum(x >= 1.0 for x in got)}/{len(got)}; bits = default's on {sum(x is True for x in same)}")
    befores = {r["shape"]: r for r in decode if r["variant"] == "before"}
    for shape, b in befores.items():
        now = next((r for r in decode if r["shape"] == shape and r["variant"] == _config_name(da.SPLIT, 64, 4, None)),
                   None)
        best = max((r for r in decode if r["shape"] == shape), key=lambda r: r["ratio"])
        lines.append(f"decode {shape:<26} before {b['ratio']:.2f}x now {now['ratio'] if now else float('nan'):.2f}x "
                     f"(bits {'=' if b['bits_equal_default'] else '!='}), best {best['ratio']:.2f}x {best['variant']}")
    splits_only = {r["shape"]: r for r in decode if r["variant"] == "before-split-only"}
    for shape, r in splits_only.items():
        b = befores.get(shape)
        if b:
            lines.append(f"decode {shape:<26} before's combine {1e3 * (b['ms'] - r['ms']):5.1f} us of {1e3 * b['ms']:.1f} us")
    flushes = [r for r in rows if r["part"] == "mean-flush"]
    for shape in dict.fromkeys(r["shape"] for r in flushes):
        gbs = {r["variant"]: r["gbs"] for r in flushes if r["shape"] == shape}
        cells = [f"{kind}: " + ", ".join(f"{name} {100 * gbs[f'{name}:{kind}'] / gbs[f'copy:{kind}']:.0f}%"
                                         for name in ("mean", "torch-sum-all", "rms_norm"))
                 + f" of copy ({gbs[f'copy:{kind}']:.0f} GB/s)" for kind in ("suite", "dirty", "clean")]
        lines.append(f"mean-flush {shape}: " + "; ".join(cells))
    repeats = [r for r in rows if r["part"] == "decode-repeat"]
    if repeats:
        lines.append(f"decode repeated calls with the first call's bits: {sum(r['equal'] for r in repeats)} of "
                     f"{sum(r['calls'] for r in repeats)}")
    means = [r for r in rows if r["part"] == "mean" and r.get("pct_of_copy")]
    for shape in dict.fromkeys(r["shape"] for r in means):
        here = {r["variant"]: r for r in means if r["shape"] == shape}
        best = max((r for r in here.values() if r.get("bits_equal_current")), key=lambda r: r["pct_of_copy"])
        lines.append(f"mean {shape}: current {here['current']['pct_of_copy']:.0f}% of copy, torch.sum(all) "
                     f"{here['torch-sum-all']['pct_of_copy']:.0f}%, best with the same bits {best['pct_of_copy']:.0f}% "
                     f"{best['variant']} ({best['vs_torch']:.2f}x torch)")
    bad = [r for r in rows if r["part"] == "matmul-bits" and (r.get("row0_equal_across_m") is False
                                                               or r.get("equal") is False)]
    lines.append(f"matmul bit checks failing: {[(r['shape'], r['variant']) for r in bad]}")
    errors = [r for r in rows if "error" in r]
    lines.append(f"variants that failed: {len(errors)} " + "; ".join(sorted({r['variant'] + ': ' + r['error'][:80]
                                                                          for r in errors})[:6]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="matmul,mean,decode,prefill")
    args = parser.parse_args()
    bench = make_timer()
    rows: list[dict] = []
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    parts = {"matmul": part_matmul, "matmul-tiles": part_matmul_tiles, "mean": part_mean, "decode": part_decode,
             "decode-rules": part_decode_rules, "decode-tma": part_decode_tma, "decode-before": part_decode_before,
             "decode-launch": part_decode_launch, "decode-combine": part_decode_combine,
             "decode-stream": part_decode_stream, "rows-evict": part_rows_evict,
             "mean-flush": part_mean_flush,
             "matmul-large": part_matmul_large, "matmul-waves": part_matmul_waves, "prefill": part_prefill,
             "matmul-mixed": part_matmul_mixed, "decode-pdl": part_decode_pdl, "decode-l2": part_decode_l2,
             "decode-splits": part_decode_splits, "decode-stages": part_decode_stages,
             "decode-parts": part_decode_parts}
    for name in args.parts.split(","):
        start = time.time()
        parts[name](bench, rows)
        print(f"[{name}] {time.time() - start:.0f} s", flush=True)
        (out / "kernel_explore.json").write_text(json.dumps(rows, indent=1, default=str))
    device = "cpu (interpreter)" if SMOKE else torch.cuda.get_device_name()
    print(f"{device}, {DT}, triton {triton.__version__}, torch {torch.__version__}")
    print("\n".join(summary([r for r in rows if r["part"] not in ("tiles", "rows-evict", "mixed")])
                    + tiles_summary(rows) + rows_evict_summary(rows) + mixed_summary(rows)))


if __name__ == "__main__":
    main()
