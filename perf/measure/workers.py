"""One pytest-xdist worker per GPU: which GPUs are visible (through NVML, respecting CUDA_VISIBLE_DEVICES), how many
workers `-n auto` means, the usage errors for too many workers or mixed GPU kinds, pinning a worker to its GPU
before CUDA initialises, the physical GPU this process measures on, and a benchmark's expected time (the order
in which workers are handed benchmarks: longest first).

Nothing here changes global state at import; `pin` sets CUDA_VISIBLE_DEVICES of the calling process only.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from dataclasses import dataclass
from typing import Mapping, MutableMapping, Sequence

VISIBLE = "CUDA_VISIBLE_DEVICES"


class WorkerError(ValueError):
    """A worker count or GPU set that one-worker-per-GPU cannot serve: names the option and the GPUs."""


@dataclass(frozen=True)
class PhysicalGpu:
    index: int  # NVML index: the GPU's place on the host, whatever CUDA_VISIBLE_DEVICES says
    uuid: str  # "GPU-..." as nvidia-smi prints it
    name: str  # the driver's name, e.g. "NVIDIA H200"

    def label(self) -> str:
        return f"GPU {self.index} {self.name} ({self.uuid})"


def visible_entries(environ: Mapping[str, str]) -> list[str] | None:
    """The entries of CUDA_VISIBLE_DEVICES, or None when it is unset (every GPU is visible)."""
    value = environ.get(VISIBLE)
    if value is None:
        return None
    return [e.strip() for e in value.split(",") if e.strip()]


def resolve_visible(entries: list[str] | None, devices: Sequence[PhysicalGpu]) -> list[PhysicalGpu]:
    """The GPUs a process sees, in CUDA's order: all of `devices` (the host's, from NVML) when CUDA_VISIBLE_DEVICES
    is unset, else one per entry (an index, or a UUID or its prefix, as CUDA accepts them)."""
    if entries is None:
        return list(devices)
    picked = []
    for entry in entries:
        if entry.lstrip("-").isdigit():
            if int(entry) < 0:
                break  # CUDA stops at the first negative entry
            found = [d for d in devices if d.index == int(entry)]
        elif entry.startswith("GPU-"):
            found = [d for d in devices if d.uuid.startswith(entry)]
        else:
            raise WorkerError(f"{VISIBLE}: entry {entry!r}: expected a GPU index or a GPU-UUID (MIG instances are not "
                              f"supported by one worker per GPU)")
        if len(found) != 1:
            known = ", ".join(f"{d.index} ({d.uuid})" for d in devices) or "none"
            raise WorkerError(f"{VISIBLE}: entry {entry!r}: expected one of this host's GPUs, {known}")
        picked.append(found[0])
    return picked


def host_gpus() -> list[PhysicalGpu]:
    """Every NVIDIA GPU of the host through NVML, by index; [] where NVML or the driver is missing."""
    try:
        import pynvml as nvml

        nvml.nvmlInit()
        out = []
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            out.append(PhysicalGpu(index=i, uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                                   name=_text(nvml.nvmlDeviceGetName(handle))))
        return out
    except Exception:  # no NVML library, no driver, no GPU
        return []


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_gpus(environ: Mapping[str, str] = os.environ) -> list[PhysicalGpu]:
    return resolve_visible(visible_entries(environ), host_gpus())


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_workers(gpus: Sequence[PhysicalGpu], cores: int) -> int:
    """What `-n auto` means: one worker per visible GPU; on the CPU device (no GPU) half the usable cores, at least
    one: each worker times with one thread, and the idle half keeps the host timer's neighbours quiet."""
    return len(gpus) if gpus else max(1, cores // 2)


def check_workers(count: int, gpus: Sequence[PhysicalGpu], cores: int, environ: Mapping[str, str]) -> None:
    """Raise WorkerError when `count` workers cannot each have a GPU of their own (or a core, on the CPU device),
    or when the visible GPUs are of different kinds (their baselines differ)."""
    where = f" ({VISIBLE}={environ[VISIBLE]})" if VISIBLE in environ else ""
    if gpus:
        if count > len(gpus):
            raise WorkerError(f"-n {count}: {count} workers but {len(gpus)} visible GPUs{where}: "
                              + "; ".join(g.label() for g in gpus)
                              + f". One worker per GPU: use -n {len(gpus)} or -n auto")
        kinds = sorted({g.name for g in gpus[:count]})
        if len(kinds) > 1:
            raise WorkerError(f"-n {count}: the workers' GPUs are of different kinds ({', '.join(kinds)}): "
                              + "; ".join(g.label() for g in gpus[:count])
                              + f". Set {VISIBLE} to GPUs of one kind")
    elif count > cores:
        raise WorkerError(f"-n {count}: no GPU visible{where}, and {count} workers on the CPU device would share "
                          f"{cores} usable cores: use at most -n {cores}, or -n auto ({auto_workers((), cores)})")


def pin(environ: MutableMapping[str, str], gpu: str) -> str:
    """Make the calling process (and every process it starts: the fresh-process re-measure) see only `gpu`, an
    entry of CUDA_VISIBLE_DEVICES (the controller hands out UUIDs, which no device order can confuse). Must run
    before CUDA initialises in this process."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise WorkerError(f"pinning a worker to {gpu}: CUDA is initialised already in this process; the worker must "
                          f"be pinned first")
    environ[VISIBLE] = gpu
    return gpu


@functools.lru_cache(maxsize=1)
def current_gpu() -> PhysicalGpu | None:
    """The physical GPU behind CUDA device 0 of this process: matched by its UUID through NVML, else the first
    entry of CUDA_VISIBLE_DEVICES; None on the CPU device or where neither tells."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        uuid = "GPU-" + str(torch.cuda.get_device_properties(0).uuid).removeprefix("GPU-")
    except Exception:  # a torch without device UUIDs
        uuid = None
    gpus = host_gpus()
    found = next((g for g in gpus if g.uuid == uuid), None)
    if found is None:
        try:
            visible = resolve_visible(visible_entries(os.environ), gpus)
        except WorkerError:
            visible = []
        found = visible[0] if visible else None
    return found


def gpu_label(uuid: str) -> str:
    """A GPU named by its place on the host and its UUID, e.g. "GPU 1 (GPU-0dc99274)"; the UUID alone where NVML
    does not know it."""
    found = next((g for g in host_gpus() if g.uuid == uuid), None)
    short = uuid[:12]
    return f"GPU {found.index} ({short})" if found else short


def placement(worker_id: str | None) -> dict:
    """Where a result was measured: the worker ("main" without xdist), the host and the physical GPU (index and
    UUID; None on the CPU device)."""
    gpu = current_gpu()
    return {"worker": worker_id or "main", "host": socket.gethostname(),
            "gpu_index": gpu.index if gpu else None, "gpu_uuid": gpu.uuid if gpu else None}


def expected_seconds(median_ms: float, samples: int, min_time_s: float, max_time_s: float) -> float:
    """How long sampling a benchmark should take, from its baseline entry: its samples times its median, within
    the sampling time's floor and cap."""
    return min(max(samples * median_ms / 1e3, min_time_s), max_time_s)
