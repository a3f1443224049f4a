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

Gated MLPs (three matrices) come from the model_type (the Llama family: llama, mistral, qwen2, gemma, ...)
or an activation named swiglu/geglu: silu -> "swiglu", gelu* -> "geglu". Any other MLP has two matrices and
is recorded as "relu" or "gelu" (the activation field decides only the MLP's shape). Errors name the file and
the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

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
        raise ModelConfigError(f"{origin}: field {key!r} must be a positive integer, got {value!r}")
    return value


def _required(data: Mapping[str, Any], origin: str, field: str) -> int:
    key, value = _pick(data, field)
    if key is None:
        raise ModelConfigError(f"{origin}: field {SPELLINGS[field][0]!r} (or {', '.join(SPELLINGS[field][1:])}) is missing")
    return _positive_int(origin, key, value)


def _activation(data: Mapping[str, Any], origin: str) -> str:
    key, act = _pick(data, "act")
    model_type = data.get("model_type", "")
    act_name = str(act or "").lower()
    if act is not None and not isinstance(act, str):
        raise ModelConfigError(f"{origin}: field {key!r} must be an activation name, got {act!r}")
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
    hidden = _required(data, origin, "hidden")
    heads = _required(data, origin, "heads")
    layers = _required(data, origin, "layers")
    vocab = _required(data, origin, "vocab")
    if seq is None:
        seq = _required(data, origin, "seq")
    activation = _activation(data, origin)
    ffn_key, ffn = _pick(data, "ffn")
    if ffn_key is None:
        if activation in ("swiglu", "geglu"):
            raise ModelConfigError(f"{origin}: field 'intermediate_size' is missing (a gated MLP has no default size)")
        ffn = 4 * hidden
    else:
        ffn = _positive_int(origin, ffn_key, ffn)
    head_key, head_dim = _pick(data, "head_dim")
    if head_key is not None:
        head_dim = _positive_int(origin, head_key, head_dim)
        if head_dim * heads == hidden:
            head_dim = None
    if name is None:
        name = Path(str(data.get("_name_or_path") or "")).name or data.get("model_type") or "config"
    cfg = ModelConfig(
        name=name, hidden=hidden, heads=heads, layers=layers, vocab=vocab, seq=seq, ffn=ffn, activation=activation,
        kv_heads=_kv_heads(data, origin, heads), head_dim=head_dim, family=str(data.get("model_type", "")),
        source=f"Hugging Face config.json ({origin})", origin=origin,
    )
    return validate(cfg)


def load(path: str | Path, *, name: str | None = None, seq: int | None = None) -> ModelConfig:
    """Read a config.json (or a folder holding one) from disk."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelConfigError(f"{path}: not valid JSON: {exc}") from None
    if name is None and isinstance(data, Mapping) and not data.get("_name_or_path"):
        name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return from_dict(data, origin=str(path), name=name, seq=seq)
