"""Device timing: CUDA events around each sample (or CUDA-graph replays for short closures), cold L2,
warm-up, repeats until a noise target or a time cap. A host timer is used only for the CPU device.

How a GPU batch of samples runs: a spin kernel (`torch.cuda._sleep`) is queued first, long enough for the
host to enqueue the whole batch behind it, so the device runs [flush, start event, work, end event] back to
back and host launch overhead never sits between the two events. The L2 flush writes a buffer larger than L2
before each sample (or the spec rotates between input sets). The raw samples are kept.

Short closures (under `short_below_ms`, about 200 us): a pair of events around a kernel adds a fixed 2-3 us
of front-end time on Hopper (measured: a 10.0 us copy read 12.8 us), which is 25% of a 10 us kernel. There the
samples are the kernels' own durations as the CUDA profiler (CUPTI, through torch.profiler) records them, summed
per call (the union of their intervals: kernels that overlap count once): device time with launch gaps excluded.
Where the profiler is unavailable, a CUDA graph of the closure is timed with events instead, and the note says so.

Every GPU measurement also profiles one call after warm-up and keeps the names of its kernels (`kernels`): a
cuBLAS GEMM's name says which tile it chose, which the wave-quantization claim reads.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from perf.measure import clocks
from perf.measure.summary import Summary, converged, summarize
from perf.spec import Prepared
from perf.measure.target import Target


@dataclass(frozen=True)
class TimingSettings:
    warmup_ms: float = 200.0  # time spent calling the closure before sampling (compile, autotune, clock ramp)
    min_samples: int = 10
    max_samples: int = 300
    min_time_s: float = 0.2  # GPU: sample at least this long, so the median spans the power manager's clock swings
    max_time_s: float = 2.0  # cap on sampling time per benchmark
    noise_target: float = 0.01  # stop when the median's 95% CI half-width is within 1%
    batch: int = 10  # samples queued per synchronization
    method: str = "auto"  # "auto" (profiler under short_below_ms, events above), "events", "graph", "cupti"
    short_below_ms: float = 0.2
    long_from_ms: float = 100.0  # a call this long (a whole generation) is timed in fewer, smaller batches


def events_per_batch(estimate_ms: float, settings: TimingSettings) -> int:
    """Calls queued per batch of event samples: settings.batch, or for a long call only as many as fill the
    sampling time cap (at least 3, the fewest a median is taken of): ten 2.5 s generations would take 25 s."""
    if estimate_ms < settings.long_from_ms:
        return settings.batch
    return max(3, min(settings.batch, math.ceil(settings.max_time_s * 1e3 / estimate_ms)))


def profiled_per_batch(estimate_ms: float, settings: TimingSettings) -> int:
    """Calls per profiled batch: 5 x settings.batch for the short calls the profiler is chosen for; a longer call
    pinned to the profiler (a benchmark's `method`, e.g. a whole generation) as many as an event batch, so one batch's
    records stay a few thousand kernels and a few seconds."""
    return 5 * settings.batch if estimate_ms < settings.short_below_ms else events_per_batch(estimate_ms, settings)


# The label a Samples set carries for each way of timing (and back): a baseline's label pins the method.
METHOD_LABELS = {"cupti": "cuda-profiler", "graph": "cuda-graph", "events": "cuda-events", "host": "host"}
LABEL_METHODS = {label: method for method, label in METHOD_LABELS.items()}
# The timer's resolution per method, in ms: CUPTI timestamps step by 32 ns on Hopper, CUDA events resolve about
# 0.5 us, the host clock is read through Python (a microsecond is its honest grain).
TICK_MS = {"cuda-profiler": 32e-6, "cuda-graph": 0.5e-3, "cuda-events": 0.5e-3, "host": 1e-3}


@dataclass(frozen=True)
class Samples:
    samples_ms: tuple[float, ...]
    method: str  # "cuda-events", "cuda-graph" or "host"
    cold_l2: bool
    warmup_calls: int
    clocks_before: dict | None = None
    clocks_after: dict | None = None
    throttled: bool = False
    notes: tuple[str, ...] = field(default=())
    kernels: tuple[str, ...] = ()  # the device kernels of one call, as the profiler names them (GPU only)
    # A call of several kernels timed by the profiler: each kernel's median share of the call's device time (ms;
    # kernel_durations), by name without its parameter list, so that a change can be traced to the kernel that moved
    # (empty otherwise).
    kernel_ms: Mapping[str, float] = field(default_factory=dict)

    def summary(self) -> Summary:
        return summarize(self.samples_ms)

    @classmethod
    def from_record(cls, record: dict) -> "Samples":
        """The samples of a results-file record (a measurement made in another process)."""
        return cls(tuple(record["samples_ms"]), record["method"], cold_l2=record["cold_l2"],
                   warmup_calls=record["warmup_calls"], clocks_before=record.get("clocks_before"),
                   clocks_after=record.get("clocks_after"), throttled=bool(record.get("throttled")),
                   notes=tuple(record.get("notes") or ()), kernels=tuple(record.get("kernels") or ()),
                   kernel_ms=dict(record.get("kernel_ms") or {}))


def measure(prepared: Prepared, target: Target, settings: TimingSettings = TimingSettings(), *,
            cold_l2: bool = True, method: str | None = None) -> Samples:
    """Time `prepared.fn` on the target's device and return the raw samples. `method` (a label of
    METHOD_LABELS, e.g. the baseline's) pins the way of timing instead of choosing it from a first estimate."""
    if target.is_cpu:
        return _measure_host(prepared, settings)
    if method is not None:
        if method not in LABEL_METHODS or method == "host":
            raise ValueError(f"cannot time on the GPU with method {method!r}; expected one of "
                             f"{sorted(set(LABEL_METHODS) - {'host'})}")
        settings = replace(settings, method=LABEL_METHODS[method])
    return _measure_cuda(prepared, settings, cold_l2, l2_bytes=int(target.present.cache_flush_mib * 2**20))


# ----------------------------------------------------------------------------------------------- host (CPU)

def _measure_host(prepared: Prepared, settings: TimingSettings) -> Samples:
    fn = prepared.fn
    calls = _warm_up(fn, settings.warmup_ms, sync=lambda: None)
    samples: list[float] = []
    deadline = time.perf_counter() + settings.max_time_s
    while True:
        for _ in range(settings.batch):
            t0 = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - t0) / 1e6)
        if _done(samples, settings, deadline):
            break
    return Samples(tuple(samples), "host", cold_l2=False, warmup_calls=calls,
                   notes=("host timer on the CPU device; caches warm",))


