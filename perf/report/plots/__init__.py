"""The report's plots: one PNG per chart, drawn only from what a results document contains.

Every chart has axes in physical units, a legend, and the GPU and the run's date in its title. A chart whose
family is absent from the results is skipped (its function returns None). Figures are drawn on matplotlib's
Agg canvas created inside each function (no pyplot, no global backend switch), so importing this module and
drawing from a pytest run or a CI job never touches a display. One module per plot family, the shared
drawing helpers in figure.py; this module is the registry: which plots are drawn, in reading order.

    kernel_throughput   family "kernel": TFLOP/s (GB/s for memory-bound kernels) over tokens, log-log, ours vs
                        the reference provider, one panel per kernel group
    kernel_time         family "kernel": median time (ms, with its 95% CI) over tokens
    decode_steps        family "decode" through perf.report.decode_model: tokens/s, KV-cache GB and GFLOPs per step
                        over decoding steps (skipped when perf.report.decode_model is absent)
    decode_attention    family "decode", op "attention": GB/s over KV-cache length per provider
    roofline            every family: achieved TFLOP/s over FLOP/byte, with the GPU's spec (and measured) ceilings
    sweeps              family "sweep": TFLOP/s over the swept variable, the predicted wave-quantization dips marked
    baseline_vs_now     per family: median time relative to the baseline median, both with their 95% CI
    gemm_layer          family "gemm": layer throughput per model (sum of FLOPs / sum of median times, no logits)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from perf.report.plots import baseline, decode, kernels, layers, roofline, sweeps

PLOTS: tuple[Callable[..., Path | None], ...] = (
    baseline.baseline_vs_now, layers.gemm_layer, roofline.roofline, kernels.kernel_throughput, kernels.kernel_time,
    decode.decode_steps, decode.decode_attention, sweeps.sweeps,
)
BASELINE_LABELLED = (baseline.baseline_vs_now, layers.gemm_layer)  # the plots that name the baseline


def draw_all(doc: Mapping, out_dir: Path, *, suffix: str = "", baseline_label: str = "baseline") -> list[Path]:
    """Every plot the results support, in reading order; the PNGs written."""
    out_dir = Path(out_dir)
    paths = []
    for plot in PLOTS:
        kwargs = {"suffix": suffix}
        if plot in BASELINE_LABELLED:
            kwargs["baseline_label"] = baseline_label
        path = plot(doc, out_dir, **kwargs)
        if path is not None:
            paths.append(path)
    return paths
