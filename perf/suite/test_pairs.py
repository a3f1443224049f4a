"""Side by side (opt-in: --perf-pairs; marker pairs): each of our kernels and its reference timed in alternation in
one process (ABBA rounds), for the ratio a speed target reads. Both outputs are checked first; nothing is compared
with a baseline. The ratios go to the results file (perf_pairs) and the terminal summary."""

from perf.suite.decode_specs import attention_specs
from perf.suite.kernel_specs import kernel_specs
from perf.suite.pair_specs import pairs


def perf_pairs(target, options):
    return pairs(kernel_specs(target) + attention_specs(target))


def test_pair(perf_pair, perf_measure_pair, record_property):
    record_property("perf_pairs", perf_measure_pair(perf_pair))
