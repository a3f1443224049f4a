"""GPU profiles: the spec table, name resolution and detection of the running device.

Every figure in the table carries its source. Peak rates are dense (no 2:4 sparsity), in TFLOP/s,
at the boost clock; memory bandwidth in GB/s (10^9 bytes/s); L2 in MiB. What the running device
reports (SM count, memory, L2) wins over the table: see `detect()`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
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

    @property
    def is_gpu(self) -> bool:
        return self.vendor != "cpu"

    def peak(self, dtype: str) -> float | None:
        """Dense peak TFLOP/s for a dtype name ("bf16", "fp16", "tf32", "fp32", "fp8")."""
        return self.peak_tflops.get(dtype)

    def align_elements(self, dtype_bytes: int) -> int:
        """Tensor-core alignment in elements for a dtype of this many bytes."""
        return max(1, self.tc_align_bytes // dtype_bytes)


_AMPERE_AND_LATER_ALIGN = 128  # paper III-B: 128 bytes on A100 (64 fp16 elements)
_VOLTA_ALIGN = 16  # paper III-B: 16 bytes on V100 (8 fp16 elements)
_PAPER = "Anthony et al., 'The Case for Co-Designing Model Architectures with Hardware', sec. III-B"

SPECS: tuple[GpuSpec, ...] = (
    GpuSpec(
        key="V100",
        name="NVIDIA V100 SXM2 32GB",
        vendor="nvidia",
        arch="volta",
        sms=80,
        peak_tflops={"fp32": 15.7, "fp16": 125.0},
        mem_bw_gbs=900.0,
        l2_mib=6.0,
        memory_gib=32.0,
        tc_align_bytes=_VOLTA_ALIGN,
        aliases=("v100-sxm2", "tesla-v100"),
        device_names=("V100",),
        sources={
            "sms": "NVIDIA Tesla V100 GPU architecture whitepaper (2017), table 1",
            "peak_tflops": "NVIDIA V100 datasheet (SXM2): 15.7 FP32, 125 tensor",
            "mem_bw_gbs": "NVIDIA V100 datasheet: 900 GB/s HBM2",
            "l2_mib": "V100 whitepaper: 6144 KB L2",
            "tc_align_bytes": _PAPER,
        },
    ),
    GpuSpec(
        key="A100-40GB",
        name="NVIDIA A100 SXM4 40GB",
        vendor="nvidia",
        arch="ampere",
        sms=108,
        peak_tflops={"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0},
        mem_bw_gbs=1555.0,
        l2_mib=40.0,
        memory_gib=40.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("a100", "a100-40", "a100-sxm4-40gb", "a100-40g"),
        device_names=("A100-SXM4-40GB", "A100-PCIE-40GB", "A100 40GB"),
        sources={
            "sms": "NVIDIA A100 Tensor Core GPU architecture whitepaper (2020): 108 SMs",
            "peak_tflops": "NVIDIA A100 datasheet: 19.5 FP32, 156 TF32, 312 FP16/BF16 dense",
            "mem_bw_gbs": "NVIDIA A100 datasheet: 1,555 GB/s (40GB HBM2)",
            "l2_mib": "A100 whitepaper: 40 MB L2",
            "tc_align_bytes": _PAPER,
        },
    ),
    GpuSpec(
        key="A100-80GB",
        name="NVIDIA A100 SXM4 80GB",
        vendor="nvidia",
        arch="ampere",
        sms=108,
        peak_tflops={"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0},
        mem_bw_gbs=2039.0,
        l2_mib=40.0,
        memory_gib=80.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("a100-80", "a100-sxm4-80gb", "a100-80g"),
        device_names=("A100-SXM4-80GB", "A100 80GB"),
        sources={
            "sms": "NVIDIA A100 architecture whitepaper (2020): 108 SMs",
            "peak_tflops": "NVIDIA A100 datasheet: 19.5 FP32, 156 TF32, 312 FP16/BF16 dense",
            "mem_bw_gbs": "NVIDIA A100 datasheet: 2,039 GB/s (80GB SXM HBM2e)",
            "l2_mib": "A100 whitepaper: 40 MB L2",
            "tc_align_bytes": _PAPER,
        },
    ),
    GpuSpec(
        key="H100-SXM",
        name="NVIDIA H100 SXM5 80GB",
        vendor="nvidia",
        arch="hopper",
        sms=132,
        peak_tflops={"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9},
        mem_bw_gbs=3350.0,
        l2_mib=50.0,
        memory_gib=80.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("h100", "h100-sxm5", "h100-80gb", "h100-hbm3"),
        device_names=("H100 80GB HBM3", "H100 SXM"),
        sources={
            "sms": "NVIDIA H100 Tensor Core GPU architecture whitepaper (2022): 132 SMs on SXM5",
            "peak_tflops": "NVIDIA H100 datasheet (SXM): 67 FP32, 989 TF32/2, 989 BF16, 1979 FP8 dense",
            "mem_bw_gbs": "NVIDIA H100 datasheet: 3.35 TB/s (SXM)",
            "l2_mib": "H100 whitepaper: 50 MB L2",
            "tc_align_bytes": _PAPER,
        },
    ),
    GpuSpec(
        key="H100-PCIe",
        name="NVIDIA H100 PCIe 80GB",
        vendor="nvidia",
        arch="hopper",
        sms=114,
        peak_tflops={"fp32": 51.2, "tf32": 378.0, "fp16": 756.0, "bf16": 756.0, "fp8": 1513.0},
        mem_bw_gbs=2000.0,
        l2_mib=50.0,
        memory_gib=80.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("h100-pcie-80gb", "h100pcie"),
        device_names=("H100 PCIe",),
        sources={
            "sms": "NVIDIA H100 architecture whitepaper (2022): 114 SMs on PCIe",
            "peak_tflops": "NVIDIA H100 datasheet (PCIe): 51 FP32, 378 TF32, 756 BF16, 1513 FP8 dense",
            "mem_bw_gbs": "NVIDIA H100 datasheet: 2 TB/s (PCIe)",
            "l2_mib": "H100 whitepaper: 50 MB L2",
            "tc_align_bytes": _PAPER,
        },
    ),
    GpuSpec(
        key="H200",
        name="NVIDIA H200 SXM 141GB",
        vendor="nvidia",
        arch="hopper",
        sms=132,
        peak_tflops={"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "fp8": 1978.9},
        mem_bw_gbs=4800.0,
        l2_mib=50.0,
        memory_gib=141.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("h200-sxm", "h200-141gb"),
        device_names=("H200",),
        sources={
            "sms": "Same GH100 die and SM count as H100 SXM5 (NVIDIA H200 product brief)",
            "peak_tflops": "NVIDIA H200 datasheet: 67 FP32, 989 BF16, 1979 FP8 dense",
            "mem_bw_gbs": "NVIDIA H200 datasheet: 4.8 TB/s HBM3e",
            "l2_mib": "GH100 L2 of 50 MB (H100 whitepaper)",
            "tc_align_bytes": _PAPER,
        },
    ),
)

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


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def known_names() -> list[str]:
    return [s.key for s in SPECS] + [CPU.key]


def resolve(name: str) -> GpuSpec:
    """The spec for a name people type: 'A100', 'h100', 'H100-PCIe', 'h200', 'cpu'."""
    wanted = _norm(name)
    for spec in (*SPECS, CPU):
        if wanted == _norm(spec.key) or wanted in (_norm(a) for a in spec.aliases):
            return spec
    raise UnknownGpu(f"unknown GPU {name!r}; known: {', '.join(known_names())}")


def match_device_name(device_name: str, memory_gib: float | None = None) -> GpuSpec | None:
    """The table's spec for a name the driver reports, or None when the table has no such GPU."""
    candidates = [s for s in SPECS if any(d.lower() in device_name.lower() for d in s.device_names)]
    if len(candidates) > 1 and memory_gib is not None:
        candidates.sort(key=lambda s: abs(s.memory_gib - memory_gib))
    return candidates[0] if candidates else None


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
        spec = GpuSpec(
            key=_norm(props.name).replace("nvidia-", ""),
            name=props.name,
            vendor="amd" if getattr(torch.version, "hip", None) else "nvidia",
            arch="unknown",
            sms=props.multi_processor_count,
            peak_tflops={},
            mem_bw_gbs=0.0,
            l2_mib=l2_bytes / 2**20,
            memory_gib=memory_gib,
            tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
            sources={"all": "read off the device; not in the spec table"},
        )
    return dataclasses.replace(
        spec,
        sms=props.multi_processor_count,
        memory_gib=round(memory_gib, 1),
        l2_mib=l2_bytes / 2**20 if l2_bytes else spec.l2_mib,
        detected=True,
    )
