"""Our batch-invariant Triton kernels and the vendor's over tokens 1..8192, timed and compared with the baseline."""

from perf.suite.kernel_specs import kernel_specs


def perf_specs(target, options):
    return kernel_specs(target)


def test_kernels(perf_spec, perf_measure):
    perf_measure(perf_spec)
