"""The run's target: the GPU named (or detected), the device present, and what follows for the suite."""

from __future__ import annotations

from dataclasses import dataclass

from perf.gpus import GpuSpec

TORCH_DTYPES = {"fp32": "float32", "tf32": "float32", "bf16": "bfloat16", "fp16": "float16", "fp8": "float8_e4m3fn"}


@dataclass(frozen=True)
class Target:
    gpu: GpuSpec  # the GPU the run is for: --gpu, or the device present
    present: GpuSpec  # the device present (detected)
    dtype: str = "bf16"  # default dtype of the GEMM benchmarks
    sweep: str = "compact"  # "compact" or "full"

    @property
    def is_cpu(self) -> bool:
        return not self.present.is_gpu

    @property
    def device(self) -> str:
        return "cpu" if self.is_cpu else "cuda"

    @property
    def can_time(self) -> bool:
        """Timing needs the named GPU to be the device present."""
        return self.gpu.key == self.present.key

    def mismatch(self) -> str | None:
        if self.can_time:
            return None
        return (
            f"--gpu {self.gpu.key} ({self.gpu.name}) is not the device present, {self.present.name} "
            f"({self.present.key}): timing benchmarks need the named GPU. Run on that GPU, drop --gpu "
            f"to time the device present, or select rule checks only with -m shape_rules."
        )

    def torch_dtype(self, name: str | None = None):
        import torch

        return getattr(torch, TORCH_DTYPES[name or self.dtype])
