"""How well predicted wave quantization matches a measured sweep, as numbers (the paper's sec. III-B and VI-B).

Along one sweep (points ordered by the swept value x):

    local throughput     r_i = tflops_i / max(tflops_(i-1), tflops_i, tflops_(i+1))   (1.0: no neighbour faster)
    dip (of a series)    a point below both neighbours and at least DIP_DROP below the higher one (the last
                         point: below its one neighbour by DIP_DROP; the first point is never a dip)
    measured dips        the dips of the measured throughput
    predicted dips       the dips of the predicted wave efficiency that are also under DIP_EFFICIENCY
    rho                  Spearman rank correlation of predicted wave efficiency with r
    hit share            the share of predicted dips that are measured dips

Neighbours, not the whole sweep, are the reference: throughput also trends with size (small GEMMs are
memory-bound; large ones run at lower clocks under the power cap), and a wave dip is a local drop (the paper:
"the throughput will increase, until a new wave is required. Then, the throughput will drop"). The prediction
uses the tile named in the cuBLAS kernel that the profiler saw when the record carries it (`tile_from_kernel`),
else the paper's 128x256 tile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from perf.shape.quantization import DEFAULT_TILE, wave_efficiency

DIP_DROP = 0.05  # a dip: 5% below the higher neighbour
DIP_EFFICIENCY = 0.9  # a predicted dip also leaves 10% or more of the scheduled SM slots idle

# cuBLAS / CUTLASS kernel names carry the CTA tile as MxN or MxNxK: sm90_xmma_gemm_..._tilesize128x256x64_...,
# nvjet_hsh_256x128_64x4_2x1_..., ampere_bf16_s16816gemm_bf16_128x256_ldg8_..., cutlass_..._256x128_32x3_...
_TILE = re.compile(r"(?:tilesize|_)(\d{2,3})x(\d{2,3})(?:x\d{1,3})?(?=_|$)")
_TILE_SIDES = {16, 32, 64, 96, 128, 192, 256}


def tile_from_kernel(name: str) -> tuple[int, int] | None:
    """The CTA tile (M x N) named in a GEMM kernel's name; None when it names none."""
    for match in _TILE.finditer(name):
        t1, t2 = int(match.group(1)), int(match.group(2))
        if t1 in _TILE_SIDES and t2 in _TILE_SIDES:
            return t1, t2
    return None


def tile_of(record: Mapping) -> tuple[int, int] | None:
    """The tile of the record's GEMM kernel, from the kernel names the profiler recorded (the longest-named
    GEMM-looking kernel that names a tile)."""
    for name in sorted(record.get("kernels") or (), key=len, reverse=True):
        tile = tile_from_kernel(str(name))
        if tile is not None:
            return tile
    return None


def predicted_efficiency(record: Mapping, *, use_kernel_tile: bool) -> float | None:
    """Predicted wave efficiency of a sweep record: with the profiler's tile (use_kernel_tile and one is named),
    else the paper's tile as the spec computed it."""
    params = record.get("params") or {}
    if use_kernel_tile:
        tile = tile_of(record)
        if tile is not None and all(isinstance(params.get(k), int) for k in ("m", "n", "sms")):
            return wave_efficiency(params["m"], params["n"], params["sms"], tile, params.get("batch") or 1)
    value = params.get("predicted_wave_efficiency")
    return float(value) if isinstance(value, (int, float)) else None


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation; None when either side is constant or shorter than 3."""
    if len(xs) != len(ys):
        raise ValueError(f"spearman: {len(xs)} x values but {len(ys)} y values")
    if len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / (sxx * syy) ** 0.5


def dips(values: Sequence[float], drop: float = DIP_DROP) -> list[int]:
    """Indices of the local dips of a series (see the module's docstring)."""
    found = []
    for i in range(1, len(values)):
        neighbours = values[i - 1:i] + values[i + 1:i + 2]
        if all(values[i] < v for v in neighbours) and values[i] < (1 - drop) * max(neighbours):
            found.append(i)
    return found


@dataclass(frozen=True)
class SweepAgreement:
    sweep: str  # the record group, e.g. "sweep/fig5b" or "sweep/fig8:a32"
    points: int
    rho: float | None  # None: the prediction (or the measurement) is flat over the sweep
    predicted_dips: tuple[int, ...]  # x of each predicted dip
    measured_dips: tuple[int, ...]
    tile: str  # "128x256 (assumed)" or the profiler's tile(s)

    @property
    def hits(self) -> tuple[int, ...]:
        return tuple(x for x in self.predicted_dips if x in self.measured_dips)

    @property
    def misses(self) -> tuple[int, ...]:
        """Predicted dips that did not show."""
        return tuple(x for x in self.predicted_dips if x not in self.measured_dips)

    @property
    def unexplained(self) -> tuple[int, ...]:
        """Measured dips that the prediction did not foresee."""
        return tuple(x for x in self.measured_dips if x not in self.predicted_dips)

    @property
    def hit_share(self) -> float | None:
        return len(self.hits) / len(self.predicted_dips) if self.predicted_dips else None

    def agrees(self, min_rho: float, min_hit_share: float) -> bool | None:
        """None when the sweep has no predicted dip (nothing to agree on)."""
        if not self.predicted_dips:
            return None
        return self.rho is not None and self.rho >= min_rho and (self.hit_share or 0.0) >= min_hit_share

    def as_dict(self) -> dict:
        return {"sweep": self.sweep, "points": self.points, "rho": self.rho, "tile": self.tile,
                "predicted_dips": list(self.predicted_dips), "measured_dips": list(self.measured_dips),
                "hit_share": self.hit_share, "misses": list(self.misses), "unexplained": list(self.unexplained)}


def agreement(group: str, records: Sequence[Mapping], *, use_kernel_tile: bool) -> SweepAgreement:
    """Agreement of one sweep's records (any order; each with params x, m, n, sms and a median time)."""
    points = []
    for r in records:
        params = r.get("params") or {}
        eff = predicted_efficiency(r, use_kernel_tile=use_kernel_tile)
        ms = (r.get("summary") or {}).get("median_ms")
        if eff is None or not isinstance(params.get("x"), int) or not ms or not r.get("flops"):
            continue
        points.append((params["x"], eff, r["flops"] / ms, tile_of(r) if use_kernel_tile else None))
    points.sort()
    rates = [p[2] for p in points]
    relative = [rate / max(rates[max(0, i - 1):i + 2]) for i, rate in enumerate(rates)]
    xs = [p[0] for p in points]
    effs = [p[1] for p in points]
    tiles = sorted({f"{t[0]}x{t[1]}" for *_, t in points if t is not None})
    tile = ", ".join(tiles) + " (profiler)" if tiles else f"{DEFAULT_TILE[0]}x{DEFAULT_TILE[1]} (assumed)"
    return SweepAgreement(
        sweep=group,
        points=len(points),
        rho=spearman(effs, relative),
        predicted_dips=tuple(xs[i] for i in dips(effs) if effs[i] < DIP_EFFICIENCY),
        measured_dips=tuple(xs[i] for i in dips(rates)),
        tile=tile,
    )
