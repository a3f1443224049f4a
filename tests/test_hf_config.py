"""Hugging Face config.json import: field spellings per family, gated activations, errors naming file and field."""

from pathlib import Path

import pytest

from perf.shape import models
from perf.shape.hf_config import from_dict, load
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
    assert m.name == "gpt2"  # the folder's name when _name_or_path is absent


def test_falcon_multi_query_and_kv_heads():
    f7 = load(HF / "falcon-7b", seq=2048)
    assert f7.n_kv_heads == 1 and f7.d_head == 64 and f7.ffn == 4 * 4544
    f40 = load(HF / "falcon-40b", seq=2048)
    assert f40.n_kv_heads == 8 and same_shape(f40, models.get("falcon-40b"))


def test_opt_relu_and_ffn_dim():
    m = load(HF / "opt-125m")
    assert m.activation == "relu" and m.ffn == 3072


def test_missing_context_length_names_the_field_and_seq_stands_in():
    with pytest.raises(ModelConfigError, match=r"falcon-7b/config.json: field 'max_position_embeddings' \(or n_positions"):
        load(HF / "falcon-7b")
    assert load(HF / "bloom-560m", seq=2048).seq == 2048


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
    ("heads_not_dividing.json", r"heads_not_dividing.json: model .*field 'heads' must divide 'hidden' \(2560 % 24 = 16\)"),
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
