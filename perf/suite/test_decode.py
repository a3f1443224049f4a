"""Decode-phase benchmarks: projections at decode-sized M, and KV-cache decode attention (ours vs torch SDPA)."""

from perf.suite.decode_specs import decode_specs


def perf_specs(target, options):
    return decode_specs(target, tuple(getattr(options, "models", ()) or ()))


def test_decode(perf_spec, perf_measure):
    perf_measure(perf_spec)
