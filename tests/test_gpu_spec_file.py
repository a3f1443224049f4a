"""The GPU spec table as data: perf/gpus.toml loads into the specs the code resolves, a malformed entry is
rejected with one line naming the file, the GPU and the field, and an installed package ships the file."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from perf import gpus

ROOT = Path(__file__).resolve().parents[1]
SPEC_FILE = ROOT / "perf" / "gpus.toml"


def raw_entry(key: str) -> dict:
    """A GPU's table read straight from the file, not through gpus.py."""
    return next(t for t in tomllib.loads(SPEC_FILE.read_text())["gpu"] if t["key"] == key)


def test_the_loaded_table_is_the_shipped_file():
    assert gpus.SPECS_FILE.resolve() == SPEC_FILE


@pytest.mark.parametrize("key", ["H100-SXM", "MI300X"])
def test_loaded_specs_equal_the_file(key):
    raw = raw_entry(key)
    spec = gpus.resolve(key)
    assert spec.key == raw["key"] and spec.name == raw["name"]
    assert (spec.vendor, spec.arch) == (raw["vendor"], raw["arch"])
    assert (spec.sms, spec.tc_align_bytes) == (raw["sms"], raw["tc_align_bytes"])
    assert (spec.mem_bw_gbs, spec.l2_mib, spec.memory_gib) == (raw["mem_bw_gbs"], raw["l2_mib"], raw["memory_gib"])
    assert spec.infinity_cache_mib == raw.get("infinity_cache_mib", 0.0)
    assert dict(spec.peak_tflops) == raw["peak_tflops"]
    assert spec.aliases == tuple(raw["aliases"]) and spec.device_names == tuple(raw["device_names"])
    assert dict(spec.sources) == raw["sources"]


def test_what_the_code_expects_of_two_gpus():
    h100, mi300x = gpus.resolve("H100"), gpus.resolve("MI300X")
    assert (h100.key, h100.sms, h100.peak("bf16"), h100.mem_bw_gbs, h100.l2_mib) == ("H100-SXM", 132, 989.4, 3350.0, 50.0)
    assert (mi300x.vendor, mi300x.sms, mi300x.peak("fp8"), mi300x.cache_flush_mib) == ("amd", 304, 2614.9, 256.0)
    assert gpus.match_device_name("NVIDIA H100 80GB HBM3") == h100


def malformed_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = SPEC_FILE.read_text()
    assert text.count(old) >= 1, f"{old!r} is not in {SPEC_FILE}"
    path = tmp_path / "gpus.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_malformed_entry_gives_one_line_naming_file_gpu_and_field(tmp_path):
    h100 = 'key = "H100-SXM"\nname = "NVIDIA H100 SXM5 80GB"\nvendor = "nvidia"\narch = "hopper"\n'
    path = malformed_copy(tmp_path, h100 + "sms = 132", h100 + "sms = -1")
    with pytest.raises(gpus.GpuSpecError) as err:
        gpus.load_specs(path)
    assert str(err.value) == f"{path}: H100-SXM.sms: expected a positive integer, got -1"


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("mem_bw_gbs = 900.0", 'mem_bw_gbs = "900"', "V100.mem_bw_gbs: expected a positive number, got '900'"),
        ("fp32 = 15.7, fp16", "fp23 = 15.7, fp16", "V100.peak_tflops.fp23: expected a dtype of"),
        ("fp32 = 15.7, fp16", "fp32 = 0.0, fp16", "V100.peak_tflops.fp32: expected a positive number of TFLOP/s, got 0.0"),
        ('vendor = "nvidia"', 'vendor = "intel"', "V100.vendor: expected one of ('nvidia', 'amd'), got 'intel'"),
        ('l2_mib = "V100 whitepaper: 6144 KB L2"\n', "", "V100.sources.l2_mib: missing; every figure needs its source"),
        ("sms = 80", "sms = 80\nclock_mhz = 1530", "V100: unknown field(s) ['clock_mhz']"),
        ('key = "A100-40GB"', 'key = "V100"', "V100.key: expected a key no other GPU has, got 'V100'"),
        ('key = "V100"', 'key = "V100/2"', "gpu #1.key: expected a file-stem name"),
        ("[[gpu]]\nkey = \"V100\"", "[[gpu]\nkey = \"V100\"", "not valid TOML"),
    ],
)
def test_each_kind_of_malformed_entry_names_its_field(tmp_path, old, new, message):
    path = malformed_copy(tmp_path, old, new)
    with pytest.raises(gpus.GpuSpecError) as err:
        gpus.load_specs(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_an_installed_package_ships_the_spec_file():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["perf"]
    rel = SPEC_FILE.relative_to(ROOT / "perf").as_posix()
    assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in [tool.setuptools.package-data] perf"
