"""Hugging Face config.json import: field spellings per family, gated activations, errors naming file and field."""

from pathlib import Path

import pytest

from perf.shape import models
from perf.shape.hf_config import DEFAULT_SEQ, from_dict, load
from perf.shape.models import ModelConfigError

HF = Path(__file__).parent / "fixtures" / "hf"


def same_shape(a, b):
    fields = ("hidden", "heads", "layers", "vocab", "ffn", "activation", "n_kv_heads", "d_head")
    return {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}


@pytest.mark.parametrize("name", ["llama-2-7b", "mistral-7b", "gpt2", "gemma-7b", "gpt-neox-20b", "opt-125m", "phi-2",
                                  "qwen2-7b"])
def test_fixture_matches_the_registry(name):
    imported = load(HF / name / "config.json")
    assert same_shape(imported, models.get(name)), (imported, models.get(name))


def test_llama_family_is_swiglu_via_model_type():
    m = load(HF / "llama-2-7b")  # a folder holding config.json
    assert m.activation == "swiglu" and m.gated and m.seq == 4096 and m.kv_heads is None
    assert m.name == "Llama-2-7b-hf"  # from _name_or_path
    assert load(HF / "gemma-7b").activation == "geglu"  # gemma: gated GELU
    assert load(HF / "mistral-7b").n_kv_heads == 8


def test_gpt2_spellings_and_default_ffn():
    m = load(HF / "gpt2" / "config.json")
    assert (m.hidden, m.heads, m.layers, m.seq, m.ffn, m.activation) == (768, 12, 12, 1024, 3072, "gelu")
    assert m.name == "gpt2"  # the model_type when _name_or_path is absent


def test_falcon_multi_query_and_kv_heads():
    f7 = load(HF / "falcon-7b", seq=2048)
    assert f7.n_kv_heads == 1 and f7.d_head == 64 and f7.ffn == 4 * 4544
    f40 = load(HF / "falcon-40b", seq=2048)
    assert f40.n_kv_heads == 8 and same_shape(f40, models.get("falcon-40b"))


def test_opt_relu_and_ffn_dim():
    m = load(HF / "opt-125m")
    assert m.activation == "relu" and m.ffn == 3072


@pytest.mark.parametrize("folder", ["falcon-7b", "bloom-560m"])
def test_missing_context_length_uses_the_documented_default_and_seq_wins(folder):
    m = load(HF / folder)  # the released config.json files have no max_position_embeddings
    assert m.seq == DEFAULT_SEQ == 2048
    assert "pass --seq to change" in m.source_of("seq") and "max_position_embeddings" in m.source_of("seq")
    given = load(HF / folder, seq=512)
    assert given.seq == 512 and "pass --seq" not in given.source_of("seq")
    assert "pass --seq" not in load(HF / "llama-2-7b").source_of("seq")  # a config with a context length


def test_name_comes_from_the_config_not_the_folder(tmp_path):
    text = (HF / "gpt2" / "config.json").read_text()
    plain = tmp_path / "downloads" / "config.json"
    plain.parent.mkdir()
    plain.write_text(text)
    assert load(plain).name == "gpt2"  # model_type, not "downloads"
    assert load(plain.parent).origin == str(plain)
    cached = tmp_path / "models--openai-community--gpt2" / "snapshots" / "607a30d783dfa663caf39e06633721c8d4cfcd7e"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text(text)
    assert load(cached).name == "gpt2"  # the Hub cache's repository name, not the snapshot hash
    falcon = tmp_path / "ckpt-final"
    falcon.mkdir()
    (falcon / "config.json").write_text((HF / "falcon-7b" / "config.json").read_text())
    assert load(falcon).name == "falcon"


@pytest.mark.parametrize("folder, tied", [
    ("llama-2-7b", False),  # "tie_word_embeddings": false
    ("mistral-7b", False),  # absent: MistralConfig's default
    ("gpt-neox-20b", False),  # absent: GPTNeoXConfig's default
    ("gpt2", True),  # absent: GPT2Config's default
    ("falcon-7b", True),
    ("bloom-560m", True),
])
def test_tied_output_head_from_the_config_or_its_model_type(folder, tied):
    assert load(HF / folder).tied_embeddings is tied


def test_tie_word_embeddings_must_be_a_boolean():
    base = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
            "intermediate_size": 128, "vocab_size": 256, "max_position_embeddings": 64}
    assert from_dict({**base, "tie_word_embeddings": True}).tied_embeddings is True
    with pytest.raises(ModelConfigError, match=r"field 'tie_word_embeddings' must be true or false, got 'yes'"):
        from_dict({**base, "tie_word_embeddings": "yes"})


def test_explicit_head_dim_equal_to_h_over_a_is_dropped():
    cfg = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "head_dim": 128, "num_hidden_layers": 2,
           "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096}
    assert from_dict(cfg).head_dim is None
    assert from_dict({**cfg, "head_dim": 256}).d_head == 256


def test_unknown_model_type_with_silu_is_gated_and_gelu_is_not():
    base = {"model_type": "newthing", "hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 2,
            "intermediate_size": 2816, "vocab_size": 32000, "max_position_embeddings": 2048}
    assert from_dict({**base, "hidden_act": "silu"}).activation == "swiglu"
    assert from_dict({**base, "hidden_act": "gelu"}).activation == "gelu"
    assert from_dict({**base, "model_type": "gpt_neox", "hidden_act": "silu"}).activation == "gelu"  # two-matrix MLP


@pytest.mark.parametrize("fname, pattern", [
    ("missing_heads.json", r"missing_heads.json: field 'num_attention_heads' \(or n_head, n_heads, num_heads\) is missing"),
    ("heads_not_dividing.json",
     r"heads_not_dividing.json: model .*field 'num_attention_heads' must divide 'hidden_size' \(2560 % 24 = 16\)"),
    ("negative_layers.json", r"negative_layers.json: field 'n_layer' must be a positive integer, got -12"),
    ("string_hidden.json", r"string_hidden.json: field 'hidden_size' must be a positive integer, got '4096'"),
    ("gated_without_ffn.json", r"gated_without_ffn.json: field 'intermediate_size' is missing"),
    ("list_top_level.json", r"list_top_level.json: expected a JSON object at the top level"),
    ("not_json.json", r"not_json.json: not valid JSON"),
    ("no_such_file.json", r"no_such_file.json: cannot read"),
])
def test_bad_configs_name_file_and_field(fname, pattern):
    with pytest.raises(ModelConfigError, match=pattern):
        load(HF / "broken" / fname)
