"""Every transformer-layer GEMM of the registered workloads, timed and compared with the baseline."""

from perf.suite.gemm_specs import gemm_specs


def perf_specs(target, options):
    return gemm_specs(target, options.models)


def test_gemm(perf_spec, perf_measure):
    perf_measure(perf_spec)
