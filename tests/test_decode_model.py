import json

import pytest

from perf_kernels.decode_attention import bytes as attn_bytes
from perf.shape import models
from perf.commands.decode_model import main
from perf.report.decode_model import DecodeModelError, attention_ms, decode_frame, decode_rows, gemm_ms
from perf.shape.shapes import layer_gemms

LLAMA = models.get("llama-2-7b")  # MHA: 32 heads, 32 kv heads, head 128, 32 layers
GBS = 2000.0  # the synthetic attention runs at a flat 2000 GB/s


def _gemm_results(model="llama-2-7b", ms_of=lambda gemm, m: 0.01 * m + (1.0 if gemm == "logits" else 0.1)):
    cfg = models.get(model)
    out = []
    for kind, ms in (("batch", (1, 2, 4, 8)), ("draft", (4, 16))):
        for m in ms:
            for g in layer_gemms(cfg, b=m, s=1):
                if g.name in ("attn_score", "attn_over_value"):
                    continue
                out.append({"key": f"decode/gemm:{model}:{g.name}:bf16:m{m}:{kind}", "family": "decode",
                            "dtype": "bf16", "flops": g.flops(), "bytes": g.bytes(2),
                            "params": {"op": "gemm", "model": model, "gemm": g.name, "m": m, "kind": kind},
                            "summary": {"median_ms": ms_of(g.name, m) + (5.0 if kind == "draft" else 0.0)}})
    return out


def _attention_results(heads=32, kv=32, d=128, batches=(1, 8), provider="triton", gbs=lambda length: GBS):
    out = []
    for b in batches:
        for length in (1024, 4096, 16384):
            nbytes = attn_bytes(b, heads, kv, length, d, 2)
            out.append({"family": "decode", "dtype": "bf16", "bytes": nbytes, "flops": 0,
                        "params": {"op": "attention", "provider": provider, "heads": heads, "kv_heads": kv,
                                   "head_dim": d, "batch": b, "L": length},
                        "summary": {"median_ms": nbytes / (gbs(length) * 1e6)}})
    return out


RESULTS = _gemm_results() + _attention_results()


def test_step_time_is_the_sum_of_its_parts():
    rows = decode_rows(RESULTS, "llama-2-7b", 1, steps=(0, 4095))
    per_layer = 5 * (0.01 + 0.1)  # qkv, out_proj, mlp_up, mlp_gate, mlp_down at m=1
    for row in rows:
        attn = attn_bytes(1, 32, 32, row["cache_len"], 128, 2) / (GBS * 1e6)
        assert row["step_ms"] == pytest.approx(32 * (per_layer + attn) + 1.01)
        assert row["tokens_per_s"] == pytest.approx(1e3 / row["step_ms"])
        assert row["kv_cache_bytes"] == 2 * 32 * 1 * 32 * 128 * row["cache_len"] * 2
    assert rows[1]["cache_len"] == 4096
    assert rows[1]["tokens_per_s"] < rows[0]["tokens_per_s"]
    assert rows[1]["flops"] - rows[0]["flops"] == 32 * 4 * 32 * 128 * 4095


def test_batch_gemms_win_over_drafts_and_interpolate_in_m():
    assert gemm_ms(RESULTS, "llama-2-7b", 4)["qkv"] == pytest.approx(0.14)  # not the +5 ms draft entry
    assert gemm_ms(RESULTS, "llama-2-7b", 16)["qkv"] == pytest.approx(5.26)  # only a draft measured M=16
    assert gemm_ms(RESULTS, "llama-2-7b", 3)["qkv"] == pytest.approx(0.13)  # between M=2 and M=4
    with pytest.raises(DecodeModelError, match="outside the measured M"):
        gemm_ms(RESULTS, "llama-2-7b", 64)
    with pytest.raises(DecodeModelError, match="--model gpt3-2.7b"):
        decode_rows(RESULTS, "gpt3-2.7b")


def test_kv_budget_caps_memory_and_time():
    free = decode_rows(RESULTS, "llama-2-7b", 1, steps=(0, 1000, 8000, 16000))
    capped = decode_rows(RESULTS, "llama-2-7b", 1, steps=(0, 1000, 8000, 16000), kv_budget=2048)
    assert [r["kv_len"] for r in capped] == [1, 1001, 2048, 2048]
    assert capped[2]["step_ms"] == capped[3]["step_ms"] and capped[3]["kv_cache_bytes"] < free[3]["kv_cache_bytes"]
    assert capped[1] == {**free[1], "kv_budget": 2048}
    assert free[3]["tokens_per_s"] < capped[3]["tokens_per_s"]
    with pytest.raises(DecodeModelError, match="kv_budget"):
        decode_rows(RESULTS, "llama-2-7b", kv_budget=0)


def test_attention_interpolates_bandwidth_in_log_length():
    # 1000 GB/s at 1k, 3000 GB/s at 4k and beyond: 2k sits halfway in log2(L).
    res = _attention_results(gbs=lambda length: 1000.0 if length == 1024 else 3000.0)
    got = attention_ms(res, 32, 32, 128, 1, [2048, 1024, 65536], 2)
    assert got[0] == pytest.approx(attn_bytes(1, 32, 32, 2048, 128, 2) / 2000e6)
    assert got[1] == pytest.approx(attn_bytes(1, 32, 32, 1024, 128, 2) / 1000e6)
    assert got[2] == pytest.approx(attn_bytes(1, 32, 32, 65536, 128, 2) / 3000e6)  # held past the end


def test_attention_uses_the_nearest_measured_shape_and_batch_and_provider_order():
    gqa = _attention_results(32, 8, 128, gbs=lambda length: 1000.0)
    mha_torch = _attention_results(32, 32, 128, provider="torch", gbs=lambda length: 500.0)
    # Only the triton provider is used when present, even for an MHA model (the GQA shape is the nearest).
    got = attention_ms(gqa + mha_torch, 32, 32, 128, 4, [4096], 2)[0]
    assert got == pytest.approx(attn_bytes(4, 32, 32, 4096, 128, 2) / 1000e6)
    assert attention_ms(gqa + mha_torch, 32, 32, 128, 4, [4096], 2, provider="torch")[0] == pytest.approx(
        attn_bytes(4, 32, 32, 4096, 128, 2) / 500e6)
    with pytest.raises(DecodeModelError, match="no decode attention"):
        attention_ms(_gemm_results(), 32, 32, 128, 1, [1024], 2)


def test_frame_and_command(tmp_path, capsys):
    frame = decode_frame(RESULTS, ["llama-2-7b"], batches=(1, 2), budgets=(None, 1024), steps=(0, 2048, 4096))
    assert len(frame) == 2 * 2 * 3
    assert {"tokens_per_s", "kv_cache_gb", "gflops", "step_ms", "kv_budget"} <= set(frame.columns)
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"results": RESULTS}))
    csv = tmp_path / "rows.csv"
    assert main([str(path), "--model", "llama-2-7b", "--budget", "1024", "--csv", str(csv)]) == 0
    assert "tokens_per_s" in capsys.readouterr().out and csv.read_text().count("\n") == 2 * 33 + 1
    assert main([str(tmp_path / "missing.json"), "--model", "llama-2-7b"]) == 2
    assert main([str(path), "--model", "gpt3-2.7b"]) == 2
