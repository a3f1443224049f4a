"""One pytest-xdist worker per GPU: which GPUs a worker may take, the usage errors, the order workers are handed
benchmarks in, the per-GPU table, and the merge through the controller on the CPU device (`-n 2`)."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import forked
from baseline_files import scaled_entry
from perf.measure import workers
from perf.measure.workers import PhysicalGpu, WorkerError
from perf.report import per_gpu
from perf.xdist_hooks import expected_order

ROOT = Path(__file__).resolve().parents[1]
SUITE = str(ROOT / "perf" / "suite")
QKV = "gemm/pythia-70m:qkv:fp32:b1:s64:t1"
OUT_PROJ = "gemm/pythia-70m:out_proj:fp32:b1:s64:t1"
SELECT = ["--model", "pythia-70m", "-k", "test_gemm and (qkv or out_proj)", "--perf-max-time", "0.2", "-p",
          "no:cacheprovider"]

H200 = [PhysicalGpu(i, f"GPU-{i}a{i}b-0000", "NVIDIA H200") for i in range(4)]
MIXED = [PhysicalGpu(0, "GPU-0a", "NVIDIA H100 80GB HBM3"), PhysicalGpu(1, "GPU-1b", "NVIDIA H200")]


# ------------------------------------------------------------------------------------------------ pure parts

def test_visible_gpus_follow_cuda_visible_devices():
    assert workers.resolve_visible(None, H200) == H200
    assert workers.resolve_visible(workers.visible_entries({"CUDA_VISIBLE_DEVICES": "3,1"}), H200) == [H200[3], H200[1]]
    by_uuid = workers.visible_entries({"CUDA_VISIBLE_DEVICES": "GPU-2a2b,GPU-0a0b-0000"})
    assert workers.resolve_visible(by_uuid, H200) == [H200[2], H200[0]]
    assert workers.resolve_visible(workers.visible_entries({"CUDA_VISIBLE_DEVICES": "2,-1,3"}), H200) == [H200[2]]
    assert workers.resolve_visible(workers.visible_entries({"CUDA_VISIBLE_DEVICES": ""}), H200) == []


@pytest.mark.parametrize("value, message", [
    ("0,7", "entry '7': expected one of this host's GPUs, 0 (GPU-0a0b-0000)"),
    ("MIG-1234", "entry 'MIG-1234': expected a GPU index or a GPU-UUID"),
    ("GPU-", "entry 'GPU-': expected one of this host's GPUs"),  # a prefix of every UUID: ambiguous
])
def test_visible_entries_that_name_no_single_gpu_are_refused(value, message):
    with pytest.raises(WorkerError, match="CUDA_VISIBLE_DEVICES: ") as err:
        workers.resolve_visible(workers.visible_entries({"CUDA_VISIBLE_DEVICES": value}), H200)
    assert message in str(err.value)


def test_auto_means_the_visible_gpus_and_on_the_cpu_half_the_cores():
    assert workers.auto_workers(H200, cores=64) == 4
    assert workers.auto_workers(H200[:2], cores=64) == 2
    assert workers.auto_workers([], cores=16) == 8
    assert workers.auto_workers([], cores=1) == 1


def test_more_workers_than_gpus_names_the_gpus():
    workers.check_workers(4, H200, cores=2, environ={})
    with pytest.raises(WorkerError) as err:
        workers.check_workers(3, H200[:2], cores=64, environ={"CUDA_VISIBLE_DEVICES": "0,1"})
    text = str(err.value)
    assert text.startswith("-n 3: 3 workers but 2 visible GPUs (CUDA_VISIBLE_DEVICES=0,1)")
    assert "GPU 0 NVIDIA H200 (GPU-0a0b-0000); GPU 1 NVIDIA H200 (GPU-1a1b-0000)" in text and "use -n 2" in text


def test_gpus_of_different_kinds_are_refused_naming_them():
    workers.check_workers(1, MIXED, cores=64, environ={})  # one worker takes the first GPU: one kind
    with pytest.raises(WorkerError) as err:
        workers.check_workers(2, MIXED, cores=64, environ={})
    assert "different kinds (NVIDIA H100 80GB HBM3, NVIDIA H200)" in str(err.value)
    assert "GPU 1 NVIDIA H200 (GPU-1b)" in str(err.value)


def test_on_the_cpu_device_workers_are_bounded_by_the_cores():
    workers.check_workers(2, [], cores=2, environ={})
    with pytest.raises(WorkerError, match=r"-n 3: no GPU visible, and 3 workers .* 2 usable cores: use at most -n 2"):
        workers.check_workers(3, [], cores=2, environ={})


def test_pin_leaves_the_worker_one_gpu_and_its_children_inherit_it():
    environ = {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert workers.pin(environ, "GPU-3a3b-0000") == "GPU-3a3b-0000"
    assert environ["CUDA_VISIBLE_DEVICES"] == "GPU-3a3b-0000"
    code = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"
    child = subprocess.run([sys.executable, "-c", code], env={**os.environ, **environ}, capture_output=True, text=True)
    assert child.stdout.strip() == "GPU-3a3b-0000"


def test_placement_without_workers_is_the_main_process_and_no_gpu_on_the_cpu():
    p = workers.placement(None)
    assert p["worker"] == "main" and p["gpu_index"] is None and p["gpu_uuid"] is None and p["host"]


def test_expected_seconds_lies_within_the_sampling_floor_and_cap():
    assert workers.expected_seconds(0.01, 300, 0.2, 2.0) == 0.2
    assert workers.expected_seconds(5.0, 100, 0.2, 2.0) == 0.5
    assert workers.expected_seconds(50.0, 300, 0.2, 2.0) == 2.0


@dataclass
class Item:
    name: str
    fixturenames: tuple = ("perf_measure", "perf_spec")
    expected: float | None = None  # the perf_expected_s marker's seconds

    def get_closest_marker(self, name):
        return pytest.mark.perf_expected_s(self.expected).mark if name == "perf_expected_s" and self.expected else None


def test_workers_are_handed_the_longest_benchmarks_first():
    items = [Item("short"), Item("rule", ("perf_target",)), Item("unknown"), Item("long"), Item("mid"),
             Item("model", ("perf_target",), expected=12.0), Item("generate", expected=15.0)]
    seconds = {"short": 0.2, "long": 2.0, "mid": 0.5, "unknown": None, "rule": None, "model": None, "generate": None}
    order = [i.name for i in expected_order(items, lambda item: seconds[item.name])]
    # the marked model tests lead (a non-timing one too); unknown takes the median of the known (2.0 of 0.2, 0.5,
    # 2.0, 12, 15) and keeps its place before "long"; the rule check, unmarked and not timed, goes last
    assert order == ["generate", "model", "unknown", "long", "mid", "short", "rule"]


def _record(key, worker, gpu, change, verdict="pass", host="h1"):
    return {"key": key, "change": change, "verdict": verdict,
            "placement": {"worker": worker, "host": host, "gpu_index": gpu, "gpu_uuid": None if gpu is None
                          else f"GPU-{gpu}abcdefabcdef"}}


def test_per_gpu_table_shows_a_slower_sibling():
    records = [_record("a", "gw0", 0, 0.001), _record("b", "gw0", 0, -0.004), _record("c", "gw0", 0, 0.003),
               _record("a", "gw1", 2, 0.051), _record("b", "gw1", 2, 0.046, "regression"), _record("n", "gw1", 2, None)]
    rows = per_gpu.rows(records)
    assert [r[:6] for r in rows] == [("GPU 0", "GPU-0abcdefa", "gw0", "3", "3", "+0.10%"),
                                    ("GPU 2", "GPU-2abcdefa", "gw1", "3", "2", "+4.85%")]
    assert rows[1][6:] == ("+5.1%", "1", "0")
    assert per_gpu.rows(records[:3]) == []  # one GPU: nothing to compare
    # A regression confirmed on GPU 2 that its sibling did not show: unreliable, counted as slow there only.
    cleared = {**_record("c", "gw1", 2, 0.083, "unreliable"),
               "sibling_check": {"gpu": "GPU 0 (GPU-0abcdefa)", "change": 0.002, "slow_here_only": True}}
    both = {**_record("d", "gw1", 2, 0.07, "regression"),
            "sibling_check": {"gpu": "GPU 0 (GPU-0abcdefa)", "change": 0.069, "slow_here_only": False}}
    rows = per_gpu.rows([*records, cleared, both])
    assert [r[7:] for r in rows] == [("0", "0"), ("2", "1")]
    two_hosts = per_gpu.rows([_record("a", "gw0", 0, 0.0), _record("a", "gw0", 0, 0.0, host="h2")])
    assert [r[0] for r in two_hosts] == ["h1 GPU 0", "h2 GPU 0"]


# ------------------------------------------------------------------------------------------------ through xdist

def refresh(tmp_path, *args):
    return forked.run_perf(["refresh", "--baseline-dir", str(tmp_path / "bl"), *SELECT, *args], cwd=ROOT, timeout=600)


@pytest.mark.perf_expected_s(60)
def test_two_workers_merge_through_the_controller(pytester, tmp_path, monkeypatch):
    done = refresh(tmp_path, "--runs", "1", "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refreshed 2 entries" in done.stdout
    path = tmp_path / "bl" / "cpu.json"
    assert sorted(json.loads(path.read_text())["entries"]) == sorted([OUT_PROJ, QKV])
    assert sorted(p.name for p in path.parent.iterdir()) == [".cpu.json.lock", "cpu.json"]  # one file and the writers' lock, no worker's leftovers

    # QKV's entry of this temporary baseline says it ran 4x faster: now it reads as a 300% regression (an injected
    # slowdown would do too, but its extra work is too noisy on a loaded 2-core machine with two workers).
    data = json.loads(path.read_text())
    data["entries"][QKV] = scaled_entry(data["entries"][QKV], 0.25)
    path.write_text(json.dumps(data))
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    out = tmp_path / "run.json"
    run = forked.runpytest(pytester, SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "-n", "2",
                           "--perf-threshold", "1.0", "--perf-json", str(out),
                           "--perf-report", str(tmp_path / "report"))
    assert run.ret == 1, run.stdout.str()
    run.assert_outcomes(passed=1, failed=1)
    text = run.stdout.str()
    assert text.count("perf: 2 benchmarks on") == 1 and "perf: gw0 measures on the CPU device" in text
    assert f"{QKV}: regression:" in text and f"{OUT_PROJ}: regression" not in text

    doc = json.loads(out.read_text())
    records = {r["key"]: r for r in doc["results"]}
    assert len(doc["results"]) == 2 and set(records) == {QKV, OUT_PROJ}
    assert {r["placement"]["worker"] for r in doc["results"]} == {"gw0", "gw1"}
    assert all(r["placement"]["gpu_index"] is None and r["placement"]["host"] for r in doc["results"])
    assert [w["worker"] for w in doc["workers"]] == ["gw0", "gw1"] and doc["environment"]["gpu"] == "cpu"
    confirm = records[QKV]["measurements"]
    assert records[QKV]["verdict"] == "regression" and [m["where"] for m in confirm] == ["this process",
                                                                                       "fresh process"]
    assert doc["baseline_file"] == str(path)

    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "## Per GPU (2)" in summary and "gw0" in summary and "gw1" in summary
    assert step.read_text().count("# Performance report") == 1

    path.write_text(path.read_text().replace('"median_ms"', '"median"', 1))
    before = path.read_bytes()
    broken = forked.runpytest(pytester, SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "-n", "2")
    assert broken.ret == pytest.ExitCode.USAGE_ERROR
    assert "baseline file unusable" in broken.stdout.str() and str(path) in broken.stdout.str()
    assert path.read_bytes() == before


def test_more_workers_than_cores_on_the_cpu_is_a_usage_error(pytester, tmp_path):
    too_many = workers.usable_cores() + 1
    # in this process: the controller refuses before any worker starts
    run = pytester.runpytest_inprocess(SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "-n", str(too_many))
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert f"-n {too_many}: no GPU visible" in run.stderr.str() and "use at most" in run.stderr.str()
    each = pytester.runpytest_inprocess(SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "-n", "1",
                                         "--dist", "each")
    assert each.ret == pytest.ExitCode.USAGE_ERROR and "--dist each: every worker" in each.stderr.str()
    done = refresh(tmp_path, "-n", str(too_many))
    assert done.returncode == 2 and f"-n {too_many}: no GPU visible" in done.stderr
    assert not (tmp_path / "bl" / "cpu.json").exists()


# ------------------------------------------------------------------------------------------------ sibling GPUs

def _run_result(key, median):
    summary = {"median_ms": median, "ci_low_ms": median * 0.995, "ci_high_ms": median * 1.005, "q1_ms": median,
               "q3_ms": median, "min_ms": median * 0.99, "max_ms": median * 1.01, "n": 50}
    return {"key": key, "summary": summary, "dtype": "bf16", "method": "cuda-events", "samples_ms": [median] * 50,
            "flops": 1, "bytes": 1, "tflops": 1.0, "gbs": 1.0}


@pytest.mark.parametrize("gpus, verdict", [((1.000, 1.040), "pass"), ((1.000,), "regression")])
def test_a_baseline_taken_on_siblings_holds_on_the_slower_one(tmp_path, gpus, verdict):
    """Runs of a baseline on two siblings 4% apart: their spread is in the entry's between-run sigma, so the
    slower sibling's next measurement passes; the same runs on one GPU only would call it a regression."""
    from perf.measure.summary import Summary
    from perf.verdict import baselines, stats

    key = "gemm/x:qkv"
    runs = [[_run_result(key, speed * (1 + wobble))] for speed in gpus for wobble in (-0.002, 0.0, 0.002)]
    merged, _ = baselines.merge(baselines.load(tmp_path, "H200"), runs, {"gpu": "H200"})
    now = Summary.from_dict({**_run_result(key, 1.045)["summary"]})
    comparison = stats.compare(now, merged.reference(key), 0.03, method="cuda-events")
    assert comparison.verdict.value == verdict, comparison.reason


