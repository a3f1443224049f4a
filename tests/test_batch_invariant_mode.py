"""batch_invariant(): what the CPU can check of the routing (the CUDA path runs in perf/suite/test_invariance.py).

- the CUDA kernels of the routed aten operators are ours inside the context and the previous ones after;
- nesting and exceptions leave the dispatcher as it was;
- CPU tensors behave exactly as without the context;
- the routed Python kernels themselves (called on CPU tensors, Triton under the interpreter) keep the
  semantics of the aten operators they replace, including the arguments our kernels do not take.
"""

import pytest
import torch
import torch.nn.functional as F

from perf_kernels import batch_invariant
from perf_kernels.batch_invariant import _addmm, _fused_rms_norm, _log_softmax, _mean_dim, _mm, is_active, routes

OPS = ["aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_softmax", "aten::_log_softmax", "aten::mean.dim",
       "aten::sum.dim_IntList", "aten::native_layer_norm", "aten::scaled_dot_product_attention"]


def _cuda_line(op: str) -> str:
    table = torch._C._dispatch_dump_table(op)
    return next((line for line in table.splitlines() if line.startswith("CUDA:")), "")


def _randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def test_routes_cover_the_operators():
    names = set(routes())
    assert {"mm", "addmm", "bmm", "baddbmm", "_softmax", "_log_softmax", "mean.dim", "sum.dim_IntList",
            "native_layer_norm", "scaled_dot_product_attention"} <= names
    assert ("_fused_rms_norm" in names) == hasattr(torch.ops.aten, "_fused_rms_norm")


def test_registers_on_cuda_and_restores_on_exit():
    ops = OPS + (["aten::_fused_rms_norm"] if hasattr(torch.ops.aten, "_fused_rms_norm") else [])
    before = {op: torch._C._dispatch_dump_table(op) for op in ops}
    assert not is_active()
    with batch_invariant():
        assert is_active()
        for op in ops:
            assert "batch_invariant.py" in _cuda_line(op), f"{op}: CUDA kernel not ours: {_cuda_line(op)!r}"
            cpu = [line for line in torch._C._dispatch_dump_table(op).splitlines() if line.startswith("CPU:")]
            assert all("batch_invariant.py" not in line for line in cpu), f"{op}: the CPU kernel changed"
    assert not is_active()
    for op in ops:
        assert torch._C._dispatch_dump_table(op) == before[op], f"{op}: dispatch table not restored"


def test_nesting_registers_once_and_the_outermost_exit_restores():
    before = _cuda_line("aten::mm")
    with batch_invariant():
        ours = _cuda_line("aten::mm")
        with batch_invariant():
            assert _cuda_line("aten::mm") == ours  # not registered twice
        assert is_active() and _cuda_line("aten::mm") == ours
    assert not is_active() and _cuda_line("aten::mm") == before


def test_an_exception_inside_still_restores():
    before = _cuda_line("aten::addmm")
    with pytest.raises(KeyError):
        with batch_invariant():
            raise KeyError("boom")
    assert not is_active() and _cuda_line("aten::addmm") == before


def test_cpu_tensors_behave_as_without_the_context():
    x, w, b = _randn(9, 64), _randn(32, 64, seed=1), _randn(32, seed=2)
    calls = {
        "mm": lambda: torch.mm(x, w.t()),
        "addmm": lambda: torch.addmm(b, x, w.t(), beta=0.5, alpha=2.0),
        "linear": lambda: F.linear(x, w, b),
        "log_softmax": lambda: torch.log_softmax(x, -1),
        "mean": lambda: x.mean(-1),
        "rms_norm": lambda: F.rms_norm(x, (64,), None, 1e-6),
    }
    outside = {name: call() for name, call in calls.items()}
    with batch_invariant():
        inside = {name: call() for name, call in calls.items()}
    for name in calls:
        assert torch.equal(inside[name], outside[name]), f"{name} on CPU changed inside batch_invariant()"


# ------------------------------------------------------------------- the routed kernels keep aten's semantics

def test_mm_and_addmm_semantics():
    a, b = _randn(5, 32, dtype=torch.float16), _randn(32, 24, dtype=torch.float16, seed=1)
    bias = _randn(24, dtype=torch.float16, seed=2)
    ref = a.float() @ b.float()
    assert torch.allclose(_mm(a, b).float(), ref, atol=2e-2, rtol=1e-2)
    assert torch.allclose(_addmm(bias, a, b).float(), ref + bias.float(), atol=2e-2, rtol=1e-2)
    full_bias = _randn(5, 24, dtype=torch.float16, seed=3)  # a (M, N) bias, alpha and beta
    got = _addmm(full_bias, a, b, beta=0.5, alpha=2.0)
    assert torch.allclose(got.float(), 2 * ref + 0.5 * full_bias.float(), atol=5e-2, rtol=1e-2)
    assert torch.allclose(_addmm(full_bias, a, b, beta=0).float(), ref, atol=2e-2, rtol=1e-2)
    a64, b64 = a.double(), b.double()  # not ours: falls back to torch's kernel through mm.out
    assert torch.equal(_mm(a64, b64), a64 @ b64)
    assert torch.equal(_addmm(full_bias.double(), a64, b64, beta=0.5), torch.addmm(full_bias.double(), a64, b64, beta=0.5))
    with pytest.raises(RuntimeError):  # mixed dtypes: torch's own error
        _mm(a, b.float())


def test_log_softmax_semantics():
    x = _randn(4, 40, dtype=torch.float16)
    got = _log_softmax(x, 1, False)
    assert got.dtype == torch.float16
    assert torch.allclose(got.float(), torch.log_softmax(x.float(), 1), atol=1e-2)
    up = _log_softmax(x, 0, True)  # half_to_float: fp32 output
    assert up.dtype == torch.float32 and torch.allclose(up, torch.log_softmax(x.float(), 0), atol=1e-3)
    x64 = x.double()
    assert torch.allclose(_log_softmax(x64, -1, False), torch.log_softmax(x64, -1))


def test_mean_semantics():
    x = _randn(3, 4, 5, dtype=torch.bfloat16)
    assert torch.allclose(_mean_dim(x, [-1]).float(), x.float().mean(-1), atol=1e-2)
    assert _mean_dim(x, [0, 2], True).shape == (1, 4, 1)
    assert _mean_dim(x, None).shape == ()
    as_fp32 = _mean_dim(x, [1], dtype=torch.float32)
    assert as_fp32.dtype == torch.float32 and torch.allclose(as_fp32, x.float().mean(1), atol=1e-6)
    with pytest.raises(RuntimeError, match="floating point"):
        _mean_dim(torch.ones(3, dtype=torch.int64), [0])


def test_fused_rms_norm_semantics():
    x = _randn(6, 64, dtype=torch.bfloat16)
    w = (1 + 0.1 * _randn(64, seed=1)).to(torch.bfloat16)
    y, rstd = _fused_rms_norm(x, [64], w, 1e-6)
    ref = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6) * w.float()
    assert y.dtype == torch.bfloat16 and torch.allclose(y.float(), ref, atol=3e-2, rtol=2e-2)
    assert rstd.shape == (6, 1) and rstd.dtype == torch.float32
    x3 = _randn(2, 3, 4, 8)  # normalized over the last two dims
    y3, rstd3 = _fused_rms_norm(x3, [4, 8], None, None)
    ref3 = x3 * torch.rsqrt(x3.pow(2).mean((-2, -1), keepdim=True) + torch.finfo(torch.float32).eps)
    assert torch.allclose(y3, ref3, atol=1e-5) and rstd3.shape == (2, 3, 1, 1)
