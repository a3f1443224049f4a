"""The efficiency model used for the rules' payoffs and by `perf advise` (see docs/shape-rules.md).

It predicts each GEMM's time as a roofline, max(compute, memory), where compute runs at peak x tile efficiency x
wave efficiency x tile-shape speed (best of the common tiles), and both terms are divided by a tensor-core
alignment penalty read off the paper's Figure 7. A layer's throughput is its FLOPs over the sum of its GEMM times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perf.gpus import GpuSpec
from perf.shape import quantization
from perf.shape.layout import Layout
from perf.shape.models import ModelConfig, ModelConfigError
from perf.shape.shapes import DTYPE_BYTES, Gemm, layer_gemms

# ------------------------------------------------------------------------------ quantization arithmetic

PAPER_TILE = (128, 256)  # sec. VI-B: "a tile size of 128x256 which is the most efficient"
TILES = ((128, 256), (256, 128), (128, 128), (64, 128), (128, 64), (64, 64))
# Relative per-SM throughput of each tile shape when every tile is full. An assumption, not a measurement:
# larger tiles reuse each loaded operand for more multiply-adds, and the paper calls 128x256 the most
# efficient. `perf advise --measure` replaces the whole prediction with timings.
TILE_SPEED = {(128, 256): 1.0, (256, 128): 1.0, (128, 128): 0.9, (64, 128): 0.8, (128, 64): 0.8, (64, 64): 0.65}
# Tensor-core alignment penalty by the number of halvings the dimension's largest power-of-two divisor (in
# bytes) falls short of the GPU's alignment: read off the paper's Figure 7b (A100, attention over value,
# h = 16384, a = 32: 64 -> 230, 16 -> 210, 8 -> 190, 4 -> 150, 2 -> 120, 1 -> 90 TFLOP/s), halvings = 0..6.
ALIGN_PENALTY = (1.0, 0.95, 0.91, 0.83, 0.65, 0.52, 0.39)


def pow2_divisor(n: int, cap: int | None = None) -> int:
    """The largest power of two dividing n (n > 0), capped at `cap` when given."""
    if n <= 0:
        raise ValueError(f"pow2_divisor: need a positive integer, got {n!r}")
    p = n & -n
    return min(p, cap) if cap else p


tile_efficiency = quantization.tile_efficiency  # m*n / (ceil(m/t1)*t1 * ceil(n/t2)*t2)


@dataclass(frozen=True)
class Waves:
    tiles: int  # thread blocks: batch * ceil(m/t1) * ceil(n/t2)
    sms: int
    waves: int  # ceil(tiles / sms)
    last_wave_fill: float  # fraction of SMs busy in the last wave
    efficiency: float  # tiles / (waves * sms): busy SM-slots over scheduled SM-slots

    @property
    def fractional(self) -> float:
        return self.tiles / self.sms


def wave_quantization(m: int, n: int, tile: tuple[int, int], sms: int, batch: int = 1) -> Waves:
    """Waves of thread blocks for an (m, n) output cut into t1 x t2 tiles on `sms` SMs (paper III-B, VI-B)."""
    tiles = quantization.tiles(m, n, tile, batch)
    waves = quantization.waves(tiles, sms)
    last = tiles - (waves - 1) * sms
    return Waves(tiles=tiles, sms=sms, waves=waves, last_wave_fill=last / sms, efficiency=tiles / (waves * sms))


def wave_free(x: int, y: int, tile: tuple[int, int], sms: int) -> bool:
    """Paper VI-B: no wave-quantization loss when ceil(X/t1)*ceil(Y/t2) or ceil(X/t2)*ceil(Y/t1) is 0 mod #SMs."""
    t1, t2 = tile
    return (math.ceil(x / t1) * math.ceil(y / t2)) % sms == 0 or (math.ceil(x / t2) * math.ceil(y / t1)) % sms == 0


