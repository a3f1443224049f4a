"""`python -m perf advise`: the paper's worked examples, candidate generation and ranking, output, errors."""

import dataclasses
import json

import pytest

from perf import gpus
from perf.shape import models
from perf.commands.advise import (Candidate, candidates, head_candidates, main, param_count, recommend, vocab_candidates)
from perf.shape.layout import Layout

H100 = gpus.resolve("H100")
A100 = gpus.resolve("A100")


def test_param_count_of_gpt3_2_7b():
    # 12 h^2 L + v h for the standard layer: 12 * 2560^2 * 32 + 50257 * 2560 = 2.645e9
    assert param_count(models.get("gpt3-2.7b")) == 12 * 2560**2 * 32 + 50257 * 2560


@pytest.mark.parametrize("name, published, norms", [
    # Meta's published totals (8,030,261,248 and 6,738,415,616) less the RMSNorm weights: (2L + 1) x h
    ("llama-3-8b", 8_030_261_248, (2 * 32 + 1) * 4096),
    ("llama-2-7b", 6_738_415_616, (2 * 32 + 1) * 4096),
])
def test_param_count_includes_an_untied_output_head(name, published, norms):
    m = models.get(name)
    assert not m.tied_embeddings
    assert param_count(m) == published - norms


def test_untied_head_shows_in_the_printed_count(capsys):
    main(["llama-3-8b", "--gpu", "H100"])
    assert "8.03 B parameters" in capsys.readouterr().out


