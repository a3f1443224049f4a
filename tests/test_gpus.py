"""GPU spec table: name resolution, driver-name matching, detection, and the sources of every figure."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch

from perf import gpus

# What torch.cuda.get_device_name() reports, and the table key it must map to (None: not in the table).
DEVICE_NAMES = {
    "Tesla V100-SXM2-32GB": "V100",
    "Tesla V100-SXM2-16GB": "V100",
    "NVIDIA A100-SXM4-40GB": "A100-40GB",
    "NVIDIA A100-PCIE-40GB": "A100-40GB",
    "NVIDIA A100-SXM4-80GB": "A100-80GB",
    "NVIDIA H100 80GB HBM3": "H100-SXM",
    "NVIDIA H100 PCIe": "H100-PCIe",
    "NVIDIA H200": "H200",
    "NVIDIA L4": "L4",
    "NVIDIA L40S": "L40S",
    "NVIDIA GeForce RTX 4090": "RTX-4090",
    "AMD Instinct MI250X": "MI250X",
    "AMD Instinct MI250X/MI250": "MI250X",
    "AMD Instinct MI300X": "MI300X",
    "AMD Instinct MI300X VF": "MI300X",
    "NVIDIA B200": "B200",
    # Near misses: other parts whose names contain a table name as a substring or plus a variant word.
    "NVIDIA L40": None,
    "NVIDIA H100 NVL": None,
    "NVIDIA H200 NVL": None,
    "NVIDIA GH200 480GB": None,
    "NVIDIA GB200": None,
    "NVIDIA A100 80GB PCIe": None,
    "Tesla V100-PCIE-16GB": None,
    "Tesla V100S-PCIE-32GB": None,
    "NVIDIA GeForce RTX 4090 D": None,
    "NVIDIA GeForce RTX 4090 Laptop GPU": None,
    "AMD Instinct MI300A": None,
    "AMD Instinct MI325X": None,
    "NVIDIA RTX A6000": None,
}

TYPED_NAMES = {
    "A100": "A100-40GB",
    "a100": "A100-40GB",
    "A100-80GB": "A100-80GB",
    "a100_80gb": "A100-80GB",
    "h100": "H100-SXM",
    "H100": "H100-SXM",
    "H100-SXM": "H100-SXM",
    "H100-PCIe": "H100-PCIe",
    "h100 pcie": "H100-PCIe",
    "H100_PCIE": "H100-PCIe",
    " h200 ": "H200",
    "v100": "V100",
    "4090": "RTX-4090",
    "rtx4090": "RTX-4090",
    "RTX 4090": "RTX-4090",
    "rtx-4090": "RTX-4090",
    "mi300x": "MI300X",
    "MI300X": "MI300X",
    "mi250x": "MI250X",
    "b200": "B200",
    "l40s": "L40S",
    "L40S": "L40S",
    "l4": "L4",
    "cpu": "cpu",
    "NVIDIA H100 80GB HBM3": "H100-SXM",  # a driver name is accepted too
    "NVIDIA L4": "L4",
}


@pytest.mark.parametrize("typed, key", TYPED_NAMES.items())
def test_resolve_names_people_type(typed, key):
    assert gpus.resolve(typed).key == key


def test_resolve_unknown_lists_known_names():
    with pytest.raises(gpus.UnknownGpu) as err:
        gpus.resolve("Z9000")
    message = str(err.value)
    assert "'Z9000'" in message
    for key in gpus.known_names():
        assert key in message


def test_resolve_unknown_suggests_a_near_name():
    with pytest.raises(gpus.UnknownGpu, match="did you mean L40S"):
        gpus.resolve("l40")


def test_the_l4_is_not_an_l40s_and_back():
    assert gpus.resolve("l4").key == "L4" and gpus.resolve("l40s").key == "L40S"
    with pytest.raises(gpus.UnknownGpu):
        gpus.resolve("l40")


@pytest.mark.parametrize("device_name, key", DEVICE_NAMES.items())
def test_match_device_name(device_name, key):
    spec = gpus.match_device_name(device_name)
    assert (spec.key if spec else None) == key


def test_every_spec_is_matched_by_its_own_device_names():
    for spec in gpus.SPECS:
        assert spec.device_names, f"{spec.key}: no device_names"
        for name in spec.device_names:
            assert gpus.match_device_name(f"NVIDIA {name}").key == spec.key, (spec.key, name)


def test_match_prefers_closer_memory_on_a_tie(monkeypatch):
    a40 = next(s for s in gpus.SPECS if s.key == "A100-40GB")
    a80 = next(s for s in gpus.SPECS if s.key == "A100-80GB")
    # Same device-name pattern for both: only the memory size can tell them apart.
    monkeypatch.setattr(
        gpus,
        "SPECS",
        (
            gpus.dataclasses.replace(a40, device_names=("A100-SXM4",)),
            gpus.dataclasses.replace(a80, device_names=("A100-SXM4",)),
        ),
    )
    assert gpus.match_device_name("NVIDIA A100-SXM4", memory_gib=79.2).key == "A100-80GB"
    assert gpus.match_device_name("NVIDIA A100-SXM4", memory_gib=39.4).key == "A100-40GB"


def test_names_are_unambiguous():
    seen: dict[str, str] = {}
    for spec in (*gpus.SPECS, gpus.CPU):
        for name in (spec.key, *spec.aliases):
            norm = gpus._norm(name)
            assert seen.setdefault(norm, spec.key) == spec.key, f"{name!r} names {seen[norm]} and {spec.key}"


def test_keys_are_file_stems():
    for key in gpus.known_names():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", key), key


# ---- detection -------------------------------------------------------------------------------------


def _fake_cuda(monkeypatch, name, sms, memory_gib, l2_mib, hip=None):
    props = SimpleNamespace(
        name=name,
        multi_processor_count=sms,
        total_memory=int(memory_gib * 2**30),
        L2_cache_size=int(l2_mib * 2**20),
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)
    monkeypatch.setattr(torch.version, "hip", hip, raising=False)


def test_detect_without_a_gpu_is_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpus.detect() is gpus.CPU


def test_detect_known_gpu_prefers_what_the_device_reports(monkeypatch):
    # An H100 SXM with a fused-off SM and a smaller L2 than the table says.
    _fake_cuda(monkeypatch, "NVIDIA H100 80GB HBM3", sms=131, memory_gib=79.19, l2_mib=48.0)
    spec = gpus.detect()
    assert spec.key == "H100-SXM" and spec.detected
    assert spec.sms == 131  # table: 132
    assert spec.l2_mib == 48.0  # table: 50
    assert spec.memory_gib == 79.2  # table: 80
    assert spec.peak("bf16") == 989.4 and spec.mem_bw_gbs == 3350.0  # rates still come from the table


def test_detect_keeps_table_l2_when_device_reports_none(monkeypatch):
    _fake_cuda(monkeypatch, "NVIDIA L40S", sms=142, memory_gib=44.5, l2_mib=0)
    spec = gpus.detect()
    assert spec.key == "L40S" and spec.l2_mib == 96.0


def test_detect_l4_is_not_taken_for_l40s(monkeypatch):
    _fake_cuda(monkeypatch, "NVIDIA L4", sms=58, memory_gib=22.5, l2_mib=48.0)
    assert gpus.detect().key == "L4"


def test_detect_unknown_gpu_returns_measured_figures(monkeypatch):
    _fake_cuda(monkeypatch, "NVIDIA RTX A6000", sms=84, memory_gib=47.5, l2_mib=6.0)
    spec = gpus.detect()
    assert spec.key == "rtx-a6000" and spec.name == "NVIDIA RTX A6000"
    assert (spec.sms, spec.memory_gib, spec.l2_mib) == (84, 47.5, 6.0)
    assert spec.detected and spec.vendor == "nvidia" and spec.is_gpu
    assert spec.peak_tflops == {} and spec.peak("bf16") is None and spec.mem_bw_gbs == 0.0
    assert spec.sources


def test_detect_unknown_amd_gpu(monkeypatch):
    _fake_cuda(monkeypatch, "AMD Instinct MI325X", sms=304, memory_gib=256.0, l2_mib=4.0, hip="6.2")
    spec = gpus.detect()
    assert spec.key == "mi325x" and spec.vendor == "amd" and spec.peak_tflops == {}


def test_detect_mi300x_virtual_function(monkeypatch):
    _fake_cuda(monkeypatch, "AMD Instinct MI300X VF", sms=304, memory_gib=191.5, l2_mib=4.0, hip="6.2")
    spec = gpus.detect()
    assert spec.key == "MI300X" and spec.l2_mib == 4.0
    assert spec.cache_flush_mib == 256.0  # the Infinity Cache, not the per-XCD L2 the device reports


# ---- the table itself ------------------------------------------------------------------------------

REQUIRED_SOURCES = ("sms", "peak_tflops", "mem_bw_gbs", "l2_mib")
EXPECTED_KEYS = {
    "V100", "A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200",
    "L4", "L40S", "RTX-4090", "MI250X", "MI300X", "B200",
}  # fmt: skip


def test_table_has_every_gpu():
    assert {s.key for s in gpus.SPECS} == EXPECTED_KEYS


@pytest.mark.parametrize("spec", gpus.SPECS, ids=lambda s: s.key)
def test_every_figure_has_a_source(spec):
    for field in REQUIRED_SOURCES + ("tc_align_bytes",):
        assert spec.sources.get(field, "").strip(), f"{spec.key}: no source for {field}"
    if spec.infinity_cache_mib:
        assert spec.sources.get("infinity_cache_mib"), f"{spec.key}: no source for infinity_cache_mib"


@pytest.mark.parametrize("spec", gpus.SPECS, ids=lambda s: s.key)
def test_figures_are_plausible(spec):
    peaks = spec.peak_tflops
    assert set(peaks) <= {"fp32", "tf32", "fp16", "bf16", "fp8"}
    assert "fp32" in peaks and "fp16" in peaks
    assert all(v > 0 for v in peaks.values())
    # Dense tensor rates rise as precision drops; fp8, where present, is twice fp16 (the L40S datasheet
    # is 1% off with itself there).
    assert peaks["fp16"] >= peaks.get("tf32", 0) >= 0 and peaks["fp16"] > peaks["fp32"]
    if "bf16" in peaks:
        assert peaks["bf16"] == peaks["fp16"]
    if "fp8" in peaks:
        assert peaks["fp8"] == pytest.approx(2 * peaks["fp16"], rel=0.015)
    assert spec.sms > 0 and spec.mem_bw_gbs > 0 and spec.l2_mib > 0 and spec.memory_gib > 0
    assert spec.tc_align_bytes in (16, 128)


@pytest.mark.parametrize(
    "key, dtype, peak",
    [("V100", "fp16", 125.0), ("A100-40GB", "bf16", 312.0), ("H100-SXM", "bf16", 989.4),
     ("H100-PCIe", "bf16", 756.0), ("L4", "bf16", 121.0), ("L40S", "fp8", 733.0),
     ("RTX-4090", "bf16", 165.2), ("MI250X", "bf16", 191.5), ("MI300X", "bf16", 1307.4),
     ("B200", "bf16", 2250.0)],
)  # fmt: skip
def test_dense_peaks(key, dtype, peak):
    assert gpus.resolve(key).peak(dtype) == peak


def test_feature_gaps():
    assert gpus.resolve("V100").peak("bf16") is None and gpus.resolve("V100").peak("tf32") is None
    assert gpus.resolve("A100").peak("fp8") is None
    assert gpus.resolve("MI250X").peak("fp8") is None


def test_alignment_in_elements():
    assert gpus.resolve("V100").align_elements(2) == 8  # paper: 8 fp16 elements
    assert gpus.resolve("A100").align_elements(2) == 64  # paper: 64 fp16 elements
    assert gpus.resolve("H100").align_elements(1) == 128
    assert gpus.CPU.align_elements(2) == 1


def test_wave_quantization_counts():
    # Paper: 80 SMs on V100, 108 on A100; the H100 SXM5 part has 132 (the paper's 144 is the full die).
    assert [gpus.resolve(n).sms for n in ("V100", "A100", "H100", "H100-PCIe")] == [80, 108, 132, 114]


def test_cache_flush_covers_l2():
    for spec in gpus.SPECS:
        assert spec.cache_flush_mib >= spec.l2_mib
    assert gpus.resolve("H100").cache_flush_mib == 50.0


def test_docs_table_matches_the_code():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "gpus.md").read_text()
    for spec in gpus.SPECS:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{spec.key}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        sms, bf16, bw, l2, align = cells[2:7]
        assert int(sms) == spec.sms, spec.key
        assert float(bw) == spec.mem_bw_gbs, spec.key
        assert float(l2.split()[0]) == spec.l2_mib, spec.key
        assert int(align.split()[0]) == spec.tc_align_bytes, spec.key
        if spec.peak("bf16"):
            assert float(bf16) == spec.peak("bf16"), spec.key
        for alias in spec.aliases:
            assert f"`{alias}`" in doc, f"docs/gpus.md does not list alias {alias!r} of {spec.key}"
