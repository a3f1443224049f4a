"""The sibling check: a regression confirmed on one GPU of a run with workers on several is measured once more on a
sibling GPU. The GPUs' locks (real flocks, across real processes), the verdict over the two GPUs, the controller
and worker wiring, the injection scoped to one GPU that proves the check on a GPU host, and the plugin's choice of
when to check."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from perf.measure import workers
from perf.measure.gpu_locks import GpuLocks
from perf.options import Injection, OptionError, _injection
from perf.verdict import stats
from perf.verdict.stats import Comparison, Verdict

GPUS = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]


def test_each_gpus_sibling_is_the_next_in_the_runs_order():
    assert [GpuLocks(Path("."), g, GPUS).sibling() for g in GPUS] == ["GPU-bbbb", "GPU-cccc", "GPU-aaaa"]
    assert GpuLocks(Path("."), "GPU-aaaa", ["GPU-aaaa"]).sibling() is None
    assert GpuLocks(Path("."), "GPU-zzzz", GPUS).sibling() is None  # not one of the run's


def _hold_own(folder, gpu, log, seconds):
    locks = GpuLocks(Path(folder), gpu, GPUS[:2])
    with locks.own():
        _log(log, "own-start", gpu)
        time.sleep(seconds)
        _log(log, "own-end", gpu)


def _own_then_borrow(folder, gpu, log, pause):
    """A worker's test: its own GPU, then a re-measure on the sibling, then its own again."""
    locks = GpuLocks(Path(folder), gpu, GPUS[:2])
    with locks.own():
        _log(log, "own-start", gpu)
        time.sleep(pause)
        _log(log, "own-pause", gpu)  # still held here: borrow lets it go
        with locks.borrow(locks.sibling()):
            _log(log, "borrow-start", locks.sibling())
            time.sleep(pause)
            _log(log, "borrow-end", locks.sibling())
        _log(log, "own-again", gpu)
        time.sleep(pause)
        _log(log, "own-end", gpu)


def _log(path, event, gpu):
    with open(path, "a") as f:
        f.write(f"{time.monotonic():.6f} {event} {gpu}\n")


def _events(path):
    return [(float(t), event, gpu) for t, event, gpu in (line.split() for line in Path(path).read_text().splitlines())]


def _run(*targets, timeout=20):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=t, args=a) for t, a in targets]
    for p in procs:
        p.start()
        time.sleep(0.05)
    for p in procs:
        p.join(timeout)
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
    assert not alive, "a worker still waits for a lock: deadlock"
    assert all(p.exitcode == 0 for p in procs)


def _busy_intervals(events, gpu):
    """When someone measured on `gpu`: its own worker (before and after its borrow) and the sibling's borrow."""
    ends = {"own-pause": "own-start", "own-end": "own-again", "borrow-end": "borrow-start"}
    out, start = [], {}
    for t, event, g in events:
        if g != gpu:
            continue
        if event in ends:
            out.append((start.pop(ends[event]), t))
        else:
            start[event] = t
    return out


def test_a_borrower_waits_until_the_gpus_own_worker_is_between_tests(tmp_path):
    log = tmp_path / "log"
    _run((_hold_own, (str(tmp_path), "GPU-bbbb", str(log), 0.6)),  # GPU b's worker runs a test
         (_own_then_borrow, (str(tmp_path), "GPU-aaaa", str(log), 0.1)))  # GPU a's wants b meanwhile
    events = _events(log)
    b_end = next(t for t, e, g in events if e == "own-end" and g == "GPU-bbbb")
    b_borrowed = next(t for t, e, g in events if e == "borrow-start" and g == "GPU-bbbb")
    assert b_borrowed >= b_end  # never two processes measuring on GPU b at once


def test_two_workers_borrowing_each_others_gpu_at_once_do_not_deadlock(tmp_path):
    log = tmp_path / "log"
    _run((_own_then_borrow, (str(tmp_path), "GPU-aaaa", str(log), 0.2)),
         (_own_then_borrow, (str(tmp_path), "GPU-bbbb", str(log), 0.2)))
    events = _events(log)
    assert sum(e == "borrow-end" for _, e, _ in events) == 2
    for gpu in GPUS[:2]:
        spans = sorted(_busy_intervals(events, gpu))
        assert len(spans) == 3  # its worker before and after the borrow, and the sibling's borrow
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"two measurements at once on {gpu}: {spans}"