def alignment_efficiency(dim: int, elem_bytes: int, align_bytes: int) -> float:
    """Predicted fraction of tensor-core throughput for a GEMM dimension (1.0 when aligned)."""
    p = pow2_divisor(dim * elem_bytes)
    if p >= align_bytes:
        return 1.0
    halvings = int(math.log2(align_bytes // p))
    return ALIGN_PENALTY[min(halvings, len(ALIGN_PENALTY) - 1)]


def peak_tflops(gpu: GpuSpec, dtype: str) -> float:
    """Dense peak for the dtype; a GPU without that dtype (V100 and bf16) falls back to its fp16 rate."""
    peak = gpu.peak(dtype) or gpu.peak("fp16")
    if not peak or gpu.mem_bw_gbs <= 0:
        raise ModelConfigError(f"GPU {gpu.key}: no peak TFLOP/s or bandwidth in its spec; shape rules need a GPU profile")
    return peak


@dataclass(frozen=True)
class GemmEstimate:
    gemm: Gemm
    tile: tuple[int, int]
    tile_eff: float
    waves: Waves
    align_eff: float
    time_s: float
    bound: str  # "compute" or "memory"

    @property
    def tflops(self) -> float:
        return self.gemm.flops() / self.time_s / 1e12


def estimate_gemm(g: Gemm, gpu: GpuSpec, dtype: str) -> GemmEstimate:
    """Predicted time of one GEMM: the best common tile, its quantization, alignment, and the roofline."""
    elem = DTYPE_BYTES[dtype]

    def quality(tile):
        return tile_efficiency(g.m, g.n, tile) * wave_quantization(g.m, g.n, tile, gpu.sms, g.batch).efficiency * TILE_SPEED[tile]

    tile = max(TILES, key=quality)  # ties keep the earlier (larger) tile
    align = min(alignment_efficiency(d, elem, gpu.tc_align_bytes) for d in (g.m, g.n, g.k))
    compute_s = g.flops() / (peak_tflops(gpu, dtype) * 1e12 * quality(tile))
    memory_s = g.bytes(elem) / (gpu.mem_bw_gbs * 1e9)
    return GemmEstimate(
        gemm=g,
        tile=tile,
        tile_eff=tile_efficiency(g.m, g.n, tile),
        waves=wave_quantization(g.m, g.n, tile, gpu.sms, g.batch),
        align_eff=align,
        time_s=max(compute_s, memory_s) / align,
        bound="compute" if compute_s >= memory_s else "memory",
    )


@dataclass(frozen=True)
class LayerEstimate:
    gemms: tuple[GemmEstimate, ...]

    @property
    def flops(self) -> int:
        return sum(e.gemm.flops() for e in self.gemms)

    @property
    def time_s(self) -> float:
        return sum(e.time_s for e in self.gemms)

    @property
    def tflops(self) -> float:
        """Predicted throughput: FLOPs over the summed GEMM times (each GEMM weighted by its FLOPs)."""
        return self.flops / self.time_s / 1e12

    def of(self, name: str) -> GemmEstimate | None:
        return next((e for e in self.gemms if e.gemm.name == name), None)


MLP_GEMMS = ("mlp_up", "mlp_gate", "mlp_down")


def estimate_layer(model: ModelConfig, gpu: GpuSpec, layout: Layout, *, logits: bool = False,
                   only: tuple[str, ...] = ()) -> LayerEstimate:
    """Predicted time of one layer's GEMMs (with `logits`, the logits GEMM alone; `only`: those GEMMs alone)."""
    gemms = layer_gemms(model, layout.b, layout.seq(model), layout.t)
    if only:
        chosen = [g for g in gemms if g.name in only]
    else:
        chosen = [g for g in gemms if (g.name == "logits") == logits]
    return LayerEstimate(tuple(estimate_gemm(g, gpu, layout.dtype) for g in chosen))


def speedup(model: ModelConfig, changed: ModelConfig, gpu: GpuSpec, layout: Layout, *, logits: bool = False,
            only: tuple[str, ...] = ()) -> float:
    """Predicted throughput of `changed` over `model`: the layer's GEMMs, the logits GEMM, or `only` those GEMMs."""
    new = estimate_layer(changed, gpu, layout, logits=logits, only=only).tflops
    return new / estimate_layer(model, gpu, layout, logits=logits, only=only).tflops
