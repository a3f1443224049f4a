"""A Hugging Face `config.json` (read from disk, no network) -> ModelConfig.

Field spellings accepted, first found wins (Llama/Mistral/Qwen2/Gemma/NeoX/OPT/Falcon/BLOOM/Phi and GPT-2):
  hidden   hidden_size, n_embd, n_embed, d_model
  heads    num_attention_heads, n_head, n_heads, num_heads
  layers   num_hidden_layers, n_layer, n_layers, num_layers
  vocab    vocab_size, padded_vocab_size
  seq      max_position_embeddings, n_positions, n_ctx, seq_length, max_seq_len, max_sequence_length
  ffn      intermediate_size, n_inner, ffn_dim, ffn_hidden_size, d_ff (absent or null: 4h for a 2-matrix MLP)
  kv heads num_key_value_heads, num_kv_heads, n_head_kv, multi_query = true (one kv head)
  head_dim head_dim (only when it differs from hidden/heads)
  act      hidden_act, hidden_activation, activation_function
  tied     tie_word_embeddings (absent: the model type's default in transformers; untied for the Llama family,
           GPT-NeoX, GPT-J, Phi; tied for the others, as transformers' PretrainedConfig)

A config without a context length (Falcon's and BLOOM's config.json have none: both use ALiBi or rotary
positions with no fixed table) gets DEFAULT_SEQ = 2048 tokens, and the model's `sources["seq"]` says so;
`seq=` (lint's and advise's --seq) wins over both.

The model is named by what the file says, never by the folder that holds it: `_name_or_path` (its last part),
else the repository of a Hub cache path (models--ORG--NAME/snapshots/HASH), else the model_type.

Gated MLPs (three matrices) come from the model_type (the Llama family: llama, mistral, qwen2, gemma, ...)
or an activation named swiglu/geglu: silu -> "swiglu", gelu* -> "geglu". Any other MLP has two matrices and
is recorded as "relu" or "gelu" (the activation field decides only the MLP's shape). Errors name the file and
the field as the file spells it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from perf.shape.config_bounds import printable, shown
from perf.shape.models import ModelConfig, ModelConfigError, validate

SPELLINGS = {
    "hidden": ("hidden_size", "n_embd", "n_embed", "d_model"),
    "heads": ("num_attention_heads", "n_head", "n_heads", "num_heads"),
    "layers": ("num_hidden_layers", "n_layer", "n_layers", "num_layers"),
    "vocab": ("vocab_size", "padded_vocab_size"),
    "seq": ("max_position_embeddings", "n_positions", "n_ctx", "seq_length", "max_seq_len", "max_sequence_length"),
    "ffn": ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", "d_ff"),
    "kv_heads": ("num_key_value_heads", "num_kv_heads", "n_head_kv"),
    "head_dim": ("head_dim",),
    "act": ("hidden_act", "hidden_activation", "activation_function"),
}
DEFAULT_SEQ = 2048
SEQ_DEFAULT_NOTE = (f"s = {DEFAULT_SEQ}: the config has no context length ({', '.join(SPELLINGS['seq'])}); "
                    f"a default, pass --seq to change")
# model_types whose transformers config defaults to tie_word_embeddings = False (PretrainedConfig's default is True)
UNTIED_MODEL_TYPES = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "phi3", "olmo", "olmo2", "granite", "stablelm",
    "gpt_neox", "gptj", "phi", "deepseek_v2",
})
GATED_MODEL_TYPES = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma", "gemma2", "phi3", "olmo", "olmo2",
    "cohere", "internlm2", "baichuan", "yi", "granite", "stablelm", "deepseek", "exaone",
})
TWO_MATRIX_MODEL_TYPES = frozenset({
    "gpt2", "gpt_neox", "gptj", "gpt_neo", "opt", "bloom", "falcon", "RefinedWeb", "RefinedWebModel", "phi",
    "gpt_bigcode", "mpt", "starcoder2",
})


def _pick(data: Mapping[str, Any], field: str) -> tuple[str | None, Any]:
    """(the spelling found, its value) for one of our fields; (None, None) when no spelling is present."""
    for key in SPELLINGS[field]:
        if key in data and data[key] is not None:
            return key, data[key]
    return None, None


def _positive_int(origin: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelConfigError(f"{origin}: field {key!r} must be a positive integer, got {shown(value)}")
    return value


def _required(data: Mapping[str, Any], origin: str, field: str) -> tuple[str, int]:
    key, value = _pick(data, field)
    if key is None:
        raise ModelConfigError(f"{origin}: field {SPELLINGS[field][0]!r} (or {', '.join(SPELLINGS[field][1:])}) is missing")
    return key, _positive_int(origin, key, value)


def _tied(data: Mapping[str, Any], origin: str) -> bool:
    value = data.get("tie_word_embeddings")
    if value is None:
        return data.get("model_type") not in UNTIED_MODEL_TYPES
    if not isinstance(value, bool):
        raise ModelConfigError(f"{origin}: field 'tie_word_embeddings' must be true or false, got {shown(value)}")
    return value


def _name(data: Mapping[str, Any], origin: str) -> str:
    """What the file says the model is (see the module doc), never the name of the folder holding it."""
    named = Path(str(data.get("_name_or_path") or "")).name
    if named:
        return printable(named)  # escape codes in a name are shown, never sent to the terminal
    for part in reversed(Path(origin).parts):
        if part.startswith("models--") and part.count("--") >= 2:  # the Hub cache: models--ORG--NAME
            return printable(part.split("--", 2)[2])
    return printable(str(data.get("model_type") or "config"))


def context_notes(model: ModelConfig, seq_given: bool) -> list[str]:
    """The line to print beside a model whose context length is our default, not its file's (none when --seq given)."""
    return [] if seq_given or model.source_of("seq") != SEQ_DEFAULT_NOTE else [SEQ_DEFAULT_NOTE]


