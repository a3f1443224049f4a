import pytest

from perf import gpus
from perf.shape.quantization import tile_efficiency, tiles, wave_efficiency, wave_efficiency_for, waves
from perf.suite.sweep_specs import sweep_specs
from perf.measure.target import Target

H100 = gpus.resolve("H100")
A100 = gpus.resolve("A100")
CPU = Target(gpu=gpus.CPU, present=gpus.CPU, dtype="fp32")


def _target(gpu, sweep="compact"):
    return Target(gpu=gpu, present=gpu, sweep=sweep)


# --- wave arithmetic, hand-worked -------------------------------------------------------------------

def test_tiles_and_waves():
    assert tiles(4096, 4096) == 32 * 16
    assert tiles(129, 256) == 2  # a partial tile still runs
    assert tiles(128, 256, batch=3) == 3
    assert waves(108, 108) == 1 and waves(109, 108) == 2
    with pytest.raises(ValueError, match="SM count"):
        waves(1, 0)


def test_wave_efficiency_hand_worked():
    # The paper's example: 109 blocks on 108 SMs, two waves: 109 / 216.
    assert wave_efficiency_for(109 * 128, 256, 108, (128, 256)) == pytest.approx(109 / 216)
    # (27648, 4096) x (4096, k): 27648 = 216 tiles of 128; k = 256 gives 216 tiles = 2 full waves on an A100.
    assert wave_efficiency(27648, 256, 108) == 1.0
    # On an H100 (132 SMs) the same GEMM needs 2 waves for 216 tiles: 216 / 264.
    assert wave_efficiency(27648, 256, 132) == pytest.approx(216 / 264)
    # The better orientation wins: (256, 128) output fits one 256x128 tile exactly either way.
    assert wave_efficiency(256, 128, 1) == 1.0
    assert tile_efficiency(128, 256) == 1.0 and tile_efficiency(129, 256) == pytest.approx(129 / 256)


# --- specs --------------------------------------------------------------------------------------------

def test_gpu_specs_carry_sweep_x_and_prediction():
    specs = sweep_specs(_target(H100))
    assert len({s.key for s in specs}) == len(specs)
    figures = {s.params["sweep"] for s in specs}
    assert figures == {"fig5a", "fig5b", "fig5c", "fig7a", "fig7b", "fig8", "fig9", "fig10a", "fig10b", "fig20a",
                       "fig20b", "swiglu", "align"}
    for s in specs:
        assert s.family == "sweep" and s.requires == ("gpu",) and s.dtype == "bf16"
        assert 0 < s.params["predicted_wave_efficiency"] <= 1 and s.params["sms"] == 132
        assert isinstance(s.params["x"], int) and s.group.startswith(f"sweep/{s.params['sweep']}")
    by_id = {s.id: s for s in specs}
    p = by_id["fig5b:gemm:bf16:x256"].params
    assert (p["m"], p["n"], p["k"]) == (27648, 256, 4096)
    assert p["predicted_wave_efficiency"] == pytest.approx(216 / 264, abs=1e-4)
    score = by_id["fig7a:attn_score:bf16:x2560"].params  # a=32, h/a=80: only 16 divides it
    assert (score["batch"], score["m"], score["n"], score["k"]) == (4 * 32, 2048, 2048, 80)
    assert score["h_over_a"] == 80 and score["h_over_a_pow2"] == 16
    aov = by_id["fig7b:attn_over_value:bf16:x2560"].params
    assert (aov["m"], aov["n"], aov["k"]) == (2048, 80, 2048)
    up, down = by_id["fig10a:mlp_up:bf16:x4096"].params, by_id["fig10b:mlp_down:bf16:x4096"].params
    assert (up["m"], up["n"], up["k"]) == (8192, 16384, 4096) and (down["n"], down["k"]) == (4096, 16384)
    assert by_id["fig20b:logits:bf16:x51201"].params["v_mod_64"] == 1
    assert any(s.id.endswith(":a96") for s in specs)  # fig8/9 carry one series per a


def test_prediction_follows_the_gpu():
    on_a100 = {s.id: s.params["predicted_wave_efficiency"] for s in sweep_specs(_target(A100))}
    on_h100 = {s.id: s.params["predicted_wave_efficiency"] for s in sweep_specs(_target(H100))}
    assert on_a100.keys() == on_h100.keys()
    assert on_a100["fig5b:gemm:bf16:x256"] == 1.0 and on_h100["fig5b:gemm:bf16:x256"] < 0.9


def test_full_sweep_has_more_points():
    compact, full = sweep_specs(_target(H100)), sweep_specs(_target(H100, "full"))
    assert len(full) > 3 * len(compact)
    assert {s.params["sweep"] for s in full} == {s.params["sweep"] for s in compact}


def test_cpu_points_are_tiny_and_run():
    specs = sweep_specs(CPU)
    assert 3 <= len(specs) <= 16 and all(s.requires == () and s.dtype == "fp32" for s in specs)
    for s in specs:
        assert s.flops < 10**9
        prepared = s.build(CPU)
        prepared.verify()


def test_swiglu_and_align_sweeps_measure_what_the_claims_read():
    by_id = {s.id: s for s in sweep_specs(_target(H100))}
    for ffn in (10923, 10880, 11008):
        up, down = by_id[f"swiglu:mlp_up:bf16:x{ffn}"], by_id[f"swiglu:mlp_down:bf16:x{ffn}"]
        assert (up.params["m"], up.params["n"], up.params["k"]) == (8192, ffn, 4096)
        assert (down.params["m"], down.params["n"], down.params["k"]) == (8192, 4096, ffn)
        assert up.group == "sweep/swiglu:mlp_up" and down.group == "sweep/swiglu:mlp_down"
    aligned = by_id["align:gemm:bf16:x4096:none"].params
    assert (aligned["m"], aligned["n"], aligned["k"]) == (4096, 4096, 4096)
    for dim in "mnk":
        off = by_id[f"align:gemm:bf16:x4095:{dim}"].params
        assert off[dim] == 4095 and all(off[d] == 4096 for d in "mnk" if d != dim)