def test_help_keeps_the_knob_list_one_per_line(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for knob in ("heads", "ffn", "vocab", "hidden"):
        assert any(line.startswith(f"  {knob} ") for line in out.splitlines()), out


def test_a_faster_candidate_ranked_lower_says_why(capsys):
    main(["gpt3-2.7b", "--gpu", "H100"])
    out = capsys.readouterr().out
    section = out[out.index("heads: ranked"):out.index("ffn: ranked")]
    rows = [line for line in section.splitlines() if line[:1].isdigit()]
    flagged = next(r for r in rows if "[breaks head_dim_pow2]" in r and "a 32 -> 16" in r)
    clean = next(r for r in rows if "a 32 -> 20" in r)
    assert rows.index(flagged) > rows.index(clean)  # 770 TFLOP/s below 747: because it breaks a rule
    assert "rows marked [breaks RULE] break an error-level shape rule" in section
    assert "ranked after every row that breaks none, whatever their TFLOP/s" in section
    ffn = out[out.index("ffn: ranked"):out.index("vocab: ranked")]
    assert "[breaks" not in ffn and "rows marked [breaks RULE]" not in ffn  # said only where it applies


@pytest.mark.parametrize("gpu", [A100, H100], ids=lambda g: g.key)
def test_gpt3_heads_a20_ranks_above_a32(gpu):
    m = models.get("gpt3-2.7b")
    ranked = candidates(m, gpu, Layout(b=4))
    current, *heads = ranked["heads"]
    first = heads[0]
    assert first.model.heads == 20 and first.model.d_head == 128
    assert first.params == current.params  # the same parameter count
    assert first.predicted_tflops > 1.05 * current.predicted_tflops
    # C1 (a = 64, h/a = 40) ranks below the current shape, as in the paper's Figure 1
    c1 = next(c for c in heads if c.model.heads == 64)
    assert c1.predicted_tflops < current.predicted_tflops and "head_dim_pow2" in c1.new_errors


def test_llama2_7b_swiglu_size_is_among_the_best():
    m = models.get("llama-2-7b")
    for gpu in (A100, H100):
        current, *ffn = candidates(m, gpu, Layout())["ffn"]
        assert current.model.ffn == 11008
        assert all(c.model.ffn % 64 == 0 for c in ffn)
        better = [c for c in ffn if c.predicted_tflops > current.predicted_tflops]
        assert len(better) <= len(ffn) // 2
        assert current.predicted_tflops > 0.985 * ffn[0].predicted_tflops


def test_swiglu_8h3_gets_an_aligned_size():
    m = models.ModelConfig(name="x", hidden=4096, heads=32, layers=32, vocab=32000, seq=4096, ffn=10923, activation="swiglu")
    best = recommend(m, candidates(m, H100, Layout()), H100, Layout())
    assert best is not None and best.model.ffn % 64 == 0 and "ffn 10923 ->" in best.change


def test_vocab_padding_candidates():
    m = models.get("gpt2")
    vocab = vocab_candidates(m, H100, Layout())
    assert {c.model.vocab for c in vocab} == {50304, 50432}  # 64 and 128 both give 50304; 256 gives 50432
    assert all(c.predicted_tflops > 2 * candidates(m, H100, Layout())["vocab"][0].predicted_tflops for c in vocab)


def test_gqa_heads_keep_the_group_size():
    m = models.get("llama-3-8b")  # 32 heads, 8 kv heads: groups of 4
    for c in head_candidates(m, H100, Layout()):
        assert c.model.heads // c.model.n_kv_heads == 4
        assert c.params == param_count(m)


def test_recommendation_for_gpt3(capsys):
    code = main(["gpt3-2.7b", "--gpu", "H100"])
    out = capsys.readouterr().out
    assert code == 0
    assert "heads: ranked by the layer's TFLOP/s" in out and "ffn: ranked by the MLP block's TFLOP/s" in out
    assert "vocab: ranked by the logits GEMM's TFLOP/s" in out
    rank1 = next(line for line in out.splitlines() if line.startswith("1 ") and "a 32 ->" in line)
    assert "a 32 -> 20 (h/a 80 -> 128)" in rank1
    assert "recommendation: a 32 -> 20" in out
    assert "[breaks head_dim_pow2]" in out  # a = 16 (h/a = 160) is listed, flagged and not recommended


def test_json(capsys):
    code = main(["llama-2-7b", "--gpu", "A100", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["gpu"] == "A100-40GB"
    assert set(doc["candidates"]) == {"heads", "ffn", "vocab", "hidden"}
    assert doc["candidates"]["ffn"][0]["change"] == "current" and doc["candidates"]["ffn"][0]["ffn"] == 11008
    assert doc["candidates"]["vocab"][1:] == []  # 32000 is already a multiple of 256


def test_measure_without_a_gpu_exits_2(capsys):
    code = main(["gpt3-2.7b", "--gpu", "H100", "--measure"])
    assert code == 2 and "--measure" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["no-such-model", "--gpu", "H100"], "neither a file nor a registered model"),
    (["perf/shape/models/llama.toml", "--gpu", "H100"], "name one with --model"),
    (["perf/shape/models/llama.toml", "--gpu", "H100", "--model", "nope"], "no model 'nope'"),
    (["llama-2-7b", "--gpu", "H100", "--tp", "3"], "the layout does not split the model"),
    (["llama-2-7b", "--gpu", "Z9"], "unknown GPU"),
])
def test_bad_input_exits_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_toml_with_model_option(capsys):
    assert main(["perf/shape/models/llama.toml", "--gpu", "H100", "--model", "llama-2-13b"]) == 0
    assert "llama-2-13b" in capsys.readouterr().out


def test_candidate_as_dict_round_trip():
    m = models.get("pythia-1b")
    c = Candidate("heads", "current", m, param_count(m), 1.0)
    d = c.as_dict()
    assert d["heads"] == 8 and d["params"] == param_count(m) and d["measured_tflops"] is None
    assert dataclasses.replace(c, measured_tflops=2.0).score == 2.0


def test_hf_config_without_context_length_is_advised_at_the_default(capsys):
    from pathlib import Path

    folder = Path(__file__).parent / "fixtures" / "hf" / "falcon-7b"
    assert main([str(folder), "--gpu", "H100"]) == 0
    out = capsys.readouterr().out
    assert "s=2048" in out and "s = 2048: the config has no context length" in out and "pass --seq to change" in out
    assert main([str(folder), "--gpu", "H100", "--seq", "1024"]) == 0
    out = capsys.readouterr().out
    assert "s=1024" in out and "pass --seq to change" not in out
