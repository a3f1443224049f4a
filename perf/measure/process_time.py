"""Where a suite process's time goes: from the process's start to the plugin's configure (the interpreter, pytest),
from there to the first benchmark (collection, torch and the GPU's set-up, the first benchmark's build), in the
benchmarks, and in all. `perf ab` and `perf bisect` pay the first two once per side per round, so they show them."""

from __future__ import annotations

import os
import time
from pathlib import Path


def since_process_start() -> float | None:
    """Seconds since this process started (Linux: /proc), or None where that cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of proc(5), starttime, counted from field 3
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None


class ProcessTime:
    """The clock of one suite process: made at configure, told when each benchmark starts and ends."""

    def __init__(self) -> None:
        self.configured = time.monotonic()
        self.before_configure = since_process_start()
        self.first_benchmark: float | None = None
        self.in_benchmarks = 0.0
        self._started: float | None = None

    def benchmark_started(self) -> None:
        self._started = time.monotonic()
        if self.first_benchmark is None:
            self.first_benchmark = self._started

    def benchmark_ended(self) -> None:
        if self._started is not None:
            self.in_benchmarks += time.monotonic() - self._started
            self._started = None

    def as_dict(self) -> dict:
        """Seconds: start_s (process start to configure; None where unknown), setup_s (configure to the first
        benchmark), benchmarks_s (in the benchmarks, re-measures included), total_s (process start, or configure,
        to now)."""
        now = time.monotonic()
        start = self.before_configure
        setup = (self.first_benchmark - self.configured) if self.first_benchmark is not None else None
        return {"start_s": _round(start), "setup_s": _round(setup), "benchmarks_s": _round(self.in_benchmarks),
                "total_s": _round((start or 0.0) + now - self.configured)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def phrase(times: dict | None) -> str:
    """`start 2.1 s, setup 9.0 s, benchmarks 1.2 s` for a results file's `process` block ('' without one)."""
    if not times:
        return ""
    parts = [f"{name} {times[key]:.1f} s" for name, key in (("start", "start_s"), ("setup", "setup_s"),
                                                             ("benchmarks", "benchmarks_s")) if times.get(key) is not None]
    return ", ".join(parts)