@pytest.mark.perf_expected_s(15)
def test_refresh_in_pytest_with_two_workers_writes_the_baseline_once_from_the_controller(pytester, tmp_path):
    run = forked.runpytest(pytester, SUITE, "--baseline-dir", str(tmp_path / "bl"), *SELECT, "-n", "2",
                           "--perf-refresh")
    assert run.ret == 0, run.stdout.str()
    text = run.stdout.str()
    assert text.count("perf: refreshed 2 entries") == 1
    path = tmp_path / "bl" / "cpu.json"
    data = json.loads(path.read_text())
    assert sorted(data["entries"]) == sorted([OUT_PROJ, QKV]) and len(data["environments"]) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [".cpu.json.lock", "cpu.json"]  # the file and the writers' lock


def test_user_properties_travel_to_the_controller_as_plain_json_values():
    import execnet.gateway_base as wire
    import torch

    from perf import xdist_hooks

    props = [("perf_model_invariance", {"torch": torch.__version__, "shape": (2, 3)})]
    with pytest.raises(wire.DumpError):  # what execnet makes of torch's version string as it is
        wire.dumps(props)
    plain = xdist_hooks.plain_properties(props)
    assert wire.loads(wire.dumps(plain)) == [("perf_model_invariance", {"torch": str(torch.__version__), "shape": [2, 3]})]


