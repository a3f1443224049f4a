"""Bitwise batch invariance of the Triton kernels (under the interpreter), and the check itself.

matmul is checked in fp16 here. Under the interpreter `tl.dot` is numpy's matmul on the tile; for
fp32 tiles numpy calls the host BLAS (OpenBLAS sgemm), whose micro-kernel gives different bits for
identical rows at different rows of the tile, so an fp32 row would differ by its position in the
batch for a reason that lies in the host library, not in the kernel. fp16 tiles go through numpy's
own loops, which reduce each element in K order.
"""

import pytest
import torch

from perf_kernels import log_softmax, matmul, mean, rms_norm
from perf_kernels.invariance import (
    InvarianceResult,
    bitwise_equal,
    check_batch_invariance,
    edge_sizes,
    every_size,
    positions_for,
)


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


CASES = {
    "matmul-fp16-k128-n64": (lambda: (lambda w: lambda x: matmul(x, w))(_randn(128, 64, dtype=torch.float16, seed=1)),
                             128, torch.float16, 33),
    "matmul-fp16-bias-k100-n70": (lambda: (lambda w, b: lambda x: matmul(x, w, b))(
        _randn(100, 70, dtype=torch.float16, seed=1), _randn(70, dtype=torch.float16, seed=2)), 100, torch.float16, 17),
    "rms_norm-bf16-h256": (lambda: lambda x: rms_norm(x, _randn(256, dtype=torch.bfloat16, seed=2)), 256, torch.bfloat16, 16),
    "log_softmax-fp16-h200": (lambda: lambda x: log_softmax(x, -1), 200, torch.float16, 16),
    "mean-bf16-h256": (lambda: lambda x: mean(x, -1, keepdim=True), 256, torch.bfloat16, 16),
}


@pytest.mark.parametrize("case", list(CASES))
def test_kernel_is_bitwise_batch_invariant(case):
    make_op, hidden, dtype, max_batch = CASES[case]
    result = check_batch_invariance(make_op(), _randn(hidden, dtype=dtype, seed=7), max_batch=max_batch, name=case)
    assert result.sizes_tested == max_batch and result.max_batch == max_batch
    assert result.invariant, result.summary()
    assert result.max_abs_diff == 0.0 and all(o.equal for o in result.by_size)


def _size_dependent_sum(x):
    """A reduction whose split depends on the batch size, as a size-tuned vendor kernel might choose."""
    if x.shape[0] <= 4:
        return x.sum(-1, keepdim=True)
    h = x.shape[-1]
    parts = [x[:, i: i + 7].sum(-1, keepdim=True) for i in range(0, h, 7)]
    return torch.stack(parts[::-1], 0).sum(0)


def test_check_finds_a_batch_dependent_reduction():
    row = _randn(256, seed=3) * 100
    result = check_batch_invariance(_size_dependent_sum, row, max_batch=8, name="split-by-size")
    assert not result.invariant
    assert result.first_failure == (5, 0), result.summary()
    assert [o.size for o in result.by_size if o.equal] == [1, 2, 3, 4]
    assert result.max_abs_diff > 0
    assert "first difference at batch size 5, position 0" in result.summary()


def test_check_finds_cross_row_leakage_at_some_positions_only():
    # Row 0 of the output gets a contribution from row 1: only position 0 of a batch of 2+ differs.
    def leaky(x):
        y = x.clone()
        if x.shape[0] > 1:
            y[0] += x[1] * 1e-3
        return y

    result = check_batch_invariance(leaky, _randn(16, seed=4), max_batch=4, name="leaky")
    assert result.first_failure == (2, 0)
    assert all(o.first_position in (None, 0) for o in result.by_size)


def test_bitwise_equal_compares_bits():
    a = torch.tensor([0.0, 1.0, float("nan")])
    assert bitwise_equal(a, a.clone())  # NaN with the same payload: same bits
    assert not torch.equal(a, a.clone())
    assert not bitwise_equal(torch.tensor([0.0]), torch.tensor([-0.0]))
    assert not bitwise_equal(a, a.double())


def test_size_lists():
    assert every_size(3) == [1, 2, 3]
    sizes = edge_sizes(8192, edges=(64, 512))
    assert sizes[:16] == list(range(1, 17))
    assert {63, 64, 65, 511, 512, 513, 4095, 4096, 4097, 8191, 8192} <= set(sizes)
    assert max(sizes) == 8192 and len(sizes) == len(set(sizes)) < 80
    assert positions_for(1) == (0,) and positions_for(9) == (0, 4, 8)
    with pytest.raises(ValueError, match="sizes must lie in 1..4"):
        check_batch_invariance(lambda x: x, torch.zeros(3), max_batch=4, sizes=[5])


def test_result_summary_when_invariant():
    r = InvarianceResult(op="op", max_batch=8, sizes_tested=8, first_failure=None, max_abs_diff=0.0)
    assert r.invariant and r.summary() == "op: bitwise batch-invariant over 8 batch sizes up to 8"
