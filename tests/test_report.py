"""The report from a results document: every file written, the PNGs open and are not blank, the numbers in the
CSV and the summary are the results file's, and bad input gets an error naming the file and the field.

The document is built with perf.verdict.results from synthetic samples for the gemm, kernel, decode and sweep
families (a simulated H100 run), so no timing runs here. `synthetic_doc` is reused by tests/test_compare.py.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perf import gpus
from perf.shape import models
from perf.commands import report as report_command
from perf.report import cells, tidy_csv
from perf.report import files as report
from perf.verdict import results, stats
from perf.shape.quantization import wave_efficiency
from perf.shape.shapes import DTYPE_BYTES, layer_gemms
from perf.spec import BenchSpec
from perf.measure.timing import Samples

H100 = gpus.resolve("H100")
ENV = {"gpu": "H100", "device": "NVIDIA H100 80GB HBM3", "sms": 132, "torch": "2.11.0", "triton": "3.6.0",
       "cuda": "12.8", "driver": "570.86", "commit": "abc123", "date": "2026-11-21T03:00:00+00:00"}
BASE_ENV = {**ENV, "driver": "565.57", "commit": "0ff1ce", "date": "2026-11-01T03:00:00+00:00"}
ELEM = DTYPE_BYTES["bf16"]


def _samples(ms: float, rng: random.Random, n: int = 40, noise: float = 0.01) -> Samples:
    return Samples(tuple(ms * (1 + noise * rng.gauss(0, 1)) for _ in range(n)), "cuda-events", cold_l2=True,
                   warmup_calls=5)


def _record(spec: BenchSpec, ms: float, base_ms: float | None, rng: random.Random, gpu=H100) -> dict:
    samples = _samples(ms, rng)
    baseline = _samples(base_ms, rng).summary() if base_ms else None
    comparison = stats.compare(samples.summary(), stats.Reference(baseline) if baseline else None, 0.05)
    return results.record(spec, samples, comparison, gpu, baseline=baseline,
                          nodeid=f"perf/suite/test_{spec.family}.py::test_{spec.family}[{spec.id}]")


def _spec(family: str, id: str, flops: int, nbytes: int, group: str, params: dict) -> BenchSpec:
    return BenchSpec(family=family, id=id, dtype="bf16", flops=int(flops), bytes=int(nbytes),
                     build=lambda target: None, group=group, params=params)


def _ms(flops: float, nbytes: float, peak_tflops: float = 600.0, bw_gbs: float = 2800.0) -> float:
    """A plausible time: the slower of compute and memory, plus a launch floor (ms)."""
    return max(flops / (peak_tflops * 1e9), nbytes / (bw_gbs * 1e6)) + 0.004


def synthetic_doc(seed: int = 0, *, speed: float = 1.0, slow_key: str | None = "gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1",
                  rules: bool = True, gpu=H100, environment: dict = ENV) -> dict:
    """A results document of a simulated run: `speed` scales every time down (2.0 = twice as fast);
    `slow_key` is 30% slower than its baseline (a regression); one kernel point is 20% faster (an improvement)."""
    rng = random.Random(seed)
    recs = []

    def add(spec: BenchSpec, ms: float, with_baseline: bool = True):
        now = ms / speed * (1.3 if spec.key == slow_key else 0.8 if spec.key.endswith("rms_norm:triton:bf16:h4096:tok64")
                            else 1.0)
        recs.append(_record(spec, now, ms if with_baseline else None, rng, gpu))

    for model in ("gpt3-2.7b", "gpt3-2.7b-a20"):
        for g in layer_gemms(models.get(model), b=4, s=2048):
            spec = _spec("gemm", f"{model}:{g.name}:bf16:b4:s2048:t1", g.flops(), g.bytes(ELEM), f"gemm/{model}",
                         {"model": model, "gemm": g.name, "b": 4, "s": 2048, "t": 1, "m": g.m, "n": g.n, "k": g.k,
                          "batch": g.batch, "provider": "torch"})
            add(spec, _ms(g.flops(), g.bytes(ELEM), 500 if model.endswith("a20") else 400))
    for tokens in (1, 4, 16, 64, 256, 1024, 4096):
        for provider, eff in (("triton", 0.8), ("torch", 1.0)):
            flops, nbytes = 2 * tokens * 4096 * 4096, (tokens * 4096 * 2 + 4096 * 4096) * ELEM
            add(_spec("kernel", f"matmul:{provider}:bf16:n4096:tok{tokens}", flops, nbytes, "kernel/matmul:n4096",
                      {"kernel": "matmul", "provider": provider, "tokens": tokens, "hidden": 4096, "n": 4096}),
                _ms(flops, nbytes) / eff)
            flops, nbytes = 4 * tokens * 4096, (2 * tokens * 4096 + 4096) * ELEM
            add(_spec("kernel", f"rms_norm:{provider}:bf16:h4096:tok{tokens}", flops, nbytes, "kernel/rms_norm:h4096",
                      {"kernel": "rms_norm", "provider": provider, "tokens": tokens, "hidden": 4096}),
                _ms(flops, nbytes) / eff)
    llama = models.get("llama-2-7b")
    for m in (1, 4, 16):
        for g in layer_gemms(llama, b=m, s=1):
            if g.name in ("attn_score", "attn_over_value"):
                continue
            add(_spec("decode", f"gemm:llama-2-7b:{g.name}:bf16:m{m}:batch", g.flops(), g.bytes(ELEM),
                      f"decode/gemm:llama-2-7b:{g.name}",
                      {"op": "gemm", "model": "llama-2-7b", "gemm": g.name, "m": m, "kind": "batch", "n": g.n,
                       "k": g.k, "layers": llama.layers, "provider": "torch"}),
                _ms(g.flops(), g.bytes(ELEM)), with_baseline=False)
    for length in (1024, 4096, 16384):
        for provider, eff in (("triton", 0.85), ("torch", 0.6)):
            flops, nbytes = 4 * 32 * 128 * length, 2 * 8 * length * 128 * ELEM
            add(_spec("decode", f"attention:{provider}:bf16:gqa-h32-kv8-d128:b1:L{length}", flops, nbytes,
                      "decode/attention:gqa-h32-kv8-d128:b1",
                      {"op": "attention", "provider": provider, "shape": "gqa-h32-kv8-d128", "heads": 32,
                       "kv_heads": 8, "head_dim": 128, "batch": 1, "L": length}),
                _ms(flops, nbytes, bw_gbs=3350 * eff))
    for m in range(1024, 8192 + 1, 1024):
        eff = wave_efficiency(m, m, H100.sms)
        flops, nbytes = 2 * m * m * 4096, (2 * m * 4096 + m * m) * ELEM
        add(_spec("sweep", f"fig5a:gemm:bf16:x{m}", flops, nbytes, "sweep/fig5a",
                  {"sweep": "fig5a", "x": m, "gemm": "gemm", "m": m, "n": m, "k": 4096, "batch": 1, "sms": H100.sms,
                   "predicted_wave_efficiency": round(eff, 4), "provider": "torch"}),
            flops / (650e9 * eff))
    extra = {}
    if rules:
        extra["perf_shape_rules"] = [{
            "model": "gpt3-2.7b", "gpu": "H100", "ok": False, "expected": [],
            "findings": [{"rule": "head_dim_pow2", "level": "error", "gemm": "attn_score", "dimension": "h/a",
                          "value": 80, "message": "h/a = 80 is not divisible by 64", "fix": "a = 20 gives h/a = 128",
                          "payoff": ""}]}]
        extra["perf_audit"] = [{"op": "torch.matmul", "tokens": 64, "invariant": False, "max_abs_diff": 0.0039}]
    return results.document(recs, gpu=gpu, environment=dict(environment), baseline_environment=dict(BASE_ENV),
                            extra=extra)


# ------------------------------------------------------------------------------------------------ helpers

def assert_png_drawn(path: Path) -> None:
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200, f"{path.name}: {pixels.shape}"
    assert float(np.var(pixels[..., :3])) > 0.005, f"{path.name} looks blank (pixel variance {np.var(pixels):.4f})"


@pytest.fixture(scope="module")
def doc() -> dict:
    return synthetic_doc()


@pytest.fixture(scope="module")
def written(doc, tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("report")
    return out, report.write_report(doc, out)


# ------------------------------------------------------------------------------------------------ tests

EXPECTED_PLOTS = {"baseline_vs_now.png", "gemm_layer_throughput.png", "roofline.png", "kernel_throughput.png",
                  "kernel_time.png", "decode_steps.png", "decode_attention.png", "sweeps.png"}


def test_every_file_is_written(written):
    out, paths = written
    names = {p.name for p in paths}
    assert {"summary.md", "index.html", "results.csv"} <= names
    assert EXPECTED_PLOTS <= names, f"missing plots: {EXPECTED_PLOTS - names}"
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert {p.name for p in out.iterdir()} == names


def test_every_png_opens_and_is_not_blank(written):
    _, paths = written
    for path in paths:
        if path.suffix == ".png":
            assert_png_drawn(path)


def test_html_is_one_self_contained_page(written):
    out, paths = written
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == sum(p.suffix == ".png" for p in paths)
    assert "<style>" in page and 'src="http' not in page and "src='http" not in page and "<link" not in page
    assert "gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1" in page


def test_csv_is_tidy_and_matches_the_results(doc, written):
    out, _ = written
    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns) == list(tidy_csv.CSV_COLUMNS)
    assert set(frame["key"]) == {r["key"] for r in doc["results"]}
    assert not frame.duplicated(["key", "statistic"]).any()
    by = frame.set_index(["key", "statistic"])
    for r in doc["results"]:
        assert by.loc[(r["key"], "median_ms"), "value"] == pytest.approx(r["summary"]["median_ms"], rel=1e-12)
        assert by.loc[(r["key"], "median_ms"), "unit"] == "ms"
        assert by.loc[(r["key"], "tflops"), "value"] == pytest.approx(r["tflops"], rel=1e-12)
        assert by.loc[(r["key"], "gbs"), "unit"] == "GB/s"
        if r["baseline"]:
            assert by.loc[(r["key"], "baseline_median_ms"), "value"] == pytest.approx(r["baseline"]["median_ms"])
            assert by.loc[(r["key"], "change"), "value"] == pytest.approx(r["change"])
        else:
            assert (r["key"], "baseline_median_ms") not in by.index


def test_summary_lists_regressions_first_with_their_numbers(doc, written):
    out, _ = written
    text = (out / "summary.md").read_text()
    counts = cells.verdict_counts(doc["results"])
    assert counts["regression"] == 1 and counts["improvement"] == 1, counts
    for verdict, n in counts.items():
        assert f"| {verdict} | {n} |" in text
    regression = next(r for r in doc["results"] if r["verdict"] == "regression")
    assert regression["key"] == "gemm/gpt3-2.7b:qkv:bf16:b4:s2048:t1"
    section = text.split("## Regressions (1)")[1].split("## ")[0]
    assert regression["key"] in section
    assert f"{regression['summary']['median_ms']:.4g}" in section
    assert f"{regression['baseline']['median_ms']:.4g}" in section
    assert f"{regression['change']:+.1%}" in section
    assert text.index("## Regressions") < text.index("## Improvements") < text.index("## Environment")


def test_summary_shows_rule_violations_and_the_changed_environment(written):
    out, _ = written
    text = (out / "summary.md").read_text()
    assert "## Shape-rule violations (1)" in text and "a = 20 gives h/a = 128" in text
    environment = text.split("## Environment")[1]
    assert environment.split("|---|---|---|---|\n")[1].startswith(
        "| driver | 565.57 | 570.86 | driver 565.57 -> 570.86 |")  # the differing fields come first
    assert "Changed since the baseline: driver" in text
    assert "perf_audit (1)" in text


def test_github_step_summary_gets_the_summary(doc, tmp_path, monkeypatch):
    from perf.report import plots

    monkeypatch.setattr(plots, "draw_all", lambda *args, **kwargs: [])  # the plots are tested above
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    report.write_report(doc, tmp_path / "out")
    text = step.read_text()
    assert text.startswith("earlier step\n") and "# Performance report: NVIDIA H100" in text


def only(family: str, doc: dict) -> dict:
    return {**doc, "results": [r for r in doc["results"] if r["family"] == family]}


def test_absent_families_skip_their_plots(tmp_path):
    gemm_only = only("gemm", synthetic_doc(rules=False))
    names = {p.name for p in report.write_report(gemm_only, tmp_path)}
    assert {"baseline_vs_now.png", "gemm_layer_throughput.png", "roofline.png"} <= names
    assert not names & {"kernel_throughput.png", "kernel_time.png", "decode_steps.png", "sweeps.png"}
    assert "Shape-rule" not in (tmp_path / "summary.md").read_text()


def test_roofline_and_ceilings_blocks_are_used_when_present(tmp_path):
    from perf.report.plots import roofline

    d = synthetic_doc(rules=False)
    d["ceilings"] = {"peak_tflops": {"bf16": 700.0}, "bandwidth_gbs": 3000.0, "source": "measured"}
    d["results"][0]["roofline"] = {"spec": {"attainable_tflops": 989.0, "pct_of_roofline": 41.5}}
    roofs = roofline.ceilings(d, {"bf16"})
    assert {(c.source, c.peak_tflops) for c in roofs} == {("spec", H100.peak("bf16")), ("measured", 700.0)}
    frame = tidy_csv.tidy_frame(d)
    row = frame[(frame["key"] == d["results"][0]["key"]) & (frame["statistic"] == "roofline.spec.pct_of_roofline")]
    assert row["value"].tolist() == [41.5] and row["unit"].tolist() == ["%"]


def test_gemm_layer_throughput_excludes_logits(doc):
    from perf.report.plots import layers

    rows = {r.label: r for r in layers.layer_throughput(doc["results"])}
    layer = [r for r in doc["results"] if r["group"] == "gemm/gpt3-2.7b" and r["params"]["gemm"] != "logits"]
    expected = sum(r["flops"] for r in layer) / (sum(r["summary"]["median_ms"] for r in layer) * 1e-3) / 1e12
    assert rows["gpt3-2.7b"].tflops == pytest.approx(expected)
    assert rows["gpt3-2.7b"].gemms == len(layer) == 6


def test_command_reports_a_cpu_run_without_ceilings(tmp_path, capsys):
    """A CPU device has no spec peaks: the roofline shows the points only, and the command still succeeds."""
    path = tmp_path / "cpu.json"
    cpu = synthetic_doc(gpu=gpus.CPU, environment={**ENV, "gpu": "cpu", "device": "AMD EPYC"})
    results.write(path, only("sweep", cpu))
    assert report_command.main([str(path), "-o", str(tmp_path / "out"), "--title", "(nightly)"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert_png_drawn(tmp_path / "out" / "roofline.png")
    assert_png_drawn(tmp_path / "out" / "sweeps.png")
    assert (tmp_path / "out" / "summary.md").read_text().startswith("# Performance report: CPU (torch) (nightly)")


# ------------------------------------------------------------------------------------------------ bad input

def test_missing_file_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert report_command.main([str(missing), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such results file" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.__setitem__("schema", "other/9"), "schema"),
    (lambda d: d.__setitem__("results", {}), "results"),
    (lambda d: d["results"][3].pop("verdict"), "results[3].verdict"),
    (lambda d: d["results"][2]["summary"].__setitem__("median_ms", "fast"), "results[2].summary.median_ms"),
    (lambda d: d["results"][1].__setitem__("baseline", {"median_ms": -1}), "results[1].baseline.median_ms"),
    (lambda d: d.__setitem__("perf_pairs", {"id": "x"}), "perf_pairs"),
    (lambda d: d.__setitem__("perf_pairs", [{"id": "a", "ours_ms": 1.0, "reference_ms": 1.0, "ratio": 1.0,
                                             "ratio_low": 1.0}]), "perf_pairs[0].ratio_high"),
])
def test_malformed_file_names_the_field(doc, tmp_path, capsys, mutate, field):
    bad = json.loads(json.dumps(doc))
    mutate(bad)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert report_command.main([str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and field in err, err


def test_not_json_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert report_command.main([str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("parser", ["orjson", "json"])
def test_a_results_file_reads_the_same_with_either_parser_nan_and_errors_included(parser, tmp_path, monkeypatch):
    """orjson when installed, json otherwise; json also for what orjson refuses (NaN, which json writes)."""
    if parser == "json":
        monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson -> ImportError
    else:
        pytest.importorskip("orjson")
    doc = {"schema": results.SCHEMA, "results": [{"key": "k", "family": "f", "summary": {"median_ms": float("nan")},
                                                  "verdict": "pass"}], "note": "é"}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    read = results.read(path)
    assert read["note"] == "é" and math.isnan(read["results"][0]["summary"]["median_ms"])
    path.write_text('{"schema": 1,\n "results": [}')
    with pytest.raises(results.ResultsError, match=r"r.json: not valid JSON \(line 2, column 14\)"):
        results.read(path)
    path.write_bytes(b'{"schema": "\xff"}')
    with pytest.raises(results.ResultsError, match=r"r.json: not valid JSON \(not UTF-8 text at byte 12\)"):
        results.read(path)


def test_write_report_rejects_a_bad_document(tmp_path):
    with pytest.raises(results.ResultsError, match=r"results\[0\]\.summary"):
        report.write_report({"schema": results.SCHEMA, "results": [{"key": "k", "family": "f", "verdict": "new"}]},
                            tmp_path)


def test_records_with_only_the_required_fields_still_report(tmp_path):
    """No rates, no CI, no params: the report is written, no warnings, and empty panels stay legend-free."""
    import warnings

    doc = {"schema": results.SCHEMA, "results": [
        {"key": "kernel/x", "family": "kernel", "verdict": "new", "summary": {"median_ms": 1.0},
         "params": {"tokens": 4, "provider": "triton"}},
        {"key": "sweep/y", "family": "sweep", "verdict": "pass", "summary": {"median_ms": 1.0},
         "baseline": {"median_ms": 1.1}, "params": None},
    ]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        names = {p.name for p in report.write_report(doc, tmp_path)}
    assert {"summary.md", "index.html", "results.csv", "baseline_vs_now.png", "kernel_time.png"} <= names
    assert "roofline.png" not in names  # nothing has FLOPs and bytes
    frame = pd.read_csv(tmp_path / "results.csv")
    assert set(frame["statistic"]) == {"median_ms", "baseline_median_ms"}
