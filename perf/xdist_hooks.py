"""The suite under pytest-xdist (`-n N`, `-n auto`): one worker per GPU.

The controller checks the worker count against the visible GPUs, hands each worker a GPU (by UUID, from the
CUDA_VISIBLE_DEVICES list it was given) and merges what the workers send: every result record rides on its test
report; at its end a worker sends its target, environment, ceilings (measured by the first worker alone) and
placement. A worker pins itself to its GPU before CUDA initialises, runs the benchmarks longest first (expected
time from the baseline), holds its GPU's lock while it runs a test (so that a sibling worker re-measuring a
regression there waits for it: perf/measure/gpu_locks.py) and writes no file: the results file, the report, the step
summary and a refreshed baseline are written by the controller alone, in perf/plugin.py's session finish, as in a run
without workers. The controller also makes the folder of the GPUs' lock files, and removes it at the end.

The paper's claims read the whole run's measurements, which no worker holds: every worker deselects the claim items
and names them to the controller (`state.deferred_claims`), whose session finish in perf/plugin.py decides them from
the merged records before it writes anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import zlib
from pathlib import Path

import pytest

from perf.gpus import GpuSpec
from perf.measure import workers
from perf.measure.gpu_locks import GpuLocks
from perf.measure.target import Target
from perf.verdict.roofline import Ceilings

RECORDS = "perf_records"  # test-report attribute: the JSON list of result records a test produced on a worker


def is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config) -> bool:
    return not is_worker(config) and getattr(config.option, "dist", "no") != "no"


CEILINGS_WORKER = "gw0"


def measures_ceilings(worker_id: str | None) -> bool:
    """Does this process measure the GPU's ceilings (a large matmul per dtype and a large copy, 10-15 s)? A run
    without workers does; with workers only the first, and the controller places every record under its ceilings
    at the end (the other workers' records carry the spec's until then)."""
    return worker_id is None or worker_id == CEILINGS_WORKER


def register(config, state) -> None:
    """Give the session its role: a controller checks the worker count now (a usage error before any worker
    starts); a worker pins itself to its GPU now, before anything initialises CUDA."""
    if is_worker(config):
        worker = Worker(state, config.workerinput)
        worker.pin()
        config.pluginmanager.register(worker, "perf-xdist-worker")
    elif is_controller(config):
        if config.option.dist == "each":
            raise workers.WorkerError("--dist each: every worker would measure every benchmark, and the results file "
                                      "would hold each several times; use the default, --dist load")
        specs = list(config.option.tx or ())
        remote = [spec for spec in specs if not spec.startswith("popen")]
        if remote:
            raise workers.WorkerError(f"--tx {remote[0]}: one worker per GPU starts its workers on this host (popen), "
                                      f"where it sees the GPUs; use -n N or -n auto")
        if config.option.dist == "load" and getattr(config.option, "maxschedchunk", 0) is None:
            # xdist's load scheduling hands each worker a first chunk of consecutive items (a quarter of its share):
            # the longest items, which the workers order first, would all land on one worker (seen on an H200: the
            # six model tests, 110 s, on gw3, while the others waited). One item at a time keeps the order greedy.
            config.option.maxschedchunk = 1
        gpus = workers.visible_gpus()
        count = len(specs)
        workers.check_workers(count, gpus, workers.usable_cores(), os.environ)
        config.pluginmanager.register(Controller(state, gpus[:count] if gpus else [None] * count),
                                      "perf-xdist-controller")


def expected_order(items, expected_s) -> list:
    """Items longest first by expected time: `expected_s(item)` for a timing benchmark (None where unknown: the
    median of the known ones), the `perf_expected_s(seconds)` marker where an item has one (the model tests: tens
    of seconds each, which at the end of the queue would keep one worker busy while the others wait); then the
    items with neither, in collection order. Handed out by xdist's `load` scheduling in this order, this is greedy
    longest-processing-time list scheduling."""
    def seconds(item) -> float | None:
        marker = item.get_closest_marker("perf_expected_s")
        if marker is not None:
            return float(marker.args[0])
        return expected_s(item) if id(item) in timed else None

    timed = {id(item) for item in items if "perf_measure" in getattr(item, "fixturenames", ())}
    times = {id(item): seconds(item) for item in items}
    known = [t for t in times.values() if t is not None]
    fill = statistics.median(known) if known else 0.0
    ranked = {id(item) for item in items if id(item) in timed or times[id(item)] is not None}
    return sorted(items, key=lambda item: (id(item) not in ranked,
                                           -(times[id(item)] if times[id(item)] is not None else fill)))


class Worker:
    """Hooks of one xdist worker."""

    def __init__(self, state, workerinput: dict):
        self.state = state
        self.worker_id = workerinput["workerid"]
        self.gpu = workerinput.get("perf_gpu")  # the CUDA_VISIBLE_DEVICES entry (a UUID); None on the CPU device
        self.sent = 0
        self.claims: list[str] = []  # ids of the claim items deselected here, for the controller to decide
        state.worker_id = self.worker_id
        folder, run_gpus = workerinput.get("perf_gpu_locks"), workerinput.get("perf_gpus") or []
        if self.gpu is not None and folder and len(run_gpus) > 1:  # siblings to re-measure on (perf.measure.gpu_locks)
            state.gpu_locks = GpuLocks(Path(folder), self.gpu, run_gpus)

    def pin(self) -> None:
        if self.gpu is not None:
            workers.pin(os.environ, self.gpu)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_collection_modifyitems(self, session, config, items):
        yield  # after the plugin's own pass (timing stopped, baseline validated)
        claim_items = [item for item in items if item.get_closest_marker("claims") is not None]
        if claim_items:  # every worker collects the same items and deselects the same ones
            self.claims = [item.callspec.params["perf_claim"].id for item in claim_items]
            items[:] = [item for item in items if item.get_closest_marker("claims") is None]
            config.hook.pytest_deselected(items=claim_items)
        if self.state.timing_blocked or not self.state.timing_items:
            return
        items[:] = expected_order(items, self.state.expected_seconds)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """A test runs while this worker holds its GPU, so that no other worker re-measures there meanwhile."""
        locks = self.state.gpu_locks
        if locks is None:
            yield
            return
        with locks.own():
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        report.user_properties = plain_properties(report.user_properties)
        new = self.state.results[self.sent:]
        if new:
            setattr(report, RECORDS, json.dumps(new, default=str))
            self.sent = len(self.state.results)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session):
        state = self.state
        out: dict = {"placement": workers.placement(self.worker_id), "timing_blocked": state.timing_blocked,
                     "claims": self.claims}
        if "target" in state.__dict__:
            out["target"] = {"gpu": dataclasses.asdict(state.target.gpu),
                             "present": dataclasses.asdict(state.target.present)}
        if state.results:
            out["environment"] = state.environment
            out["ceilings"] = [dataclasses.asdict(c) for c in state.ceilings]
        session.config.workeroutput["perf"] = json.dumps(out, default=str)


def plain_properties(properties) -> list[tuple[str, object]]:
    """A report's user properties as plain JSON values: xdist sends them with execnet, which refuses str
    subclasses such as torch's TorchVersion (seen on an H200: the whole -n 4 run stopped with a DumpError)."""
    return [(name, json.loads(json.dumps(value, default=str))) for name, value in properties]