def _warm_up(fn: Callable[[], Any], warmup_ms: float, sync: Callable[[], None], long_from_ms: float = math.inf) -> int:
    """Call fn for warmup_ms and at least 3 times; a call that takes long_from_ms or more is warm after 2 (the
    first compiles and allocates, the second runs as the samples will)."""
    calls = 0
    t0 = time.perf_counter()
    while True:
        elapsed_ms = (time.perf_counter() - t0) * 1e3
        fewest = 2 if calls and elapsed_ms / calls >= long_from_ms else 3
        if calls >= fewest and elapsed_ms >= warmup_ms:
            return calls
        fn()
        calls += 1
        sync()


def _done(samples: list[float], settings: TimingSettings, deadline: float, not_before: float = 0.0) -> bool:
    """Stop sampling? Never before the minimum sampling time (the median must span the power manager's clock
    swings), then at convergence or at the sample cap; and always at the time cap."""
    now = time.perf_counter()
    if len(samples) >= 3 and now > deadline:
        return True
    if now < not_before:
        return False
    return len(samples) >= settings.max_samples or converged(samples, settings.noise_target, settings.min_samples)


def collect(batches: dict[str, Callable[[], list[float] | None]], method: str, settings: TimingSettings,
            notes: list[str]) -> tuple[list[float], str]:
    """Sample batches with `batches[method]` until `_done`. A batch of None means the method failed (the
    profiler's records did not split into calls): sampling starts over with events, with a full window, so
    one sample set never mixes two methods."""
    samples: list[float] = []
    started = time.perf_counter()
    deadline = started + settings.max_time_s
    not_before = started + min(settings.min_time_s, settings.max_time_s)
    while True:
        batch = batches[method]()
        if batch is None:
            notes.append(f"{METHOD_LABELS[method]} failed (records did not split into calls); timed with events "
                         f"({len(samples)} samples discarded)")
            method = "events"
            samples.clear()
            started = time.perf_counter()
            deadline = started + settings.max_time_s
            not_before = started + min(settings.min_time_s, settings.max_time_s)
            continue
        samples.extend(batch)
        if _done(samples, settings, deadline, not_before):
            return samples, method


