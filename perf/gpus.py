"""GPU profiles: the spec table (data in gpus.toml, loaded and checked here), name resolution and
detection of the running device.

Every figure in the table carries its source. Peak rates are dense (no 2:4 sparsity), in TFLOP/s,
at the boost clock; memory bandwidth in GB/s (10^9 bytes/s); L2 in MiB. What the running device
reports (SM count, memory, L2) wins over the table: see `detect()`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


class UnknownGpu(ValueError):
    """A GPU name that the spec table does not know."""


@dataclass(frozen=True)
class GpuSpec:
    key: str  # canonical name, also the baseline file stem: baselines/<key>.json
    name: str  # marketing name
    vendor: str  # "nvidia", "amd" or "cpu"
    arch: str  # "volta", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cpu"
    sms: int  # streaming multiprocessors (NVIDIA) or compute units (AMD)
    peak_tflops: Mapping[str, float]  # dtype -> dense peak TFLOP/s
    mem_bw_gbs: float
    l2_mib: float
    memory_gib: float
    tc_align_bytes: int  # GEMM dimensions should be multiples of this many bytes
    aliases: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()  # substrings of torch.cuda.get_device_name() that identify it
    sources: Mapping[str, str] = field(default_factory=dict)  # field -> where the number comes from
    detected: bool = False  # True when SM count / memory / L2 were read off the running device
    infinity_cache_mib: float = 0.0  # AMD Infinity Cache (memory-side last-level cache); 0 where none

    @property
    def is_gpu(self) -> bool:
        return self.vendor != "cpu"

    def peak(self, dtype: str) -> float | None:
        """Dense peak TFLOP/s for a dtype name ("bf16", "fp16", "tf32", "fp32", "fp8")."""
        return self.peak_tflops.get(dtype)

    @property
    def cache_flush_mib(self) -> float:
        """The cache a cold-cache flush must exceed: L2, or AMD's Infinity Cache where it is larger."""
        return max(self.l2_mib, self.infinity_cache_mib)

    def align_elements(self, dtype_bytes: int) -> int:
        """Tensor-core alignment in elements for a dtype of this many bytes."""
        return max(1, self.tc_align_bytes // dtype_bytes)


_AMPERE_AND_LATER_ALIGN = 128  # paper III-B: 128 bytes on A100 (64 fp16 elements); for GPUs not in the table
_CDNA_ALIGN = 128  # assumed for AMD GPUs not in the table, as the table's CDNA entries say

SPECS_FILE = Path(__file__).with_name("gpus.toml")
VENDORS = ("nvidia", "amd")
ARCHS = ("volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "cdna4")
DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8")
_FIGURES = ("sms", "peak_tflops", "mem_bw_gbs", "l2_mib", "memory_gib", "tc_align_bytes")  # each needs a source
_REQUIRED = ("key", "name", "vendor", "arch", *_FIGURES, "device_names", "sources")
_OPTIONAL = ("infinity_cache_mib", "aliases")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")  # a key is a baseline file stem


class GpuSpecError(ValueError):
    """A malformed entry of the spec table file: names the file, the GPU and the field."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, where: str, expected: str, value: object) -> None:
    if not ok:
        raise GpuSpecError(f"{where}: expected {expected}, got {value!r}")


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _spec_from_table(table: Mapping, where: str) -> GpuSpec:
    """One `[[gpu]]` table as a GpuSpec; `where` is "<file>: <gpu key>"."""
    unknown = sorted(set(table) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise GpuSpecError(f"{where}: unknown field(s) {unknown}; known: {sorted((*_REQUIRED, *_OPTIONAL))}")
    missing = [f for f in _REQUIRED if f not in table]
    if missing:
        raise GpuSpecError(f"{where}: missing field(s) {missing}")
    _check(isinstance(table["name"], str) and bool(table["name"].strip()), f"{where}.name", "a non-empty string",
           table["name"])
    _check(table["vendor"] in VENDORS, f"{where}.vendor", f"one of {VENDORS}", table["vendor"])
    _check(table["arch"] in ARCHS, f"{where}.arch", f"one of {ARCHS}", table["arch"])
    for name in ("sms", "tc_align_bytes"):
        value = table[name]
        _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, f"{where}.{name}",
               "a positive integer", value)
    for name in ("mem_bw_gbs", "l2_mib", "memory_gib"):
        _check(_is_number(table[name]) and table[name] > 0, f"{where}.{name}", "a positive number", table[name])
    cache = table.get("infinity_cache_mib", 0.0)
    _check(_is_number(cache) and cache >= 0, f"{where}.infinity_cache_mib", "a number >= 0", cache)
    aliases = table.get("aliases", [])
    _check(_strings(aliases), f"{where}.aliases", "a list of non-empty strings", aliases)
    _check(_strings(table["device_names"]) and bool(table["device_names"]), f"{where}.device_names",
           "a non-empty list of non-empty strings", table["device_names"])
    peaks = table["peak_tflops"]
    _check(isinstance(peaks, dict), f"{where}.peak_tflops", f"a table of dtype -> TFLOP/s (dtypes {DTYPES})", peaks)
    for dtype, value in peaks.items():
        _check(dtype in DTYPES, f"{where}.peak_tflops.{dtype}", f"a dtype of {DTYPES}", dtype)
        _check(_is_number(value) and value > 0, f"{where}.peak_tflops.{dtype}", "a positive number of TFLOP/s", value)
    sources = table["sources"]
    _check(isinstance(sources, dict), f"{where}.sources", "a table of field -> source", sources)
    for name, value in sources.items():
        _check(isinstance(value, str) and bool(value.strip()), f"{where}.sources.{name}", "a non-empty string", value)
    for name in (*_FIGURES, *(("infinity_cache_mib",) if cache else ())):
        if name not in sources:
            raise GpuSpecError(f"{where}.sources.{name}: missing; every figure needs its source")
    return GpuSpec(
        key=table["key"],
        name=table["name"],
        vendor=table["vendor"],
        arch=table["arch"],
        sms=table["sms"],
        peak_tflops={dtype: float(value) for dtype, value in peaks.items()},
        mem_bw_gbs=float(table["mem_bw_gbs"]),
        l2_mib=float(table["l2_mib"]),
        memory_gib=float(table["memory_gib"]),
        tc_align_bytes=table["tc_align_bytes"],
        aliases=tuple(aliases),
        device_names=tuple(table["device_names"]),
        sources=dict(sources),
        infinity_cache_mib=float(cache),
    )


def load_specs(path: Path = SPECS_FILE) -> tuple[GpuSpec, ...]:
    """The spec table from its TOML file, in file order. A malformed entry raises GpuSpecError naming the
    file, the GPU and the field: `perf/gpus.toml: H100-SXM.sms: expected a positive integer, got -1`."""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GpuSpecError(f"{path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"gpu"})
    if unknown:
        raise GpuSpecError(f"{path}: unknown top-level key(s) {unknown}; expected only [[gpu]] tables")
    tables = data.get("gpu")
    _check(isinstance(tables, list) and bool(tables) and all(isinstance(t, dict) for t in tables), f"{path}: gpu",
           "one or more [[gpu]] tables", tables)
    specs: list[GpuSpec] = []
    for number, table in enumerate(tables, 1):
        key = table.get("key")
        _check(isinstance(key, str) and _KEY.fullmatch(key) is not None, f"{path}: gpu #{number}.key",
               "a file-stem name of letters, digits, '.' and '-'", key)
        _check(key not in {s.key for s in specs}, f"{path}: {key}.key", "a key no other GPU has", key)
        specs.append(_spec_from_table(table, f"{path}: {key}"))
    return tuple(specs)

SPECS: tuple[GpuSpec, ...] = load_specs()

CPU = GpuSpec(
    key="cpu",
    name="CPU (torch)",
    vendor="cpu",
    arch="cpu",
    sms=1,
    peak_tflops={},
    mem_bw_gbs=0.0,
    l2_mib=0.0,
    memory_gib=0.0,
    tc_align_bytes=1,
    aliases=("host",),
    sources={"all": "The CPU device has no spec: its rates are measured, not looked up"},
)


# Tokens of a driver-reported name that do not tell one GPU from another: vendor and brand words,
# memory size and type ("80GB", "HBM3"), and "VF" (an SR-IOV virtual function of the same part).
_NEUTRAL_WORDS = frozenset({"nvidia", "amd", "tesla", "geforce", "instinct", "vf"})
_NEUTRAL_TOKEN = re.compile(r"\d+gb|hbm\d*e?")


def _norm(name: str) -> str:
    """The form names are compared in: lower case, letters and digits only ('H100 PCIe' == 'h100-pcie')."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _tokens(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", name.lower())


def _is_neutral(token: str) -> bool:
    return token in _NEUTRAL_WORDS or _NEUTRAL_TOKEN.fullmatch(token) is not None


def known_names() -> list[str]:
    return [s.key for s in SPECS] + [CPU.key]


def _names_by_norm() -> dict[str, GpuSpec]:
    table: dict[str, GpuSpec] = {}
    for spec in (*SPECS, CPU):
        for name in (spec.key, *spec.aliases):
            table[_norm(name)] = spec
    return table


def resolve(name: str) -> GpuSpec:
    """The spec for a name people type: 'A100', 'h100', 'H100 PCIe', 'rtx4090', 'cpu', or a name the
    driver reports ('NVIDIA H100 80GB HBM3'). Case, spaces, dashes and underscores do not matter."""
    spec = _names_by_norm().get(_norm(name)) or match_device_name(name)
    if spec is not None:
        return spec
    near = difflib.get_close_matches(_norm(name), list(_names_by_norm()), n=1, cutoff=0.6)
    hint = f" (did you mean {_names_by_norm()[near[0]].key}?)" if near else ""
    raise UnknownGpu(
        f"unknown GPU {name!r}{hint}; known: {', '.join(known_names())} "
        f"(aliases and driver names are listed in docs/gpus.md)"
    )


def _match_length(device_tokens: list[str], pattern: str) -> int:
    """Tokens of `pattern` when they occur as a run in the device name and every other token of the
    device name is neutral; else 0. So 'L4' does not match 'NVIDIA L40S', 'H100' does not match
    'NVIDIA H100 PCIe' (PCIe is not neutral) and 'H200' does not match 'NVIDIA GH200 480GB'."""
    want = _tokens(pattern)
    n = len(want)
    for start in range(len(device_tokens) - n + 1):
        if device_tokens[start : start + n] == want:
            rest = device_tokens[:start] + device_tokens[start + n :]
            if all(_is_neutral(t) for t in rest):
                return n
    return 0


def match_device_name(device_name: str, memory_gib: float | None = None) -> GpuSpec | None:
    """The table's spec for a name the driver reports, or None when the table has no such GPU.

    Names match by whole tokens; the longest matching device-name pattern wins, then the closest
    memory size when `memory_gib` is given.
    """
    tokens = _tokens(device_name)
    scored = []
    for spec in SPECS:
        length = max((_match_length(tokens, d) for d in spec.device_names), default=0)
        if length:
            distance = abs(spec.memory_gib - memory_gib) if memory_gib is not None else 0.0
            scored.append((-length, distance, spec.key, spec))
    return min(scored)[3] if scored else None


def _unknown_key(device_name: str) -> str:
    """A stable key for a GPU the table does not know: its name's distinctive tokens, dash-joined."""
    kept = [t for t in _tokens(device_name) if t not in _NEUTRAL_WORDS]
    return "-".join(kept) or "unknown-gpu"


def detect() -> GpuSpec:
    """The spec of the device present: CUDA/ROCm device 0 if torch sees one, else the CPU.

    The SM count, memory and L2 size are read off the device and replace the table's figures.
    A GPU the table does not know is returned with the measured figures and no peak rates.
    """
    import torch

    if not torch.cuda.is_available():
        return CPU
    props = torch.cuda.get_device_properties(0)
    memory_gib = props.total_memory / 2**30
    spec = match_device_name(props.name, memory_gib)
    l2_bytes = getattr(props, "L2_cache_size", 0) or 0
    if spec is None:
        is_amd = bool(getattr(torch.version, "hip", None))
        spec = GpuSpec(
            key=_unknown_key(props.name),
            name=props.name,
            vendor="amd" if is_amd else "nvidia",
            arch="unknown",
            sms=props.multi_processor_count,
            peak_tflops={},
            mem_bw_gbs=0.0,
            l2_mib=l2_bytes / 2**20,
            memory_gib=memory_gib,
            tc_align_bytes=_CDNA_ALIGN if is_amd else _AMPERE_AND_LATER_ALIGN,
            sources={"all": "read off the device; not in the spec table"},
        )
    return dataclasses.replace(
        spec,
        sms=props.multi_processor_count,
        memory_gib=round(memory_gib, 1),
        l2_mib=l2_bytes / 2**20 if l2_bytes else spec.l2_mib,
        detected=True,
    )
