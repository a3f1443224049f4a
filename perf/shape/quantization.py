"""Tile and wave quantization arithmetic (paper sec. II and VI-B), as pure functions.

A GEMM's (m, n) output is cut into t1 x t2 tiles; each tile is one thread block and the GPU runs one
wave of `sms` blocks at a time. A last, partial wave costs about as long as a full one:

    tiles          = batch * ceil(m / t1) * ceil(n / t2)
    waves          = ceil(tiles / sms)
    wave efficiency = tiles / (waves * sms)            (1.0: the last wave is full)
    tile efficiency = m * n / (ceil(m/t1)*t1 * ceil(n/t2)*t2)

The paper's condition for no wave quantization considers both orientations of the tile, so
`wave_efficiency` takes the better of t1 x t2 and t2 x t1 (128 x 256 by default, the most efficient
tile on these GPUs). Real libraries pick other tiles too; this is a prediction of where dips fall.
"""

from __future__ import annotations

DEFAULT_TILE = (128, 256)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def tiles(m: int, n: int, tile: tuple[int, int] = DEFAULT_TILE, batch: int = 1) -> int:
    """Thread blocks for a batch of (m, n) outputs with t1 x t2 tiles (t1 along m)."""
    if min(m, n, batch, *tile) <= 0:
        raise ValueError(f"tiles: m, n, batch and tile sizes must be positive, got m={m} n={n} batch={batch} tile={tile}")
    return batch * _cdiv(m, tile[0]) * _cdiv(n, tile[1])


def waves(n_tiles: int, sms: int) -> int:
    if sms <= 0:
        raise ValueError(f"waves: the SM count must be positive, got {sms}")
    return _cdiv(n_tiles, sms)


def wave_efficiency_for(m: int, n: int, sms: int, tile: tuple[int, int], batch: int = 1) -> float:
    """Useful fraction of the SM slots over all waves, for one tile orientation."""
    t = tiles(m, n, tile, batch)
    return t / (waves(t, sms) * sms)


def wave_efficiency(m: int, n: int, sms: int, tile: tuple[int, int] = DEFAULT_TILE, batch: int = 1) -> float:
    """The better of the two tile orientations (the paper's VI-B condition)."""
    t1, t2 = tile
    return max(wave_efficiency_for(m, n, sms, (t1, t2), batch), wave_efficiency_for(m, n, sms, (t2, t1), batch))


def tile_efficiency(m: int, n: int, tile: tuple[int, int] = DEFAULT_TILE) -> float:
    """Useful fraction of the computed output area (partial edge tiles compute padding)."""
    t1, t2 = tile
    return (m * n) / (_cdiv(m, t1) * t1 * _cdiv(n, t2) * t2)