def _gpu_spec(data: dict) -> GpuSpec:
    return GpuSpec(**{**data, "aliases": tuple(data["aliases"]), "device_names": tuple(data["device_names"])})


class Controller:
    """Hooks of the xdist controller: GPU slots, and the merge of what the workers send."""

    def __init__(self, state, gpus: list):
        self.state = state
        self.gpus = gpus  # per slot: a workers.PhysicalGpu, or None on the CPU device
        self.free: list[int] | None = None  # slots not taken, from the first configure_node on
        self.slots: dict[str, int] = {}
        self.outputs: dict[str, dict] = {}
        self.lock_folder: str | None = None  # the GPUs' lock files (perf.measure.gpu_locks), made with the first worker

    @pytest.hookimpl
    def pytest_configure_node(self, node):
        if self.free is None:
            # Hand the GPUs out from a place that changes every run (xdist's run id): the benchmarks a worker is
            # handed first then land on another sibling in each run of a refresh, and the between-run sigma of the
            # baseline holds the siblings' spread.
            start = zlib.crc32(str(node.workerinput["testrunuid"]).encode()) % len(self.gpus)
            self.free = [(start + i) % len(self.gpus) for i in range(len(self.gpus))]
        slot = self.free.pop(0)
        worker_id = node.gateway.id
        self.slots[worker_id] = slot
        gpu = self.gpus[slot]
        node.workerinput["perf_gpu"] = gpu.uuid if gpu is not None else None
        run_gpus = [g.uuid for g in self.gpus if g is not None]
        if len(run_gpus) > 1:
            if self.lock_folder is None:
                self.lock_folder = tempfile.mkdtemp(prefix="perf-gpu-locks-")
            node.workerinput["perf_gpus"] = run_gpus
            node.workerinput["perf_gpu_locks"] = self.lock_folder
        reporter = node.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"perf: {worker_id} measures on " + (gpu.label() if gpu else "the CPU device"))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        if self.lock_folder is not None:
            shutil.rmtree(self.lock_folder, ignore_errors=True)

    @pytest.hookimpl
    def pytest_testnodedown(self, node, error):
        worker_id = node.gateway.id
        if worker_id in self.slots:
            self.free.append(self.slots.pop(worker_id))
        text = (getattr(node, "workeroutput", None) or {}).get("perf")
        if text:
            self.outputs[worker_id] = json.loads(text)
            self._adopt()

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        text = getattr(report, RECORDS, None)
        if text:
            self.state.results.extend(json.loads(text))
        if report.when == "teardown":
            for name, value in report.user_properties:
                if str(name).startswith("perf_"):
                    self.state.extras.setdefault(str(name), []).append(value)

    def _adopt(self) -> None:
        """The session's target and environment are those of the lowest-numbered worker that measured, its ceilings
        those of the worker that measured them (gw0), so that the controller never touches a GPU; every worker's
        placement goes to the results file."""
        state = self.state
        ordered = [self.outputs[w] for w in sorted(self.outputs, key=lambda w: (len(w), w))]
        state.deferred_claims = next((o["claims"] for o in ordered if o.get("claims")), [])
        blocked = next((o["timing_blocked"] for o in ordered if o.get("timing_blocked")), None)
        if blocked:
            state.timing_blocked = blocked
        with_target = next((o for o in ordered if "target" in o), None)
        if with_target:
            t = with_target["target"]
            state.target = Target(gpu=_gpu_spec(t["gpu"]), present=_gpu_spec(t["present"]),
                                  dtype=state.options.dtype, sweep=state.options.sweep)
        measured = next((o for o in ordered if "environment" in o), None)
        if measured:
            state.environment = measured["environment"]
            with_ceilings = next((o for o in ordered if any(c.get("source") == "measured" for c in o.get("ceilings", ()))),
                                 measured)
            state.ceilings = [Ceilings(**c) for c in with_ceilings["ceilings"]]
        state.workers = [{**o["placement"], **({"ceilings": o["ceilings"]} if "ceilings" in o else {})}
                         for o in ordered]