def _comparison(verdict, change, throttled=False, reason="r"):
    return Comparison(verdict=verdict, change=change, noise=0.002, threshold=0.03, reason=reason, throttled=throttled)


CONFIRMED = _comparison(Verdict.REGRESSION, 0.107, reason="slower beyond threshold and noise, confirmed by an "
                                                          "independent re-measure (+10.7%, then +10.6%)")


def test_a_regression_the_sibling_shows_too_stands():
    got = stats.on_sibling(CONFIRMED, _comparison(Verdict.REGRESSION, 0.104), "GPU 0", "GPU 1")
    assert got.verdict is Verdict.REGRESSION and "and on its sibling GPU 1 (+10.4%)" in got.reason


def test_a_regression_on_one_gpu_only_is_unreliable_and_names_the_gpu():
    got = stats.on_sibling(CONFIRMED, _comparison(Verdict.PASS, 0.003), "GPU 0", "GPU 1")
    assert got.verdict is Verdict.UNRELIABLE
    assert "slower on GPU 0 only (+10.7%" in got.reason and "+0.3% on its sibling GPU 1" in got.reason
    assert got.change == pytest.approx(0.107)  # the record keeps the change measured where it was confirmed


def test_a_throttled_or_noisy_sibling_decides_nothing():
    got = stats.on_sibling(CONFIRMED, _comparison(Verdict.PASS, 0.0, throttled=True), "GPU 0", "GPU 1")
    assert got.verdict is Verdict.REGRESSION and "throttled" in got.reason
    got = stats.on_sibling(CONFIRMED, _comparison(Verdict.UNRELIABLE, 0.01), "GPU 0", "GPU 1")
    assert got.verdict is Verdict.REGRESSION and "too noisy (+1.0%) and could not say" in got.reason
    faster = stats.on_sibling(CONFIRMED, _comparison(Verdict.IMPROVEMENT, -0.06), "GPU 0", "GPU 1")
    assert faster.verdict is Verdict.UNRELIABLE and "-6.0% on its sibling GPU 1" in faster.reason
    with pytest.raises(ValueError):
        stats.on_sibling(_comparison(Verdict.PASS, 0.0), CONFIRMED, "GPU 0", "GPU 1")


def test_an_injection_can_be_scoped_to_one_gpu():
    gpu0 = workers.PhysicalGpu(0, "GPU-3a9e8a1b-1", "NVIDIA H200")
    gpu1 = workers.PhysicalGpu(1, "GPU-41d1", "NVIDIA H200")
    assert _injection("0.05", "x") == Injection(0.05, None)
    assert _injection("0.05@0", "x") == Injection(0.05, "0")
    everywhere, on_index, on_uuid = Injection(0.05), Injection(0.05, "0"), Injection(0.05, "GPU-3a9e")
    assert everywhere.applies_on(gpu1) and everywhere.applies_on(None)
    assert on_index.applies_on(gpu0) and not on_index.applies_on(gpu1) and not on_index.applies_on(None)
    assert on_uuid.applies_on(gpu0) and not on_uuid.applies_on(gpu1)
    assert on_index.to_text() == "0.05@0" and everywhere.to_text() == "0.05"
    with pytest.raises(OptionError, match=r"@first: expected a GPU index such as @0"):
        _injection("0.05@first", "--perf-inject-slowdown k")


def test_a_scoped_injection_reaches_a_re_measure_process_as_given():
    from perf.options import PerfOptions, to_args

    options = PerfOptions(gpu=None, baseline_dir=None, injections={"decode/*": Injection(0.05, "0")})
    args = to_args(options)
    assert args[args.index("--perf-inject-slowdown") + 1] == "decode/*=0.05@0"
    assert options.injection_for("decode/x", workers.PhysicalGpu(0, "GPU-a", "H")) == 0.05
    assert options.injection_for("decode/x", workers.PhysicalGpu(1, "GPU-b", "H")) is None


