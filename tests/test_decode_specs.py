import pytest

from perf import gpus
from perf.shape import models
from perf.verdict.roofline import Ceilings
from perf.suite.decode_specs import BATCH_M, DRAFT_M, decode_specs
from perf.measure.target import Target

H100 = gpus.resolve("H100")
GPU = Target(gpu=H100, present=H100)
CPU = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")


def _gemms(specs):
    return [s for s in specs if s.params["op"] == "gemm"]


def _attention(specs):
    return [s for s in specs if s.params["op"] == "attention"]


def test_gpu_decode_gemms_cover_batches_and_drafts():
    specs = decode_specs(GPU)
    assert len({s.key for s in specs}) == len(specs)
    gemms = _gemms(specs)
    assert {s.params["model"] for s in gemms} == {"llama-2-7b", "gpt3-2.7b"}
    assert not any(s.params["gemm"] in ("attn_score", "attn_over_value") for s in gemms)
    llama = [s for s in gemms if s.params["model"] == "llama-2-7b"]
    assert {s.params["gemm"] for s in llama} == {"qkv", "out_proj", "mlp_up", "mlp_gate", "mlp_down", "logits"}
    assert sorted({s.params["m"] for s in llama if s.params["kind"] == "batch"}) == list(BATCH_M)
    assert sorted({s.params["m"] for s in llama if s.params["kind"] == "draft"}) == list(DRAFT_M)
    by_id = {s.id: s for s in specs}
    qkv = by_id["gemm:llama-2-7b:qkv:bf16:m1:batch"]
    assert (qkv.params["n"], qkv.params["k"]) == (3 * 4096, 4096) and qkv.requires == ("gpu",)
    assert qkv.group == "decode/gemm:llama-2-7b:qkv" and qkv.params["layers"] == 32


def test_decode_gemms_cross_the_ridge():
    """At M=1 every projection is memory-bound (about 1 FLOP/byte); by M=256 the MLP has moved up ~200x."""
    ceil = Ceilings.from_spec(H100)
    by_id = {s.id: s for s in decode_specs(GPU)}
    m1 = by_id["gemm:llama-2-7b:mlp_up:bf16:m1:batch"]
    m256 = by_id["gemm:llama-2-7b:mlp_up:bf16:m256:batch"]
    assert m1.intensity == pytest.approx(1.0, rel=0.01) and m1.intensity < ceil.ridge("bf16")
    assert m256.intensity > 200 * m1.intensity * 0.9


def test_models_option_selects_gemm_models():
    specs = decode_specs(GPU, ("llama-3-8b",))
    assert {s.params["model"] for s in _gemms(specs)} == {"llama-3-8b"}
    qkv = next(s for s in specs if s.id == "gemm:llama-3-8b:qkv:bf16:m1:batch")
    cfg = models.get("llama-3-8b")
    assert qkv.params["n"] == (cfg.heads + 2 * cfg.n_kv_heads) * cfg.d_head
    assert _attention(specs)  # attention specs carry no model: --model does not drop them


def test_gpu_attention_grid():
    attn = _attention(decode_specs(GPU))
    assert {s.params["L"] for s in attn} == {1024, 4096, 16384, 32768}
    assert {s.params["batch"] for s in attn} == {1, 8, 64}
    assert {(s.params["heads"], s.params["kv_heads"], s.params["head_dim"]) for s in attn} == {(32, 8, 128),
                                                                                                (32, 32, 128)}
    assert len(attn) == 2 * 2 * 3 * 4
    ours = {s.id: s for s in attn if s.params["provider"] == "triton"}
    theirs = {s.id.replace(":torch:", ":triton:"): s for s in attn if s.params["provider"] == "torch"}
    assert ours.keys() == theirs.keys()
    for key, s in ours.items():
        assert s.requires == ("triton",) and theirs[key].requires == ("gpu",)
        assert s.flops == theirs[key].flops and s.bytes == theirs[key].bytes and s.group == theirs[key].group
    gqa = ours["attention:triton:bf16:gqa-h32-kv8-d128:b1:L4096"]
    assert gqa.bytes == 2 * (2 * 8 * 4096 * 128 + 2 * 32 * 128)
    full = _attention(decode_specs(Target(gpu=H100, present=H100, sweep="full")))
    assert {s.params["L"] for s in full} == {2**i for i in range(10, 16)} and len(full) > len(attn)


def test_cpu_subset_is_torch_only_and_runs():
    specs = decode_specs(CPU)
    attn = _attention(specs)
    assert attn and {s.params["provider"] for s in attn} == {"torch"}
    assert all(s.requires == () and s.dtype == "fp32" for s in specs)
    assert len(specs) <= 30
    for s in attn + _gemms(specs)[:3]:
        prepared = s.build(CPU)
        prepared.verify()
        prepared.fn()


def test_attention_verify_catches_a_wrong_result(monkeypatch):
    from perf_kernels import decode_attention as da

    spec = _attention(decode_specs(CPU))[0]
    monkeypatch.setattr(da, "torch_sdpa", lambda q, k, v: q * 0 + 1)
    with pytest.raises(AssertionError, match="largest error .* of the reference.s scale"):
        spec.build(CPU).verify()
