"""The transformer GEMMs of paper Table II, their FLOPs and bytes."""

import dataclasses

import pytest

from perf.shape import models
from perf.shape.models import ModelConfig
from perf.shape.shapes import Gemm, ShapeError, layer_flops, layer_gemms


def model(**kw) -> ModelConfig:
    base = dict(name="m", hidden=2560, heads=32, layers=32, vocab=50304, seq=2048, ffn=4 * 2560)
    return ModelConfig(**{**base, **kw})


def by_name(gemms):
    return {g.name: g for g in gemms}


def test_table_ii_shapes_for_gpt3_2_7b():
    g = by_name(layer_gemms(models.get("gpt3-2.7b"), b=4, s=2048))
    bs, h, a = 4 * 2048, 2560, 32
    assert (g["qkv"].m, g["qkv"].k, g["qkv"].n) == (bs, h, 3 * h)
    assert (g["attn_score"].batch, g["attn_score"].m, g["attn_score"].k, g["attn_score"].n) == (4 * a, 2048, 80, 2048)
    assert (g["attn_over_value"].batch, g["attn_over_value"].m, g["attn_over_value"].k, g["attn_over_value"].n) == (
        4 * a, 2048, 2048, 80)
    assert (g["out_proj"].m, g["out_proj"].k, g["out_proj"].n) == (bs, h, h)
    assert (g["mlp_up"].m, g["mlp_up"].k, g["mlp_up"].n) == (bs, h, 4 * h)
    assert (g["mlp_down"].m, g["mlp_down"].k, g["mlp_down"].n) == (bs, 4 * h, h)
    assert (g["logits"].m, g["logits"].k, g["logits"].n) == (bs, h, 50257)
    assert "mlp_gate" not in g


@pytest.mark.parametrize("b,s,h,a", [(4, 2048, 2560, 32), (1, 512, 1024, 16), (8, 1024, 4096, 64), (2, 2048, 2560, 20)])
def test_forward_total_is_24bsh2_plus_4bs2h(b, s, h, a):
    cfg = model(hidden=h, heads=a, ffn=4 * h)
    assert layer_flops(cfg, b, s) == 24 * b * s * h**2 + 4 * b * s**2 * h


def test_tensor_parallel_divides_the_per_gpu_dimensions():
    g = by_name(layer_gemms(model(), b=1, s=2048, t=4))
    assert g["qkv"].n == 3 * 2560 // 4
    assert g["attn_score"].batch == 32 // 4
    assert g["out_proj"].k == 2560 // 4
    assert g["mlp_up"].n == 4 * 2560 // 4 and g["mlp_down"].k == 4 * 2560 // 4
    assert g["logits"].n == 50304 // 4
    # The per-GPU total is the whole layer's divided by t.
    assert layer_flops(model(), 1, 2048, 4) * 4 == layer_flops(model(), 1, 2048, 1)


def test_gqa_and_swiglu_llama():
    g = by_name(layer_gemms(models.get("llama-2-7b"), b=1, s=4096))
    assert g["qkv"].n == 3 * 4096
    assert g["mlp_gate"].n == g["mlp_up"].n == 11008 and g["mlp_down"].k == 11008
    gqa = model(hidden=4096, heads=32, kv_heads=8, ffn=14336, activation="swiglu")
    assert by_name(layer_gemms(gqa, 1, 128))["qkv"].n == (32 + 2 * 8) * 128


def test_flops_and_bytes_of_one_gemm():
    g = Gemm("x", m=8, n=4, k=2, batch=3)
    assert g.flops() == 2 * 3 * 8 * 4 * 2
    assert g.bytes(2) == 2 * 3 * (8 * 2 + 2 * 4 + 8 * 4)
    assert g.intensity(2) == pytest.approx(g.flops() / g.bytes(2))
    assert g.shape == "3x(8,2)x(2,4)"


def test_heads_not_divisible_by_t_is_a_shape_error():
    with pytest.raises(ShapeError, match="heads/t: 32 is not divisible by 3"):
        layer_gemms(model(), b=1, s=128, t=3)


def test_invalid_config_names_the_field():
    with pytest.raises(models.ModelConfigError, match="'heads' must divide 'hidden'"):
        models.validate(model(heads=33))
    with pytest.raises(models.ModelConfigError, match="'ffn' must be a positive integer"):
        models.validate(dataclasses.replace(model(), ffn=-1))