def test_the_controller_hands_every_worker_the_runs_gpus_and_one_lock_folder(tmp_path):
    from perf.xdist_hooks import Controller, Worker

    gpus = [workers.PhysicalGpu(i, uuid, "NVIDIA H200") for i, uuid in enumerate(GPUS[:2])]
    controller = Controller(SimpleNamespace(), gpus)
    nodes = [SimpleNamespace(workerinput={"testrunuid": "run", "workerid": f"gw{i}"},
                             gateway=SimpleNamespace(id=f"gw{i}"),
                             config=SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=lambda name: None)))
             for i in range(2)]
    for node in nodes:
        controller.pytest_configure_node(node)
    inputs = [node.workerinput for node in nodes]
    assert {i["perf_gpu"] for i in inputs} == set(GPUS[:2])
    assert all(i["perf_gpus"] == GPUS[:2] and i["perf_gpu_locks"] == controller.lock_folder for i in inputs)
    assert Path(controller.lock_folder).is_dir()
    state = SimpleNamespace(gpu_locks=None)
    Worker(state, inputs[0])
    assert state.gpu_locks.sibling() == next(g for g in GPUS[:2] if g != inputs[0]["perf_gpu"])
    controller.pytest_sessionfinish(None)
    assert not Path(inputs[0]["perf_gpu_locks"]).exists()
    # One GPU (or the CPU device): no siblings, no locks.
    single = Controller(SimpleNamespace(), gpus[:1])
    node = SimpleNamespace(**{**vars(nodes[0]), "workerinput": {"testrunuid": "r", "workerid": "gw0"}})
    single.pytest_configure_node(node)
    assert single.lock_folder is None and "perf_gpus" not in node.workerinput


@pytest.mark.parametrize("verdict,confirm,sibling_check,locks,gpu,expected", [
    (Verdict.REGRESSION, "process", True, True, True, "GPU-bbbb"),
    (Verdict.PASS, "process", True, True, True, None),  # nothing to confirm
    (Verdict.UNRELIABLE, "process", True, True, True, None),
    (Verdict.REGRESSION, "window", True, True, True, None),  # confirmed in one process: no fresh ones
    (Verdict.REGRESSION, "process", False, True, True, None),  # --perf-no-sibling
    (Verdict.REGRESSION, "process", True, False, True, None),  # no workers on several GPUs
    (Verdict.REGRESSION, "process", True, True, False, None),  # the CPU device
])
def test_the_plugin_measures_on_a_sibling_only_a_regression_confirmed_in_fresh_processes(
        monkeypatch, verdict, confirm, sibling_check, locks, gpu, expected):
    from perf.verdict import confirm as confirming

    monkeypatch.setattr(workers, "current_gpu", lambda: workers.PhysicalGpu(0, "GPU-aaaa", "H") if gpu else None)
    state = SimpleNamespace(options=SimpleNamespace(confirm=confirm, sibling_check=sibling_check),
                            gpu_locks=GpuLocks(Path("."), "GPU-aaaa", GPUS[:2]) if locks else None)
    assert confirming.sibling_for(state, _comparison(verdict, 0.1)) == expected


@pytest.mark.parametrize("gpu", [None, "GPU-bbbb"])
def test_a_re_measure_on_a_sibling_runs_in_a_process_that_sees_only_that_gpu(monkeypatch, tmp_path, gpu):
    import subprocess

    from perf.options import PerfOptions
    from perf.session import PerfSession
    from perf.verdict import confirm

    seen = {}

    def run(args, **kwargs):
        seen.update(args=args, env=kwargs.get("env"))
        return subprocess.CompletedProcess(args, 1, "", "stopped here")

    monkeypatch.setattr(confirm.subprocess, "run", run)
    monkeypatch.setenv(workers.VISIBLE, "GPU-aaaa")  # the worker's own, pinned
    session = SimpleNamespace(options=PerfOptions(gpu=None, baseline_dir=None), baseline_dir=tmp_path,
                              config=SimpleNamespace(rootpath=tmp_path))
    session.remeasure_command = lambda node: PerfSession.remeasure_command(session, node)
    with pytest.raises(RuntimeError, match="the re-measure in a fresh process failed"):
        PerfSession.fresh_process_samples(session, SimpleNamespace(nodeid="t.py::b"), gpu=gpu)
    assert seen["args"][seen["args"].index("-n") + 1] == "0"
    if gpu is None:
        assert seen["env"] is None  # inherits the worker's CUDA_VISIBLE_DEVICES: its own GPU
    else:
        assert seen["env"][workers.VISIBLE] == "GPU-bbbb"