# ----------------------------------------------------------------------------------------------- CUDA

@functools.lru_cache(maxsize=1)
def sleep_cycles_per_ms() -> float:
    """Cycles of torch.cuda._sleep per millisecond of device time, measured once."""
    import torch

    cycles = 2_000_000
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(cycles)  # first call loads the kernel
    start.record()
    torch.cuda._sleep(cycles)
    end.record()
    torch.cuda.synchronize()
    return cycles / max(start.elapsed_time(end), 1e-6)


def _capture_graph(fn: Callable[[], Any]):
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize()
    return graph


def wall_ms(fn: Callable[[], Any], calls: int = 3) -> list[float]:
    """Host-clock time of `calls` calls, each from its launch until the device has finished it: what a user waits,
    host overhead included (for a workload timed by its device time, to report beside it)."""
    import torch

    times = []
    torch.cuda.synchronize()
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def _event_time_ms(fn: Callable[[], Any], calls: int) -> float:
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / calls


def _profiled_samples(runs: tuple[Callable[[], Any], ...], boundary: Callable[[], Any], start_index: int, n: int,
                      boundary_name: str) -> tuple[list[float], dict[str, list[float]]] | None:
    """Per-call device time (ms) of n calls from the profiler's kernel records, and each kernel's share of each call
    (kernel_durations); each call follows a boundary kernel (the L2 flush, or a one-element fill). None when the
    records cannot be split into n calls."""
    def calls():
        for i in range(n):
            boundary()
            runs[(start_index + i) % len(runs)]()

    records = [(e.name, e.time_range.start, e.time_range.end) for e in _cuda_kernels(calls)]
    per_call = split_calls(records, boundary_name)
    samples = [busy_us([(start, end) for _, start, end in call]) / 1e3 for call in per_call]
    if len(samples) != n or any(x <= 0 for x in samples):
        return None
    return samples, kernel_durations(per_call)


def split_calls(records: list[tuple[str, float, float]], boundary_name: str) -> list[list[tuple[str, float, float]]]:
    """The (name, start, end) kernel records of a profiled batch cut into calls: a call is what follows a boundary
    kernel up to the next; records before the first boundary belong to no call."""
    per_call: list[list[tuple[str, float, float]]] = []
    for name, start, end in records:
        if name == boundary_name:
            per_call.append([])
        elif per_call:
            per_call[-1].append((name, start, end))
    return per_call


MAX_NAMED_KERNELS = 8  # a call of more distinct kernels (a model generation launches thousands) keeps no breakdown


def kernel_name(name: str) -> str:
    """A kernel's name without its parameter list (a cuDNN kernel's runs to hundreds of characters)."""
    return name.split("(", 1)[0].strip()


