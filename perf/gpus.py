"""GPU profiles: the spec table, name resolution and detection of the running device.

Every figure in the table carries its source. Peak rates are dense (no 2:4 sparsity), in TFLOP/s,
at the boost clock; memory bandwidth in GB/s (10^9 bytes/s); L2 in MiB. What the running device
reports (SM count, memory, L2) wins over the table: see `detect()`.
"""

from __future__ import annotations

import dataclasses
import difflib
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


_AMPERE_AND_LATER_ALIGN = 128  # paper III-B: 128 bytes on A100 (64 fp16 elements)
_VOLTA_ALIGN = 16  # paper III-B: 16 bytes on V100 (8 fp16 elements)
_CDNA_ALIGN = 128  # assumed, see _CDNA_ALIGN_SOURCE
_PAPER = "Anthony et al., 'The Case for Co-Designing Model Architectures with Hardware', sec. III-B"
_PAPER_LATER = _PAPER + " (128 bytes for A100; applied to later NVIDIA parts, whose tensor cores are no narrower)"
_CDNA_ALIGN_SOURCE = (
    "Assumed 128 bytes (64 fp16/bf16 elements), as for NVIDIA Ampere and later: no AMD document found that "
    "states a byte alignment for CDNA matrix cores. To be confirmed by an alignment sweep on the device."
)

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
        aliases=("v100-sxm2", "tesla-v100", "v100-32gb", "v100-16gb"),
        device_names=("V100-SXM2",),
        sources={
            "sms": "NVIDIA Tesla V100 GPU architecture whitepaper (2017), table 1: 80 SMs",
            "peak_tflops": "NVIDIA V100 datasheet (SXM2): 15.7 FP32, 125 FP16 tensor; no BF16/TF32 on Volta",
            "mem_bw_gbs": "NVIDIA V100 datasheet: 900 GB/s HBM2 (SXM2)",
            "l2_mib": "V100 whitepaper: 6144 KB L2",
            "memory_gib": "NVIDIA V100 datasheet: 32 GB (a 16 GB SXM2 part has the same rates)",
            "tc_align_bytes": _PAPER,
            "device_names": "SXM2 only: 'Tesla V100-PCIE-*' (14 FP32 / 112 tensor) and V100S are other parts",
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
        aliases=("a100", "a100-40", "a100-sxm4-40gb", "a100-40g", "a100-pcie-40gb"),
        device_names=("A100-SXM4-40GB", "A100-PCIE-40GB"),
        sources={
            "sms": "NVIDIA A100 Tensor Core GPU architecture whitepaper (2020): 108 SMs",
            "peak_tflops": "NVIDIA A100 datasheet: 19.5 FP32, 156 TF32, 312 FP16/BF16 dense",
            "mem_bw_gbs": "NVIDIA A100 datasheet: 1,555 GB/s (40GB HBM2, SXM and PCIe)",
            "l2_mib": "A100 whitepaper: 40 MB L2",
            "memory_gib": "NVIDIA A100 datasheet: 40 GB HBM2",
            "tc_align_bytes": _PAPER,
            "aliases": "'A100' means this part: the paper's A100 runs were on 8x A100 40GB (AWS p4d)",
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
        aliases=("a100-80", "a100-sxm4-80gb", "a100-80g", "a100-sxm-80gb"),
        device_names=("A100-SXM4-80GB",),
        sources={
            "sms": "NVIDIA A100 architecture whitepaper (2020): 108 SMs",
            "peak_tflops": "NVIDIA A100 datasheet: 19.5 FP32, 156 TF32, 312 FP16/BF16 dense",
            "mem_bw_gbs": "NVIDIA A100 datasheet: 2,039 GB/s (80GB SXM HBM2e)",
            "l2_mib": "A100 whitepaper: 40 MB L2",
            "memory_gib": "NVIDIA A100 datasheet: 80 GB HBM2e",
            "tc_align_bytes": _PAPER,
            "device_names": "SXM only: 'NVIDIA A100 80GB PCIe' has 1,935 GB/s and a 300 W limit, so it is "
            "detected as a GPU of its own",
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
        aliases=("h100", "h100-sxm5", "h100-80gb", "h100-hbm3", "h100-80gb-hbm3"),
        device_names=("H100", "H100 SXM5"),
        sources={
            "sms": "NVIDIA H100 Tensor Core GPU architecture whitepaper (2022): 132 SMs on SXM5 "
            "(the paper's 144 is the full GH100 die)",
            "peak_tflops": "NVIDIA H100 datasheet (SXM): 67 FP32; H100 whitepaper, SXM5 column: 494.7 TF32, 989.4 FP16/BF16, "
            "1978.9 FP8 dense (datasheet: 989 / 1,979 / 3,958 with sparsity; whitepaper FP32: 66.9)",
            "mem_bw_gbs": "NVIDIA H100 datasheet: 3.35 TB/s (SXM)",
            "l2_mib": "H100 whitepaper: 50 MB L2",
            "memory_gib": "NVIDIA H100 datasheet: 80 GB HBM3 (SXM)",
            "tc_align_bytes": _PAPER_LATER,
            "device_names": "the driver reports 'NVIDIA H100 80GB HBM3'; 'H100 PCIe' and 'H100 NVL' are other parts",
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
        aliases=("h100-pcie-80gb",),
        device_names=("H100 PCIe",),
        sources={
            "sms": "NVIDIA H100 architecture whitepaper (2022): 114 SMs on PCIe",
            "peak_tflops": "NVIDIA H100 whitepaper, PCIe column: 51.2 FP32, 378 TF32, 756 FP16/BF16, "
            "1513 FP8 dense (datasheet: 51 / 756 / 1,513 / 3,026 with sparsity)",
            "mem_bw_gbs": "NVIDIA H100 datasheet: 2 TB/s (PCIe, HBM2e); some NVIDIA material says 2.04 TB/s",
            "l2_mib": "H100 whitepaper: 50 MB L2",
            "memory_gib": "NVIDIA H100 datasheet: 80 GB HBM2e (PCIe)",
            "tc_align_bytes": _PAPER_LATER,
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
            "peak_tflops": "NVIDIA H200 datasheet (SXM): 67 FP32, 989 TF32, 1,979 FP16/BF16, 3,958 FP8 with "
            "sparsity; dense = half, as the H100 SXM5 whitepaper figures",
            "mem_bw_gbs": "NVIDIA H200 datasheet: 4.8 TB/s HBM3e",
            "l2_mib": "GH100 L2 of 50 MB (H100 whitepaper)",
            "memory_gib": "NVIDIA H200 datasheet: 141 GB HBM3e",
            "tc_align_bytes": _PAPER_LATER,
            "device_names": "'NVIDIA H200 NVL' (600 W PCIe card, lower clocks) and 'NVIDIA GH200' are other parts",
        },
    ),
    GpuSpec(
        key="L4",
        name="NVIDIA L4 24GB",
        vendor="nvidia",
        arch="ada",
        sms=58,
        peak_tflops={"fp32": 30.3, "tf32": 60.0, "fp16": 121.0, "bf16": 121.0, "fp8": 242.5},
        mem_bw_gbs=300.0,
        l2_mib=48.0,
        memory_gib=24.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("nvidia-l4", "l4-24gb"),
        device_names=("L4",),
        sources={
            "sms": "AD104 with 58 SMs (7,424 CUDA cores): 30.3 TFLOPS = 58 x 128 x 2 FLOP x 2.04 GHz boost; "
            "the datasheet gives no SM count, detect() reads it off the device",
            "peak_tflops": "NVIDIA L4 datasheet: 30.3 FP32; 120 TF32, 242 FP16/BF16, 485 FP8 with sparsity; "
            "dense = half",
            "mem_bw_gbs": "NVIDIA L4 datasheet: 300 GB/s GDDR6",
            "l2_mib": "48 MB L2 (AD104); not on the datasheet, from third-party spec databases: detect() "
            "reads the device's value",
            "memory_gib": "NVIDIA L4 datasheet: 24 GB GDDR6",
            "tc_align_bytes": _PAPER_LATER,
        },
    ),
    GpuSpec(
        key="L40S",
        name="NVIDIA L40S 48GB",
        vendor="nvidia",
        arch="ada",
        sms=142,
        peak_tflops={"fp32": 91.6, "tf32": 183.0, "fp16": 362.05, "bf16": 362.05, "fp8": 733.0},
        mem_bw_gbs=864.0,
        l2_mib=96.0,
        memory_gib=48.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("nvidia-l40s", "l40s-48gb"),
        device_names=("L40S",),
        sources={
            "sms": "NVIDIA L40S datasheet: 18,176 CUDA cores and 142 RT cores = 142 SMs (AD102)",
            "peak_tflops": "NVIDIA L40S datasheet: 91.6 FP32; 183 TF32, 362.05 FP16/BF16, 733 FP8 dense "
            "(366 / 733 / 1,466 with sparsity). The datasheet is off by 1% with itself: 733 sparse and "
            "142 SMs x 1,024 FLOP/clock x 2.52 GHz both give 366.4 dense FP16/BF16; 362.05 is kept as printed",
            "mem_bw_gbs": "NVIDIA L40S datasheet: 864 GB/s GDDR6",
            "l2_mib": "96 MB L2 of the full AD102 (NVIDIA Ada Lovelace architecture whitepaper); not on the "
            "L40S datasheet: detect() reads the device's value",
            "memory_gib": "NVIDIA L40S datasheet: 48 GB GDDR6 with ECC",
            "tc_align_bytes": _PAPER_LATER,
            "device_names": "'NVIDIA L40' (no S) is another part",
        },
    ),
    GpuSpec(
        key="RTX-4090",
        name="NVIDIA GeForce RTX 4090 24GB",
        vendor="nvidia",
        arch="ada",
        sms=128,
        peak_tflops={"fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2, "fp8": 330.3},
        mem_bw_gbs=1008.0,
        l2_mib=72.0,
        memory_gib=24.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("4090", "geforce-rtx-4090", "rtx-4090-24gb"),
        device_names=("RTX 4090",),
        sources={
            "sms": "NVIDIA Ada Lovelace architecture whitepaper, appendix: RTX 4090 has 128 SMs",
            "peak_tflops": "Ada whitepaper, RTX 4090: 82.6 FP32, 82.6 TF32, 165.2 FP16/BF16 and 330.3 FP8 dense "
            "with FP32 accumulate (what torch GEMMs use); GeForce runs FP16/FP8 with FP16 accumulate at "
            "twice that (330.3 / 660.6)",
            "mem_bw_gbs": "Ada whitepaper: 1,008 GB/s GDDR6X (21 Gbps, 384-bit)",
            "l2_mib": "Ada whitepaper: 72 MB L2 on RTX 4090",
            "memory_gib": "Ada whitepaper: 24 GB GDDR6X",
            "tc_align_bytes": _PAPER_LATER,
            "device_names": "'RTX 4090 D' (114 SMs) and the 'RTX 4090 Laptop GPU' are other parts",
        },
    ),
    GpuSpec(
        key="MI250X",
        name="AMD Instinct MI250X, one GCD (as torch sees it)",
        vendor="amd",
        arch="cdna2",
        sms=110,
        peak_tflops={"fp32": 47.85, "fp16": 191.5, "bf16": 191.5},
        mem_bw_gbs=1638.4,
        l2_mib=8.0,
        memory_gib=64.0,
        tc_align_bytes=_CDNA_ALIGN,
        aliases=("instinct-mi250x", "mi250x-gcd"),
        device_names=("MI250X", "MI250X/MI250"),
        sources={
            "scope": "An MI250X is two GCDs, and ROCm shows each GCD as its own device: every figure here is "
            "per GCD, half the datasheet's per-package figure",
            "sms": "AMD Instinct MI250X datasheet: 220 CUs per package = 110 per GCD (AMD CDNA 2 whitepaper)",
            "peak_tflops": "AMD MI250X datasheet, per package: 95.7 FP32 matrix (47.9 FP32 vector), "
            "383 FP16/BF16 matrix; halved per GCD. fp32 is the matrix rate (fp32 GEMMs use it). No TF32/FP8 "
            "on CDNA 2",
            "mem_bw_gbs": "AMD MI250X datasheet: 3.2768 TB/s HBM2e per package = 1,638.4 GB/s per GCD",
            "l2_mib": "AMD CDNA 2 whitepaper: 8 MB L2 per GCD",
            "memory_gib": "AMD MI250X datasheet: 128 GB HBM2e per package = 64 GB per GCD",
            "tc_align_bytes": _CDNA_ALIGN_SOURCE,
            "device_names": "ROCm reports 'AMD Instinct MI250X' or 'AMD Instinct MI250X/MI250'; the latter "
            "is also shown for an MI250 (104 CUs per GCD): detect() reads the CU count off the device",
        },
    ),
    GpuSpec(
        key="MI300X",
        name="AMD Instinct MI300X 192GB",
        vendor="amd",
        arch="cdna3",
        sms=304,
        peak_tflops={"fp32": 163.4, "fp16": 1307.4, "bf16": 1307.4, "fp8": 2614.9},
        mem_bw_gbs=5300.0,
        l2_mib=32.0,
        memory_gib=192.0,
        tc_align_bytes=_CDNA_ALIGN,
        infinity_cache_mib=256.0,
        aliases=("instinct-mi300x",),
        device_names=("MI300X",),
        sources={
            "sms": "AMD Instinct MI300X datasheet: 304 CUs (8 XCDs x 38)",
            "peak_tflops": "AMD MI300X datasheet: 163.4 FP32 (vector and matrix), 1,307.4 FP16/BF16, 2,614.9 FP8 "
            "dense (653.7 TF32 is listed too; torch on ROCm does not use it for fp32 GEMMs by default, "
            "so it is left out)",
            "mem_bw_gbs": "AMD MI300X datasheet: 5.3 TB/s HBM3",
            "l2_mib": "AMD CDNA 3 whitepaper: 4 MB L2 per XCD x 8 XCDs = 32 MB; the device may report the "
            "per-XCD 4 MB",
            "infinity_cache_mib": "AMD MI300X datasheet / CDNA 3 whitepaper: 256 MB AMD Infinity Cache "
            "(memory-side, shared by all XCDs): a cold-cache flush must exceed it",
            "memory_gib": "AMD MI300X datasheet: 192 GB HBM3",
            "tc_align_bytes": _CDNA_ALIGN_SOURCE,
            "device_names": "in SPX mode one device of 304 CUs; 'AMD Instinct MI300X VF' (virtual function) "
            "is the same part. MI300A and MI325X are other parts",
        },
    ),
    GpuSpec(
        key="B200",
        name="NVIDIA B200 180GB (HGX, 1000 W)",
        vendor="nvidia",
        arch="blackwell",
        sms=148,
        peak_tflops={"fp32": 75.0, "tf32": 1100.0, "fp16": 2250.0, "bf16": 2250.0, "fp8": 4500.0},
        mem_bw_gbs=7700.0,
        l2_mib=126.0,
        memory_gib=180.0,
        tc_align_bytes=_AMPERE_AND_LATER_ALIGN,
        aliases=("b200-sxm", "hgx-b200", "b200-180gb"),
        device_names=("B200",),
        sources={
            "sms": "148 SMs (2 dies x 74 enabled), as the device reports it; NVIDIA's datasheet gives no SM count",
            "peak_tflops": "NVIDIA GB200 NVL72 / HGX B200 datasheet, HGX B200 per GPU: 75 FP32; 2.2 PF TF32, "
            "4.5 PF FP16/BF16, 9 PF FP8 with sparsity; dense = half (TF32 rounded: 1.1 PF). Other NVIDIA "
            "material gives 80 FP32: uncertain to about 7%",
            "mem_bw_gbs": "NVIDIA HGX B200 datasheet: 7.7 TB/s per GPU (other NVIDIA material says 8 TB/s)",
            "l2_mib": "NVIDIA Blackwell tuning guide (CUDA docs): 126 MB L2; detect() reads the device's value",
            "memory_gib": "NVIDIA HGX B200 datasheet: 180 GB HBM3e per GPU (1.44 TB per 8 GPUs)",
            "tc_align_bytes": _PAPER_LATER,
            "device_names": "'NVIDIA GB200' (1200 W, higher rates) is another part",
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
