"""The check of every benchmark's output before timing: one wrong row in thousands fails it, whatever the family."""


import pytest
import torch

import perf_kernels.decode_attention as da
from perf import gpus
from perf.measure.target import Target
from perf.shape.shapes import Gemm
from perf.suite import kernel_specs
from perf.suite.decode_specs import AttentionShape, _attention_build
from perf.suite.gemm_specs import gemm_build
from perf.suite.output_check import check_output, relative_max_error

CPU = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")
ROWS = 8192


def _one_wrong_row(out: torch.Tensor, row: int) -> torch.Tensor:
    out = out.clone()
    out[row] = -out[row]  # the sign of one row flipped: as large as the reference, and entirely wrong
    return out


def test_one_wrong_row_in_8192_fails_where_a_norm_would_pass():
    ref = torch.randn(ROWS, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = _one_wrong_row(ref, 5000)
    frobenius = ((got - ref).norm() / ref.norm()).item()
    assert frobenius < 2e-2  # the relative norm hides it: 2 / sqrt(8192)
    assert relative_max_error(got, ref) == pytest.approx(2 * ref[5000].abs().max().item() / ref.abs().max().item())
    with pytest.raises(AssertionError, match=r"largest error .* at index \(5000, \d+\), over 2e-02"):
        check_output(got.to(torch.bfloat16), ref, "bf16", "gemm x")
    check_output(ref.float(), ref, "fp32", "gemm x")  # the right answer passes


def test_a_nan_fails_and_shapes_must_match():
    ref = torch.ones(4, 4, dtype=torch.float64)
    got = ref.clone()
    got[2, 3] = float("nan")
    with pytest.raises(AssertionError, match=r"at index \(2, 3\)"):
        check_output(got, ref, "fp32", "k")
    with pytest.raises(AssertionError, match=r"output shape \(4, 3\), reference \(4, 4\)"):
        check_output(ref[:, :3], ref, "fp32", "k")
    with pytest.raises(ValueError, match="no tolerance for dtype 'fp8'"):
        check_output(ref, ref, "fp8", "k")


def test_gemm_verify_catches_one_wrong_row(monkeypatch):
    # bf16, as on the GPU: a row 50% off moves the relative norm by 0.5 / sqrt(8192) = 0.6%, under the 2% tolerance
    prepared = gemm_build(Gemm("mlp_up", m=ROWS, n=32, k=32), "bf16")(CPU)
    prepared.verify()  # correct: passes
    matmul = torch.matmul

    def wrong_row(a, b, out=None):  # the timed provider writes one wrong row; the reference (no out=) is right
        if out is None:
            return matmul(a, b)
        matmul(a, b, out=out)
        out[ROWS - 7] *= 1.5
        return out

    monkeypatch.setattr(torch, "matmul", wrong_row)
    with pytest.raises(AssertionError, match=rf"mlp_up .*at index \({ROWS - 7}, \d+\)"):
        prepared.verify()


def test_decode_attention_verify_checks_every_sequence(monkeypatch):
    shape = AttentionShape("gqa-h4-kv2-d32", heads=4, kv_heads=2, head_dim=32)
    prepared = _attention_build(shape, batch=64, length=64, dtype="fp32", provider="torch")(CPU)
    prepared.verify()
    sdpa = da.torch_sdpa

    def last_sequence_wrong(q, k, v):
        out = sdpa(q, k, v)
        out[63] = -out[63]  # not among the 4 of 64 sequences a sampled check would compare
        return out

    monkeypatch.setattr(da, "torch_sdpa", last_sequence_wrong)
    with pytest.raises(AssertionError, match=r"decode attention torch gqa-h4-kv2-d32 b64 L64: .*at index \(63, \d+, \d+\)"):
        prepared.verify()


def test_kernel_verify_catches_one_wrong_row(monkeypatch):
    case = kernel_specs.KernelCase("mean", "torch", "bf16", hidden=16, tokens=ROWS)
    prepared = kernel_specs._build(case)(CPU)
    prepared.verify()
    mean = torch.mean

    def wrong_row(x, dim, out=None):
        mean(x, dim, out=out)
        out[123] += 0.2  # about 0.2 of the largest mean; 0.2 / (0.25 * sqrt(8192)) = 0.9% of the norm
        return out

    monkeypatch.setattr(torch, "mean", wrong_row)
    with pytest.raises(AssertionError, match=r"at index \(123,\)"):
        prepared.verify()
