"""Clocks, temperature, power and throttle reasons of an NVIDIA GPU through nvidia-ml-py (NVML).

Every reading is optional: where NVML is missing or refuses, `read()` returns None and the suite says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from perf.measure import workers

# Throttle reasons that make a sample untrustworthy. A power cap under full load is the steady state of a
# large GEMM on these GPUs, so it is recorded but does not by itself mark a measurement unreliable.
_DISQUALIFYING = ("hw_slowdown", "hw_thermal_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown")
_REASON_NAMES = {
    "nvmlClocksThrottleReasonGpuIdle": "gpu_idle",
    "nvmlClocksThrottleReasonApplicationsClocksSetting": "applications_clocks_setting",
    "nvmlClocksThrottleReasonSwPowerCap": "sw_power_cap",
    "nvmlClocksThrottleReasonHwSlowdown": "hw_slowdown",
    "nvmlClocksThrottleReasonSyncBoost": "sync_boost",
    "nvmlClocksThrottleReasonSwThermalSlowdown": "sw_thermal_slowdown",
    "nvmlClocksThrottleReasonHwThermalSlowdown": "hw_thermal_slowdown",
    "nvmlClocksThrottleReasonHwPowerBrakeSlowdown": "hw_power_brake_slowdown",
    "nvmlClocksThrottleReasonDisplayClockSetting": "display_clock_setting",
}


@dataclass(frozen=True)
class ClockReading:
    sm_mhz: int
    mem_mhz: int
    sm_max_mhz: int
    temperature_c: int
    power_w: float
    reasons: tuple[str, ...]

    @property
    def throttled(self) -> bool:
        return any(r in _DISQUALIFYING for r in self.reasons)

    def to_dict(self) -> dict:
        return asdict(self)


def _reasons(nvml, mask: int) -> tuple[str, ...]:
    found = []
    for attr, name in _REASON_NAMES.items():
        bit = getattr(nvml, attr, None)
        if bit is not None and mask & bit:
            found.append(name)
    return tuple(found)


def read(device_index: int | None = None) -> ClockReading | None:
    """A reading of the GPU's clocks and throttle state, or None where NVML cannot give one. By default the GPU
    this process measures on: NVML counts every GPU of the host, whatever CUDA_VISIBLE_DEVICES says."""
    try:
        import pynvml as nvml

        if device_index is None:
            gpu = workers.current_gpu()
            device_index = gpu.index if gpu else 0
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(device_index)
        get_reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nvml, "nvmlDeviceGetCurrentClocksThrottleReasons"
        )
        return ClockReading(
            sm_mhz=nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
            mem_mhz=nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM),
            sm_max_mhz=nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
            temperature_c=nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            power_w=nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
            reasons=_reasons(nvml, get_reasons(handle)),
        )
    except Exception:  # NVML absent, no NVIDIA driver, or a query the driver refuses
        return None


def driver_version() -> str | None:
    try:
        import pynvml as nvml

        nvml.nvmlInit()
        version = nvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:
        return None
