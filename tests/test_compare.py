"""`python -m perf compare A B`: B's records matched with A's, the change and verdict recomputed against A, and
the report of the pair written with the same functions as `python -m perf report`."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from perf.commands import compare as compare_command
from perf.commands.report import main as report_main
from perf.options import COMPARE_THRESHOLD
from perf.report import compare
from perf import gpus
from perf.verdict import results
from test_report import ENV, assert_png_drawn, only, synthetic_doc  # tests/ is on sys.path (pytest rootdir-less)

SLOW = "gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1"


@pytest.fixture(scope="module")
def a_doc() -> dict:
    return synthetic_doc(seed=1, slow_key=None)


@pytest.fixture(scope="module")
def b_doc() -> dict:
    return synthetic_doc(seed=2, slow_key=SLOW)


def test_change_and_verdict_are_recomputed_against_a(a_doc, b_doc):
    doc = compare.pair(a_doc, b_doc, fallback=COMPARE_THRESHOLD)
    a_by_key = {r["key"]: r for r in a_doc["results"]}
    assert doc["comparison"]["matched"] == len(b_doc["results"]) and not doc["comparison"]["only_in_a"]
    for r in doc["results"]:
        a = a_by_key[r["key"]]
        assert r["baseline"]["median_ms"] == a["summary"]["median_ms"]
        assert r["change"] == pytest.approx(r["summary"]["median_ms"] / a["summary"]["median_ms"] - 1)
    verdicts = {r["key"]: r["verdict"] for r in doc["results"]}
    assert verdicts[SLOW] == "regression"
    # B's own baselines said "improvement" for this kernel point; against A (equally fast) it is not.
    improved = "kernel/rms_norm:triton:bf16:h4096:tok64"
    assert {r["key"]: r["verdict"] for r in b_doc["results"]}[improved] == "improvement"
    assert verdicts[improved] == "pass"
    assert sum(v == "regression" for v in verdicts.values()) == 1
    assert doc["baseline_environment"] == a_doc["environment"]
    assert "benchmarks" not in doc  # pytest-benchmark's list describes B alone


def test_records_on_one_side_only(a_doc, b_doc):
    a, b = copy.deepcopy(a_doc), copy.deepcopy(b_doc)
    gone_from_b = b["results"].pop(0)["key"]
    gone_from_a = a["results"].pop(5)["key"]
    doc = compare.pair(a, b, fallback=COMPARE_THRESHOLD)
    assert doc["comparison"]["only_in_a"] == [gone_from_b]
    assert doc["comparison"]["only_in_b"] == [gone_from_a]
    new = next(r for r in doc["results"] if r["key"] == gone_from_a)
    assert new["verdict"] == "new" and new["baseline"] is None and new["reason"] == "not in A"


def test_a_changed_call_of_several_kernels_names_the_kernel_that_moved(a_doc, b_doc):
    a, b = copy.deepcopy(a_doc), copy.deepcopy(b_doc)
    slow_a = next(r for r in a["results"] if r["key"] == SLOW)
    slow_b = next(r for r in b["results"] if r["key"] == SLOW)
    slow_a["kernel_ms"] = {"split": 0.40, "combine": 0.10}
    slow_b["kernel_ms"] = {"split": 0.48, "combine": 0.101}
    doc = compare.pair(a, b, fallback=COMPARE_THRESHOLD)
    record = next(r for r in doc["results"] if r["key"] == SLOW)
    assert record["kernel_changes"] == pytest.approx({"split": 0.2, "combine": 0.01})
    assert record["verdict"] == "regression" and record["reason"].endswith("kernels: split +20.0%, combine +1.0%")
    # a pass keeps its reason; other kernels on one side, or none, give no breakdown
    other = next(r for r in b["results"] if r["key"] != SLOW)
    twin = next(r for r in a["results"] if r["key"] == other["key"])
    twin["kernel_ms"], other["kernel_ms"] = {"k": 1.0}, {"k": 1.001}
    passed = next(r for r in compare.pair(a, b, fallback=COMPARE_THRESHOLD)["results"] if r["key"] == other["key"])
    assert passed["verdict"] == "pass" and "kernels:" not in passed["reason"]
    assert compare.kernel_changes({"kernel_ms": {"x": 1.0}}, {"kernel_ms": {"y": 1.0}}) == {}
    assert compare.kernel_changes({}, {"kernel_ms": {"y": 1.0}}) == {}


def test_match_falls_back_to_the_id(a_doc, b_doc):
    """Across GPUs a record may sit under another key with the same id: it is matched by that id."""
    a = copy.deepcopy(a_doc)
    moved = a["results"][3]
    moved["key"] = "gemm-other/" + moved["id"]
    doc = compare.pair(a, b_doc, fallback=COMPARE_THRESHOLD)
    assert doc["comparison"]["matched_by_id"] == 1 and doc["comparison"]["matched"] == len(b_doc["results"])
    r = next(r for r in doc["results"] if r["id"] == moved["id"])
    assert r["compared_with"] == moved["key"] and "matched by id" in r["reason"]


def test_command_writes_the_pair_report(a_doc, b_doc, tmp_path, capsys):
    """Two GPUs, two stacks: the summary names both files and the changed environment; the plots are drawn."""
    a = only("gemm", synthetic_doc(seed=1, slow_key=None, gpu=gpus.resolve("A100"),
                                   environment={**ENV, "gpu": "A100", "device": "NVIDIA A100-SXM4-80GB",
                                                "torch": "2.10.0"}))
    a_path, b_path = tmp_path / "a100.json", tmp_path / "h100.json"
    results.write(a_path, a)
    results.write(b_path, only("gemm", b_doc))
    out = tmp_path / "cmp"
    assert compare_command.main([str(a_path), str(b_path), "-o", str(out)]) == 1  # B regressed: the exit status says so
    printed = capsys.readouterr()
    assert "14 matched" in printed.out and f"perf compare: regression: {SLOW}: " in printed.out
    assert "1 regressions in B (exit 1; --no-fail only reports)" in printed.err
    text = (out / "summary.md").read_text()
    assert text.startswith("# Performance report: NVIDIA H100 SXM5 80GB (h100.json against a100.json on NVIDIA A100")
    assert "## Compared files" in text and str(a_path) in text and str(b_path) in text
    assert "| torch | 2.10.0 | 2.11.0 | torch 2.10.0 -> 2.11.0 |" in text
    frame = pd.read_csv(out / "results.csv").set_index(["key", "statistic"])
    a_median = {r["key"]: r["summary"]["median_ms"] for r in a["results"]}
    assert frame.loc[(SLOW, "baseline_median_ms"), "value"] == pytest.approx(a_median[SLOW])
    for name in ("baseline_vs_now.png", "gemm_layer_throughput.png", "roofline.png"):
        assert_png_drawn(out / name)
    assert "data:image/png;base64," in (out / "index.html").read_text()


def test_bad_input_names_the_file(a_doc, tmp_path, capsys):
    a_path = tmp_path / "a.json"
    results.write(a_path, a_doc)
    missing = tmp_path / "missing.json"
    assert compare_command.main([str(a_path), str(missing), "-o", str(tmp_path / "out")]) == 2
    assert str(missing) in capsys.readouterr().err
    broken = copy.deepcopy(a_doc)
    del broken["results"][0]["summary"]
    b_path = tmp_path / "b.json"
    results.write(b_path, broken)
    assert compare_command.main([str(a_path), str(b_path)]) == 2
    err = capsys.readouterr().err
    assert str(b_path) in err and "results[0].summary" in err


def test_no_fail_only_reports_and_a_clean_pair_exits_0(a_doc, b_doc, tmp_path, capsys):
    a_path, b_path = tmp_path / "a.json", tmp_path / "b.json"
    results.write(a_path, a_doc)
    results.write(b_path, b_doc)
    assert compare_command.main([str(a_path), str(b_path), "-o", str(tmp_path / "cmp"), "--no-fail"]) == 0
    assert f"regression: {SLOW}" in capsys.readouterr().out
    assert compare_command.main([str(a_path), str(a_path), "-o", str(tmp_path / "same")]) == 0
    assert "regression" not in capsys.readouterr().out


@pytest.mark.parametrize("command", [compare_command.main, report_main])
def test_output_folder_that_is_a_file_is_a_usage_error(a_doc, tmp_path, capsys, command):
    a_path = tmp_path / "a.json"
    results.write(a_path, a_doc)
    taken = tmp_path / "taken"
    taken.write_text("mine")
    args = [str(a_path), str(a_path)] if command is compare_command.main else [str(a_path)]
    assert command([*args, "-o", str(taken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"-o {taken}: that is a file; expected a folder" in err[0] and "Traceback" not in err[0]
    assert taken.read_text() == "mine"
