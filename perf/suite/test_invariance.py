"""Batch invariance on the GPU: our kernels must be bitwise batch-invariant; the vendor's are audited.

- test_<kernel>_invariant: a row computed alone equals, bit for bit, the same row inside batches of
  sizes up to 8192 (every size to 16, then 2^k - 1, 2^k, 2^k + 1, and every M where the matmul config changes),
  at the first, middle and last position. A difference fails the test with the first failing
  size/position and the largest difference.
- test_attention_invariant: a prompt's causal prefill attention (perf_kernels.attention, GQA) alone and
  inside batches of 1..64 prompts padded after it; a decode step through the routed SDPA with
  padding holes against the sequence alone.
- test_batch_invariant_mode: inside `batch_invariant()`, torch's mm / addmm / F.linear / bmm / softmax /
  log_softmax / mean / sum / F.layer_norm / F.rms_norm / SDPA on CUDA give our kernels' bits and are
  batch-invariant; on exit the CUDA kernels that were registered before are back.
- test_vendor_audit: for torch.matmul (cuBLAS), F.rms_norm, log_softmax and mean, whether each token
  count gives the row alone's bits. A report, not a failure: findings go to the results file as
  "perf_audit" user properties, and a table is printed (run with -s to see it).

These tests take no perf_measure. On the CPU they skip: tests/ covers the kernels under the interpreter.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from perf_kernels.attention import attention
from perf_kernels.batch_invariant import batch_invariant, is_active
from perf_kernels.layer_norm import layer_norm
from perf_kernels.invariance import bitwise_equal, check_batch_invariance, edge_sizes
from perf_kernels.log_softmax import log_softmax, softmax
from perf_kernels.matmul import BUCKET_EDGES, config_edges, matmul
from perf_kernels.mean import mean
from perf_kernels.rms_norm import rms_norm

MAX_TOKENS = 8192
AUDIT_TOKENS = tuple(2**i for i in range(14))  # 1 .. 8192
EPS = 1e-6


@pytest.fixture(scope="module")
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    return torch.device("cuda")


def _gen(seed: int = 0):
    return torch.Generator(device="cuda").manual_seed(seed)


def _row(n: int, dtype, seed: int = 1):
    return torch.randn((n,), device="cuda", dtype=torch.float32, generator=_gen(seed)).to(dtype)


def _weight(k: int, n: int, dtype):
    return (torch.randn((k, n), device="cuda", dtype=torch.float32, generator=_gen(2)) / k**0.5).to(dtype)


def _assert_invariant(result):
    assert result.invariant, result.summary()


# ------------------------------------------------------------------------------------------ our kernels

@pytest.mark.parametrize(
    "k,n,dtype",
    [(4096, 4096, torch.bfloat16), (4096, 14336, torch.bfloat16), (4096, 4096, torch.float16), (1024, 1000, torch.bfloat16)],
    ids=["k4096-n4096-bf16", "k4096-n14336-bf16", "k4096-n4096-fp16", "k1024-n1000-bf16"],
)
def test_matmul_invariant(cuda, k, n, dtype):
    w = _weight(k, n, dtype)
    sizes = edge_sizes(MAX_TOKENS, edges=config_edges(n, k, dtype, MAX_TOKENS))  # every M where the config changes
    result = check_batch_invariance(lambda x: matmul(x, w), _row(k, dtype), max_batch=MAX_TOKENS, sizes=sizes,
                                    name=f"matmul k{k} n{n} {dtype}")
    _assert_invariant(result)


@pytest.mark.parametrize("hidden", [4096, 8192, 32768], ids=lambda h: f"h{h}")
def test_rms_norm_invariant(cuda, hidden):
    weight = (1 + 0.1 * _row(hidden, torch.float32, seed=3)).to(torch.bfloat16)
    result = check_batch_invariance(lambda x: rms_norm(x, weight, EPS), _row(hidden, torch.bfloat16),
                                    max_batch=MAX_TOKENS, sizes=edge_sizes(MAX_TOKENS), name=f"rms_norm h{hidden}")
    _assert_invariant(result)


@pytest.mark.parametrize("hidden", [4096, 32000], ids=lambda h: f"h{h}")
def test_log_softmax_invariant(cuda, hidden):
    result = check_batch_invariance(lambda x: log_softmax(x, -1), _row(hidden, torch.bfloat16),
                                    max_batch=MAX_TOKENS, sizes=edge_sizes(MAX_TOKENS), name=f"log_softmax h{hidden}")
    _assert_invariant(result)


@pytest.mark.parametrize("hidden", [4096, 32768], ids=lambda h: f"h{h}")
def test_mean_invariant(cuda, hidden):
    result = check_batch_invariance(lambda x: mean(x, -1).unsqueeze(-1), _row(hidden, torch.bfloat16),
                                    max_batch=MAX_TOKENS, sizes=edge_sizes(MAX_TOKENS), name=f"mean h{hidden}")
    _assert_invariant(result)


@pytest.mark.parametrize("length", [1, 63, 64, 65, 200, 1000], ids=lambda n: f"len{n}")
def test_attention_invariant(cuda, length):
    heads, kv_heads, d, padded = 32, 8, 128, 1024
    q = torch.randn((64, heads, padded, d), device="cuda", generator=_gen(11)).to(torch.bfloat16)
    k = torch.randn((64, kv_heads, padded, d), device="cuda", generator=_gen(12)).to(torch.bfloat16)
    v = torch.randn((64, kv_heads, padded, d), device="cuda", generator=_gen(13)).to(torch.bfloat16)
    alone = attention(q[:1, :, :length], k[:1, :, :length], v[:1, :, :length], causal=True)[0]
    for size in (1, 2, 3, 17, 64):
        pos = size // 2
        lens = torch.randint(1, padded + 1, (size,), generator=torch.Generator().manual_seed(size))
        lens[pos] = length
        keep = torch.arange(padded)[None, :] < lens[:, None]
        mask = (torch.ones(padded, padded, dtype=torch.bool).tril() & keep[:, None, None, :]).cuda()
        qb, kb, vb = q[:size].clone(), k[:size].clone(), v[:size].clone()
        qb[pos], kb[pos], vb[pos] = q[0], k[0], v[0]
        got = attention(qb, kb, vb, mask)[pos, :, :length]
        assert bitwise_equal(got, alone), f"prefill length {length} in a batch of {size}: max |diff| " \
            f"{(got.float() - alone.float()).abs().max().item():.3e}"
        with batch_invariant():
            step = F.scaled_dot_product_attention(qb[:, :, -1:], kb, vb, attn_mask=keep[:, None, None, :].cuda(),
                                                  enable_gqa=True)[pos]
            ref = F.scaled_dot_product_attention(q[:1, :, -1:], k[:1, :, :length], v[:1, :, :length], enable_gqa=True)[0]
        assert bitwise_equal(step, ref), f"decode step over {length} keys in a batch of {size} differs"


# ------------------------------------------------------------------------------------------ the context manager

def test_batch_invariant_mode(cuda):
    dtype = torch.bfloat16
    x = torch.randn((257, 4096), device="cuda", dtype=torch.float32, generator=_gen(5)).to(dtype)
    w = _weight(4096, 4096, dtype)
    bias = _row(4096, dtype, seed=6)
    norm_w = (1 + 0.1 * _row(4096, torch.float32, seed=7)).to(dtype)
    before = torch._C._dispatch_dump_table("aten::mm")
    with batch_invariant():
        assert is_active()
        assert bitwise_equal(torch.mm(x, w), matmul(x, w)), "torch.mm inside batch_invariant() is not our matmul"
        # F.linear(x, W, bias) with W = w.t() is addmm(bias, x, W.t()) = x @ w + bias
        assert bitwise_equal(F.linear(x, w.t(), bias), matmul(x, w, bias)), "F.linear inside batch_invariant() is not ours"
        assert bitwise_equal(torch.log_softmax(x, -1), log_softmax(x, -1)), "log_softmax is not routed"
        assert bitwise_equal(torch.mean(x, -1), mean(x, -1)), "mean is not routed"
        assert bitwise_equal(torch.softmax(x, -1), softmax(x, -1)), "softmax is not routed"
        assert bitwise_equal(F.layer_norm(x, (4096,), norm_w, bias), layer_norm(x, norm_w, bias)), "layer_norm is not routed"
        w3 = w[:, :256].expand(8, 4096, 256)
        checks = {
            "torch.matmul": lambda b: torch.matmul(b, w),
            "torch.matmul 3-D (bmm)": lambda b: torch.matmul(b[None].expand(8, -1, -1), w3)[3],
            "softmax": lambda b: torch.softmax(b, -1),
            "sum": lambda b: b.sum(-1, keepdim=True),
            "F.layer_norm": lambda b: F.layer_norm(b, (4096,), norm_w, bias),
            "F.linear+bias": lambda b: F.linear(b, w.t(), bias),
            "F.rms_norm": lambda b: F.rms_norm(b, (4096,), norm_w, EPS),
            "log_softmax": lambda b: torch.log_softmax(b, -1),
            "mean": lambda b: torch.mean(b, -1, keepdim=True),
        }
        for name, op in checks.items():
            result = check_batch_invariance(op, x[0], max_batch=1024, sizes=edge_sizes(1024, BUCKET_EDGES),
                                            name=f"{name} in batch_invariant()")
            _assert_invariant(result)
    assert not is_active()
    assert torch._C._dispatch_dump_table("aten::mm") == before, "the CUDA kernel of aten::mm was not restored"


# ------------------------------------------------------------------------------------------ vendor audit

def _vendor_ops(hidden: int, dtype):
    w = _weight(hidden, hidden, dtype)
    w_mlp = _weight(hidden, 14336, dtype)
    norm_w = (1 + 0.1 * _row(hidden, torch.float32, seed=3)).to(dtype)
    return {
        f"torch.matmul {hidden}x{hidden}": lambda b: torch.matmul(b, w),
        f"torch.matmul {hidden}x14336": lambda b: torch.matmul(b, w_mlp),
        f"F.rms_norm h{hidden}": lambda b: F.rms_norm(b, (hidden,), norm_w, EPS),
        f"log_softmax h{hidden}": lambda b: torch.log_softmax(b, -1),
        f"mean h{hidden}": lambda b: torch.mean(b, -1, keepdim=True),
    }


def test_vendor_audit(cuda, request):
    hidden, dtype = 4096, torch.bfloat16
    device_name = torch.cuda.get_device_name()
    rows = []
    for name, op in _vendor_ops(hidden, dtype).items():
        result = check_batch_invariance(op, _row(hidden, dtype), max_batch=MAX_TOKENS, sizes=AUDIT_TOKENS, name=name)
        finding = {
            "op": name,
            "dtype": "bf16",
            "device": device_name,
            "torch": torch.__version__,
            "invariant": result.invariant,
            "first_failure": list(result.first_failure) if result.first_failure else None,
            "max_abs_diff": result.max_abs_diff,
            "tokens": {str(o.size): o.equal for o in result.by_size},
        }
        request.node.user_properties.append(("perf_audit", finding))
        rows.append((name, result))
    header = f"{'operator':<28}" + "".join(f"{t:>6}" for t in AUDIT_TOKENS) + "  max|diff|"
    print(f"\nbatch-invariance audit on {device_name} (bf16; '=' same bits as the row alone, 'x' differs)")
    print(header)
    for name, result in rows:
        marks = "".join(f"{'=' if o.equal else 'x':>6}" for o in result.by_size)
        print(f"{name:<28}{marks}  {result.max_abs_diff:.2e}")
