"""The run's environment: device, driver, CUDA, PyTorch, Triton, commit, date. Recorded with every result
and every baseline entry, and compared so that a changed stack is shown beside the verdicts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

from perf.measure import clocks
from perf.measure.target import Target

# Fields whose change explains a shift in timings; shown beside the verdicts when they differ.
COMPARED = ("device", "sms", "driver", "cuda", "torch", "triton", "sm_max_mhz", "timing")


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:
        return None


def _git_commit(root: Path) -> str | None:
    """HEAD of the checkout (with "-dirty" for changes to tracked files); $PERF_COMMIT, when set, instead: for
    a copy of the tree that is not its own git checkout (a runner that receives files, not the repository)."""
    given = os.environ.get("PERF_COMMIT", "").strip()
    if given:
        return given
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except Exception:
        return None


def host_cores() -> int | None:
    """CPU cores this process may run on (its affinity where the platform tells it, else the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def host_cpu() -> str:
    """The host CPU's model name (from /proc/cpuinfo, else the platform's word for it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect(target: Target, root: Path) -> dict:
    """What was measured on, now."""
    import torch

    env: dict = {
        "gpu": target.present.key,
        "sms": target.present.sms,
        "torch": torch.__version__,
        "triton": _version("triton"),
        "python": platform.python_version(),
        "commit": _git_commit(root),
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    if target.is_cpu:
        env.update(device=host_cpu(), threads=torch.get_num_threads())
    else:
        props = torch.cuda.get_device_properties(0)
        reading = clocks.read()
        env.update(
            device=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            l2_mib=round(target.present.l2_mib, 1),
            capability=f"{props.major}.{props.minor}",
            driver=clocks.driver_version(),
            cuda=torch.version.cuda or torch.version.hip,
            sm_max_mhz=reading.sm_max_mhz if reading else None,
            # The host, for what it sets: the wall time of host-bound work (an eager model generation), not compared
            host_cpu=host_cpu(),
            host_cores=host_cores(),
        )
    return env


def env_id(env: dict) -> str:
    """A short stable id of an environment, for baseline files."""
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:12]


def differences(now: dict, then: dict) -> list[tuple[str, object, object]]:
    """(field, baseline value, current value) for every compared field that changed."""
    return [(k, then.get(k), now.get(k)) for k in COMPARED if k in now or k in then if then.get(k) != now.get(k)]