def kernel_durations(per_call: list[list[tuple[str, float, float]]]) -> dict[str, list[float]]:
    """Each kernel's share of each call's device time (ms), by name: the part of its interval that no kernel started
    before it covers (a kernel launched twice in one call: the sum), so the shares add up to the call's time (busy_us)
    and a dependent kernel launched early to wait counts only what it runs past its predecessor. In the order the
    first call launched them; {} when a call runs more than MAX_NAMED_KERNELS distinct kernels or the calls do not all
    run the same ones."""
    out: dict[str, list[float]] = {}
    names = [dict.fromkeys(kernel_name(n) for n, _, _ in call) for call in per_call]
    if not per_call or len(names[0]) > MAX_NAMED_KERNELS or any(n.keys() != names[0].keys() for n in names):
        return {}
    for call in per_call:
        shares = dict.fromkeys(names[0], 0.0)
        ordered = sorted(call, key=lambda k: (k[1], k[2]))
        for (name, _, _), span in zip(ordered, uncovered([(start, end) for _, start, end in ordered])):
            shares[kernel_name(name)] += span / 1e3
        for name, t in shares.items():
            out.setdefault(name, []).append(t)
    return out


def busy_us(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of a call's kernels ran: the length of the union of their (start, end) intervals, in
    the intervals' unit. Kernels in stream order do not overlap, and then this is the sum of their durations; a
    kernel launched early to overlap its predecessor's tail (programmatic dependent launch) is not counted twice."""
    return sum(uncovered(sorted(intervals)))


def uncovered(intervals: list[tuple[float, float]]) -> list[float]:
    """For (start, end) intervals in start order: the length of each that none before it covers (0 for one inside
    an earlier one). Their sum is the length of the union."""
    spans, reach = [], -math.inf
    for start, end in intervals:
        spans.append(max(0.0, end - max(start, reach)))
        reach = max(reach, end)
    return spans


def kernel_names(fn: Callable[[], Any]) -> tuple[str, ...]:
    """The distinct device kernels one call of `fn` launches, in launch order, as the CUDA profiler names them
    (a cuBLAS GEMM's name carries its tile, e.g. ..._128x256x64_...)."""
    return tuple(dict.fromkeys(e.name for e in _cuda_kernels(fn)))


def _cuda_kernels(work: Callable[[], Any]) -> list:
    """The device kernels the profiler records while `work` runs (and the GPU finishes it), in launch order."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        work()
        torch.cuda.synchronize()
    return sorted((e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA),
                  key=lambda e: e.time_range.start)


@functools.lru_cache(maxsize=4)
def _fill_kernel_name(nbytes: int) -> str | None:
    """The name the profiler gives the kernel of Tensor.zero_ on `nbytes` bytes (the boundary between profiled
    calls: the L2 flush, or a one-byte marker)."""
    import torch

    probe = torch.empty(nbytes, dtype=torch.int8, device="cuda")
    probe.zero_()
    names = {e.name for e in _cuda_kernels(probe.zero_)}
    return names.pop() if len(names) == 1 else None


def _measure_cuda(prepared: Prepared, settings: TimingSettings, cold_l2: bool, l2_bytes: int) -> Samples:
    import torch

    notes: list[str] = []
    torch.cuda.synchronize()
    calls = _warm_up(prepared.fn, settings.warmup_ms, sync=torch.cuda.synchronize, long_from_ms=settings.long_from_ms)
    for extra in prepared.rotations:
        extra()
    estimate_ms = _event_time_ms(prepared.fn, 1)
    if estimate_ms < settings.long_from_ms:  # short: the mean of three calls, as before long calls were told apart
        estimate_ms = _event_time_ms(prepared.fn, 3)
    kernels: tuple[str, ...] = ()
    if estimate_ms >= settings.long_from_ms:
        notes.append(f"kernel names not recorded: one call takes {estimate_ms:.0f} ms (a workload, not a kernel)")
    else:
        try:
            kernels = kernel_names(prepared.fn)  # one profiled call after warm-up: what cuBLAS chose, for the record
        except Exception as exc:  # the profiler is optional: its absence costs only the names
            notes.append(f"kernel names not recorded ({type(exc).__name__}: {exc})")

    flush = None
    if cold_l2 and not prepared.rotations:
        flush = torch.empty(max(2 * l2_bytes, 64 * 2**20), dtype=torch.int8, device="cuda")
    elif not cold_l2:
        notes.append("warm L2 (the benchmark asks for it)")

    method = settings.method
    if method == "auto":
        method = "cupti" if estimate_ms < settings.short_below_ms else "events"
    runs: tuple[Callable[[], Any], ...] = prepared.rotations or (prepared.fn,)
    marker = torch.empty(1, dtype=torch.int8, device="cuda")
    boundary = flush.zero_ if flush is not None else marker.zero_
    boundary_name = _fill_kernel_name((flush if flush is not None else marker).numel()) if method == "cupti" else None
    if method == "cupti" and boundary_name is None:
        notes.append("profiler unavailable; timed a CUDA graph with events")
        method = "graph"
    if method == "graph":
        if prepared.rotations:
            method = "events"
        else:
            try:
                graph = _capture_graph(prepared.fn)
                runs = (graph.replay,)
                graph.replay()
            except Exception as exc:  # capture is refused by some closures (host syncs, allocations)
                notes.append(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); timed with events")
                torch.cuda.synchronize()
                method = "events"

    per_batch = events_per_batch(estimate_ms, settings)
    cycles_per_ms = sleep_cycles_per_ms()
    spin = {"ms": 2.0}  # grows to cover the host's enqueue time of one batch
    position = {"index": 0}

    per_kernel: dict[str, list[float]] = {}
    breakdown = {"whole": True}  # every batch ran the same kernels (else the breakdown is dropped)

    def profiler_batch() -> list[float] | None:
        found = _profiled_samples(runs, boundary, position["index"], profiled_per_batch(estimate_ms, settings),
                                  boundary_name)
        if found is None:
            return None
        batch, durations = found
        position["index"] += len(batch)
        if not durations or (per_kernel and durations.keys() != per_kernel.keys()):
            breakdown["whole"] = False
        for name, times in durations.items():
            per_kernel.setdefault(name, []).extend(times)
        return batch

    def events_batch() -> list[float]:
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(per_batch)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(per_batch)]
        torch.cuda._sleep(int(spin["ms"] * cycles_per_ms))
        t_enqueue = time.perf_counter()
        for start, end in zip(starts, ends):
            if flush is not None:
                flush.zero_()
            start.record()
            runs[position["index"] % len(runs)]()
            end.record()
            position["index"] += 1
        enqueue_ms = (time.perf_counter() - t_enqueue) * 1e3
        torch.cuda.synchronize()
        spin["ms"] = min(max(spin["ms"], 1.5 * enqueue_ms), 100.0)
        return [start.elapsed_time(end) for start, end in zip(starts, ends)]

    clocks_before = clocks.read()
    samples, method = collect({"cupti": profiler_batch, "events": events_batch, "graph": events_batch},
                              method, settings, notes)
    clocks_after = clocks.read()
    readings = [c for c in (clocks_before, clocks_after) if c is not None]
    if not readings:
        notes.append("clocks not read: NVML unavailable")
    return Samples(
        tuple(samples),
        METHOD_LABELS[method],
        cold_l2=flush is not None or bool(prepared.rotations),
        warmup_calls=calls,
        clocks_before=clocks_before.to_dict() if clocks_before else None,
        clocks_after=clocks_after.to_dict() if clocks_after else None,
        throttled=any(c.throttled for c in readings),
        notes=tuple(notes),
        kernels=kernels,
        kernel_ms={name: statistics.median(times) for name, times in per_kernel.items()}
        if method == "cupti" and breakdown["whole"] and len(per_kernel) > 1 else {},
    )
