"""Model configs as data: one TOML file per family in this folder, each number with its source.

A file holds a family-wide `source` and a list of `[[model]]` tables. Each model gives the shape
fields of `ModelConfig`; a `sources` table may name a source per field, overriding the family's.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from perf.shape.config_bounds import out_of_bounds, printable, shown

MODELS_DIR = Path(__file__).parent
ACTIVATIONS = ("gelu", "relu", "swiglu", "geglu")
GATED = ("swiglu", "geglu")


class ModelConfigError(ValueError):
    """A model config that cannot describe a transformer: names the file, the field and what was expected."""


@dataclass(frozen=True)
class ModelConfig:
    name: str
    hidden: int  # h
    heads: int  # a
    layers: int  # L
    vocab: int  # v
    seq: int  # s: the model's training context
    ffn: int  # MLP intermediate size (4h for GELU, about 8h/3 for SwiGLU)
    activation: str = "gelu"
    kv_heads: int | None = None  # GQA/MQA; None means kv_heads == heads
    head_dim: int | None = None  # None means hidden // heads
    family: str = ""
    source: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)
    expected_violations: tuple[str, ...] = ()
    origin: str = ""  # the file it came from
    tied_embeddings: bool = True  # the output head shares the input embedding's weights (no second v x h matrix)

    @property
    def d_head(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden // self.heads

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def gated(self) -> bool:
        return self.activation in GATED

    def source_of(self, field_name: str) -> str:
        return self.sources.get(field_name, self.source)


_INT_FIELDS = ("hidden", "heads", "layers", "vocab", "seq", "ffn")
_OPTIONAL_INT_FIELDS = ("kv_heads", "head_dim")


def validate(cfg: ModelConfig, names: Mapping[str, str] | None = None) -> ModelConfig:
    """Raise ModelConfigError unless the config describes a transformer layer. `names` maps our field names to
    the ones the user's file spells (a Hugging Face config.json), so that errors name the field they wrote."""
    where = f"{cfg.origin or '<config>'}: model {printable(repr(cfg.name))}"
    names = names or {}

    def n(field_name: str) -> str:
        return repr(names.get(field_name, field_name))

    for name in _INT_FIELDS:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ModelConfigError(f"{where}: field {n(name)} must be a positive integer, got {shown(value)}")
    for name in _OPTIONAL_INT_FIELDS:
        value = getattr(cfg, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ModelConfigError(f"{where}: field {n(name)} must be a positive integer or absent, got {shown(value)}")
    for name in (*_INT_FIELDS, *_OPTIONAL_INT_FIELDS):  # before any check loops over them
        problem = out_of_bounds(name, getattr(cfg, name))
        if problem:
            raise ModelConfigError(f"{where}: field {n(name)} {problem}")
    if not isinstance(cfg.tied_embeddings, bool):
        raise ModelConfigError(f"{where}: field {n('tied_embeddings')} must be true or false, got {cfg.tied_embeddings!r}")
    if cfg.activation not in ACTIVATIONS:
        raise ModelConfigError(f"{where}: field {n('activation')} must be one of {ACTIVATIONS}, got {cfg.activation!r}")
    if cfg.head_dim is None and cfg.hidden % cfg.heads:
        raise ModelConfigError(
            f"{where}: field {n('heads')} must divide {n('hidden')} ({cfg.hidden} % {cfg.heads} = {cfg.hidden % cfg.heads})"
        )
    if cfg.heads % cfg.n_kv_heads:
        raise ModelConfigError(
            f"{where}: field {n('kv_heads')} must divide {n('heads')} "
            f"({cfg.heads} % {cfg.n_kv_heads} = {cfg.heads % cfg.n_kv_heads})"
        )
    return cfg


_KNOWN_KEYS = set(ModelConfig.__dataclass_fields__) - {"family", "source", "origin"}


def from_table(table: Mapping, *, family: str = "", source: str = "", origin: str = "") -> ModelConfig:
    """A ModelConfig from one `[[model]]` table of a registry file (our field names)."""
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ModelConfigError(f"{origin}: a [[model]] table has no 'name' (expected a non-empty string)")
    if not name.isprintable():
        raise ModelConfigError(f"{origin}: model {printable(name)!r}: field 'name': expected printable text "
                               f"(no control characters or terminal escape codes)")
    for key, kind, what in (("source", str, "a string"), ("sources", dict, "a table of strings"),
                            ("expected_violations", list, "a list of rule ids"), ("activation", str, "a string")):
        if key in table and not isinstance(table[key], kind):
            raise ModelConfigError(f"{origin}: model {name!r}: field {key!r}: expected {what}, got {shown(table[key])}")
    if not all(isinstance(v, str) for v in table.get("expected_violations", [])):
        raise ModelConfigError(f"{origin}: model {name!r}: field 'expected_violations': expected a list of rule ids")
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise ModelConfigError(f"{origin}: model {name!r}: unknown field(s) {sorted(unknown)}; known: {sorted(_KNOWN_KEYS)}")
    missing = [f for f in _INT_FIELDS if f not in table]
    if missing:
        raise ModelConfigError(f"{origin}: model {name!r}: missing field(s) {missing}")
    values = dict(table)
    values["sources"] = dict(values.get("sources", {}))
    values["expected_violations"] = tuple(values.get("expected_violations", ()))
    return validate(ModelConfig(family=family, source=table.get("source", source), origin=origin, **values))


def load_file(path: Path) -> list[ModelConfig]:
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelConfigError(f"{path}: not a TOML text file (not UTF-8 at byte {exc.start})") from None
    except OSError as exc:
        raise ModelConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ModelConfigError(f"{path}: not a model file (TOML nested too deeply)") from None
    except ValueError:  # Python reads no integer of more than 4300 digits
        raise ModelConfigError(f"{path}: not a model file (an integer of more than 4300 digits)") from None
    family = data.get("family", path.stem)
    source = data.get("source", "")
    tables = data.get("model", [])
    for key, value, what in (("family", family, "a string"), ("source", source, "a string")):
        if not isinstance(value, str):
            raise ModelConfigError(f"{path}: field {key!r}: expected {what}, got {shown(value)}")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ModelConfigError(f"{path}: field 'model': expected [[model]] tables, got {shown(tables)}")
    return [from_table(t, family=family, source=source, origin=str(path)) for t in tables]


def registry(models_dir: Path = MODELS_DIR) -> dict[str, ModelConfig]:
    """Every registered model by name, from the TOML files in `models_dir`."""
    found: dict[str, ModelConfig] = {}
    for path in sorted(models_dir.glob("*.toml")):
        for cfg in load_file(path):
            if cfg.name in found:
                raise ModelConfigError(f"{path}: model {cfg.name!r} is also defined in {found[cfg.name].origin}")
            found[cfg.name] = cfg
    return found


def get(name: str) -> ModelConfig:
    models = registry()
    try:
        return models[name]
    except KeyError:
        raise ModelConfigError(f"unknown model {name!r}; registered: {', '.join(sorted(models))}") from None
