"""Baseline files as tests change them: an entry said to be faster than it was measured."""

from __future__ import annotations


def scaled_entry(entry: dict, factor: float) -> dict:
    """`entry` with every time in it (the fields ending in _ms: a number or a list) multiplied by `factor`: a run
    then reads the benchmark 1/factor times as slow as the baseline, with no extra work to calibrate or to drift
    under a loaded machine's noise."""
    def scaled(value):
        return [v * factor for v in value] if isinstance(value, list) else value * factor

    return {key: scaled(value) if key.endswith("_ms") else value for key, value in entry.items()}
