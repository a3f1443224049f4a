"""The report's "now against baseline" plot: every benchmark's tick label whole and apart from its neighbours, also in
a family of many benchmarks with long names (22 decode benchmarks on an H200 overlapped when slanted and wrapped)."""

import matplotlib

matplotlib.use("Agg")

from perf.report.plots import baseline as baseline_plot  # noqa: E402


def record(key: str, family: str, ratio: float) -> dict:
    return {"key": key, "id": key.split("/", 1)[1], "family": family, "verdict": "pass", "threshold": 0.03,
            "tolerance": 0.042, "summary": {"median_ms": ratio, "ci_low_ms": ratio * 0.99, "ci_high_ms": ratio * 1.01},
            "baseline": {"median_ms": 1.0, "ci_low_ms": 0.99, "ci_high_ms": 1.01}}


def test_twenty_two_long_labels_are_whole_and_none_overlaps(tmp_path, monkeypatch):
    keys = [f"decode/attention:{impl}:bf16:{kind}-h32-kv{kv}-d128:b8:L{length}"
            for impl in ("torch", "triton") for kind, kv in (("gqa", 8), ("mha", 32))
            for length in (1024, 4096, 16384, 32768)]
    keys += [f"decode/gemm:llama-2-7b:{name}:bf16:m1:batch" for name in ("qkv", "out_proj", "mlp_up", "mlp_gate",
                                                                        "mlp_down", "logits")]
    doc = {"results": [record(k, "decode", 1.0 + i / 1000) for i, k in enumerate(keys)]}
    figures = []
    monkeypatch.setattr(baseline_plot, "_save", lambda fig, path: figures.append(fig) or path)
    baseline_plot.baseline_vs_now(doc, tmp_path)
    (fig,) = figures
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = [a for a in fig.axes if a.get_xticklabels()]
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) == 22
    # each label is its benchmark's name, whole, without the shared prefix shown under the axis
    prefix = ax.get_xlabel().removesuffix(":...")
    shown = sorted(((prefix + ":") if prefix else "") + t.get_text().replace("\n", "") for t in labels)
    assert shown == sorted(k.split("/", 1)[1] for k in keys)
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0, (left, right)