@pytest.mark.parametrize("given, expected", [(None, 1), (8, 8)])
def test_the_controller_hands_items_out_one_at_a_time_unless_told_otherwise(given, expected):
    """xdist's load scheduling would give each worker a first chunk of consecutive items: the longest ones, ordered
    first, would all land on one worker."""
    from types import SimpleNamespace

    from perf import xdist_hooks

    registered = []
    option = SimpleNamespace(dist="load", tx=["popen", "popen"], maxschedchunk=given)
    config = SimpleNamespace(option=option, pluginmanager=SimpleNamespace(register=lambda p, n: registered.append(n)))
    xdist_hooks.register(config, SimpleNamespace())
    assert option.maxschedchunk == expected and registered == ["perf-xdist-controller"]


def test_one_worker_measures_the_ceilings_and_the_controller_adopts_them():
    from types import SimpleNamespace

    from perf.verdict.roofline import Ceilings
    from perf.xdist_hooks import Controller, measures_ceilings

    assert measures_ceilings(None) and measures_ceilings("gw0")  # a run without workers, and the first worker
    assert not measures_ceilings("gw1") and not measures_ceilings("gw10")
    spec = {"peak_tflops": {"bf16": 989.0}, "bandwidth_gbs": 4800.0, "source": "spec", "notes": []}
    measured = {**spec, "peak_tflops": {"bf16": 720.0}, "bandwidth_gbs": 4300.0, "source": "measured"}

    def output(worker, ceilings):
        return {"placement": {"worker": worker}, "timing_blocked": None, "claims": [], "environment": {"w": worker},
                "ceilings": ceilings}

    state = SimpleNamespace(options=SimpleNamespace(dtype="bf16", sweep="compact"), timing_blocked=None)
    controller = Controller(state, gpus=[None, None, None])
    # gw1 and gw2 finish first with the spec's ceilings only; the run's ceilings are still gw0's measured ones.
    controller.outputs = {"gw2": output("gw2", [spec]), "gw1": output("gw1", [spec])}
    controller._adopt()
    assert [c.source for c in state.ceilings] == ["spec"] and state.environment == {"w": "gw1"}
    controller.outputs["gw0"] = output("gw0", [spec, measured])
    controller._adopt()
    assert state.ceilings == [Ceilings(**spec), Ceilings(**measured)]
    assert state.environment == {"w": "gw0"}
    # Without gw0's output (it measured nothing), whichever worker measured them gives them.
    controller.outputs = {"gw1": output("gw1", [spec]), "gw3": output("gw3", [spec, measured])}
    controller._adopt()
    assert [c.source for c in state.ceilings] == ["spec", "measured"] and state.environment == {"w": "gw1"}