def _activation(data: Mapping[str, Any], origin: str) -> str:
    key, act = _pick(data, "act")
    model_type = data.get("model_type", "")
    act_name = str(act or "").lower()
    if act is not None and not isinstance(act, str):
        raise ModelConfigError(f"{origin}: field {key!r} must be an activation name, got {shown(act)}")
    if act_name in ("swiglu", "geglu"):
        return act_name
    gated = model_type in GATED_MODEL_TYPES or (model_type not in TWO_MATRIX_MODEL_TYPES and act_name in ("silu", "swish"))
    if gated:
        if act_name in ("", "silu", "swish"):
            return "swiglu"
        if act_name.startswith("gelu"):
            return "geglu"
        raise ModelConfigError(f"{origin}: field {key!r}: unsupported gated activation {act!r} (expected silu or gelu*)")
    return "relu" if act_name == "relu" else "gelu"


def _kv_heads(data: Mapping[str, Any], origin: str, heads: int) -> int | None:
    key, value = _pick(data, "kv_heads")
    if key is not None:
        kv = _positive_int(origin, key, value)
    elif data.get("multi_query") is True:
        kv = 1
    else:
        return None
    return None if kv == heads else kv


def from_dict(data: Mapping[str, Any], *, origin: str = "<config.json>", name: str | None = None,
              seq: int | None = None) -> ModelConfig:
    """A ModelConfig from a parsed config.json. `seq` overrides (or stands in for) the context length."""
    if not isinstance(data, Mapping):
        raise ModelConfigError(f"{origin}: expected a JSON object at the top level, got {type(data).__name__}")
    if data.get("model_type") is not None and not isinstance(data["model_type"], str):
        raise ModelConfigError(f"{origin}: field 'model_type' must be a string, got {shown(data['model_type'])}")
    keys = {}
    keys["hidden"], hidden = _required(data, origin, "hidden")
    keys["heads"], heads = _required(data, origin, "heads")
    keys["layers"], layers = _required(data, origin, "layers")
    keys["vocab"], vocab = _required(data, origin, "vocab")
    sources = {}
    if seq is None:
        seq_key, seq_value = _pick(data, "seq")
        if seq_key is None:
            seq, keys["seq"] = DEFAULT_SEQ, "--seq"
            sources["seq"] = SEQ_DEFAULT_NOTE
        else:
            keys["seq"], seq = seq_key, _positive_int(origin, seq_key, seq_value)
    else:
        keys["seq"] = "--seq"
    activation = _activation(data, origin)
    ffn_key, ffn = _pick(data, "ffn")
    if ffn_key is None:
        if activation in ("swiglu", "geglu"):
            raise ModelConfigError(f"{origin}: field 'intermediate_size' is missing (a gated MLP has no default size)")
        ffn = 4 * hidden
    else:
        keys["ffn"], ffn = ffn_key, _positive_int(origin, ffn_key, ffn)
    head_key, head_dim = _pick(data, "head_dim")
    if head_key is not None:
        head_dim = _positive_int(origin, head_key, head_dim)
        if head_dim * heads == hidden:
            head_dim = None
    keys["kv_heads"] = _pick(data, "kv_heads")[0] or "multi_query"
    keys["activation"] = _pick(data, "act")[0] or "model_type"
    cfg = ModelConfig(
        name=name or _name(data, origin), hidden=hidden, heads=heads, layers=layers, vocab=vocab, seq=seq, ffn=ffn,
        activation=activation, kv_heads=_kv_heads(data, origin, heads), head_dim=head_dim,
        family=str(data.get("model_type", "")), source=f"Hugging Face config.json ({origin})", sources=sources,
        origin=origin, tied_embeddings=_tied(data, origin),
    )
    return validate(cfg, names=keys)


def load(path: str | Path, *, name: str | None = None, seq: int | None = None) -> ModelConfig:
    """Read a config.json (or a folder holding one) from disk."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelConfigError(f"{path}: not a JSON text file (not UTF-8 at byte {exc.start})") from None
    except OSError as exc:
        raise ModelConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelConfigError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ModelConfigError(f"{path}: not a model config (JSON nested too deeply)") from None
    except ValueError:  # Python reads no integer of more than 4300 digits
        raise ModelConfigError(f"{path}: not a model config (an integer of more than 4300 digits)") from None
    return from_dict(data, origin=str(path), name=name, seq=seq)
