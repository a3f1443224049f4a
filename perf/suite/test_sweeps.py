"""The paper's GEMM sweeps (Figures 5, 7-10, 20), with the predicted wave-quantization efficiency per point."""

from perf.suite.sweep_specs import sweep_specs


def perf_specs(target, options):
    return sweep_specs(target)


def test_sweeps(perf_spec, perf_measure):
    perf_measure(perf_spec)
