"""`python -m perf lint PATH_OR_NAME --gpu A100 [--tp 8] [--pp 4] [--micro-batch 4] [--seq 2048] [--dtype bf16] [--json]`

Checks models against the shape rules (perf/shape/rules.py) for a GPU. PATH_OR_NAME is a registered model name, one
of our TOML model files (every model in it), a folder of them, or a Hugging Face config.json (or a folder with
one), read from disk. Prints a table per model (or one row per model with --summary); exits 1 when a rule is
broken at level error, 0 otherwise, and 2 on unusable input, with a message naming the file and field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from perf import gpus
from perf.shape import hf_config, models
from perf.shape.estimate import estimate_layer, peak_tflops
from perf.shape.layout import Layout
from perf.shape.models import ModelConfig, ModelConfigError
from perf.shape.rules import Report, evaluate
from perf.shape.shape_policy import rules_gpu
from perf.shape.shapes import DTYPE_BYTES
from perf.report.text_table import format_table

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class InputError(ValueError):
    """Unusable command-line input (an unknown GPU, a file that is not a model): exit 2."""


def load_models(spec: str, *, seq: int | None = None) -> list[ModelConfig]:
    """The models a PATH_OR_NAME names. `seq` stands in for a config.json without a context length."""
    path = Path(spec)
    if path.is_dir():
        if (path / "config.json").is_file():
            return [hf_config.load(path, seq=seq)]
        tomls = sorted(path.glob("*.toml"))
        if not tomls:
            raise ModelConfigError(f"{path}: a folder with neither a config.json nor *.toml model files")
        return [m for t in tomls for m in models.load_file(t)]
    if path.is_file():
        if path.suffix == ".toml":
            found = models.load_file(path)
            if not found:
                raise ModelConfigError(f"{path}: no [[model]] tables (expected at least one model)")
            return found
        if path.suffix == ".json":
            return [hf_config.load(path, seq=seq)]
        raise ModelConfigError(f"{path}: expected a .toml model file or a Hugging Face config.json, got a {path.suffix or 'suffix-less'} file")
    registry = models.registry()
    if spec in registry:
        return [registry[spec]]
    if _looks_like_a_path(spec):
        raise ModelConfigError(f"{spec}: no such file or folder")
    raise ModelConfigError(f"{spec!r} is neither a file nor a registered model; registered: {', '.join(sorted(registry))}")


def _looks_like_a_path(spec: str) -> bool:
    """A name with a folder separator, a leading dot or a model file's suffix is a path, never a model name."""
    return "/" in spec or os.sep in spec or spec.startswith(".") or Path(spec).suffix in (".json", ".toml")


def positive_int(text: str) -> int:
    """argparse type for --tp, --pp, --micro-batch, --seq: the message names the option, not a layout field."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def gpu_for(name: str | None) -> tuple[gpus.GpuSpec, str]:
    """The GPU profile for --gpu (default: the device present; the H100-SXM profile on a machine without one)."""
    if name:
        try:
            spec = gpus.resolve(name)
        except gpus.UnknownGpu as exc:
            raise InputError(f"--gpu: {exc}") from None
        if not spec.is_gpu:
            raise InputError(f"--gpu {name}: shape rules need a GPU profile; known GPUs: {', '.join(s.key for s in gpus.SPECS)}")
        return spec, ""
    return rules_gpu(gpus.detect())


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpu", metavar="NAME", help="GPU profile: A100, H100, H100-PCIe, H200, V100 (default: the device present, else H100-SXM)")
    parser.add_argument("--tp", type=positive_int, default=1, metavar="T", help="tensor-parallel size t (default 1)")
    parser.add_argument("--pp", type=positive_int, default=1, metavar="PP", help="pipeline-parallel stages (default 1)")
    parser.add_argument("--micro-batch", type=positive_int, default=1, metavar="B", help="micro-batch size b (default 1)")
    parser.add_argument("--seq", type=positive_int, default=None, metavar="S",
                        help=f"sequence length s (default: the model's context; {hf_config.DEFAULT_SEQ} for a Hugging Face "
                             f"config.json without one)")
    parser.add_argument("--dtype", choices=sorted(DTYPE_BYTES), default="bf16", help="GEMM dtype (default bf16)")


def layout_from(args: argparse.Namespace) -> Layout:
    return Layout(b=args.micro_batch, s=args.seq, t=args.tp, pp=args.pp, dtype=args.dtype)


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code argparse chose (2 on bad arguments, 0 for --help)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf lint", description=__doc__.split("\n\n")[1])
    parser.add_argument("targets", nargs="+", metavar="PATH_OR_NAME",
                        help="registered model name, TOML model file or folder, or Hugging Face config.json")
    add_layout_options(parser)
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--summary", action="store_true", help="one row per model instead of a table per model")
    parser.add_argument("--info", action="store_true", help="show info findings too (powers of two found, quantization)")
    return parser


# ------------------------------------------------------------------------------------------------ output


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def gpu_line(gpu: gpus.GpuSpec, layout: Layout, note: str = "") -> str:
    elem = DTYPE_BYTES[layout.dtype]
    line = (f"{gpu.key}: {gpu.sms} SMs, {gpu.tc_align_bytes}-byte tensor-core alignment "
            f"({gpu.align_elements(elem)} {layout.dtype} elements)")
    return line + (f" [{note}]" if note else "")


def model_notes(report: Report) -> list[str]:
    """What the user should know about the model's numbers: a context length that is a default, not the file's."""
    return hf_config.context_notes(report.model, seq_given=report.layout.s is not None)


def predicted_tflops(report: Report) -> float | None:
    """The efficiency model's layer throughput; None when the layout does not split the model evenly."""
    try:
        return estimate_layer(report.model, report.gpu, report.layout).tflops
    except ValueError:  # ShapeError: t does not divide the heads or the MLP
        return None


def model_text(report: Report, show_info: bool) -> list[str]:
    m = report.model
    lines = [f"{m.name} ({m.origin or 'registry'}): h={m.hidden} a={m.heads} kv={m.n_kv_heads} d={m.d_head} L={m.layers} "
             f"v={m.vocab} ffn={m.ffn} {m.activation}; {report.layout.describe(m)}"]
    lines += [f"  {note}" for note in model_notes(report)]
    shown = [f for f in report.findings if show_info or f.is_violation]
    rows, notes = [], []
    for f in shown:
        rows.append((f.level, f.rule, f.gemm or "-", f.dimension, _value(f.value), f.message))
        extra = "; ".join(x for x in (f"fix: {f.fix}" if f.fix else "", f.payoff) if x)
        notes.append(extra)
    if rows:
        table = format_table(("level", "rule", "gemm", "dimension", "value", "finding"), rows)
        lines += table[:2]
        for row_line, note in zip(table[2:], notes):
            lines.append(row_line)
            if note:
                lines.append(f"    {note}")
    errors, warnings = report.errors, report.warnings
    expected = sorted({f.rule for f in errors} & set(m.expected_violations))
    infos = len(report.at("info"))
    summary = f"{len(errors)} error(s), {len(warnings)} warning(s), {infos} info"
    if expected:
        summary += f"; expected by the model's config: {', '.join(expected)}"
    if not show_info and infos:
        summary += " (--info shows the info findings)"
    lines.append(summary)
    tflops = predicted_tflops(report)
    if tflops is not None:
        peak = peak_tflops(report.gpu, report.layout.dtype)
        lines.append(f"predicted layer throughput: {tflops:.0f} TFLOP/s ({tflops / peak:.0%} of the {peak:.0f} TFLOP/s peak)")
    return lines


def summary_rows(reports: list[Report]) -> list[tuple[str, ...]]:
    rows = []
    for r in reports:
        m = r.model
        tflops = predicted_tflops(r)
        rows.append((m.name, str(m.hidden), str(m.heads), str(m.d_head), str(m.n_kv_heads), str(m.vocab), str(m.ffn),
                     str(len(r.errors)), str(len(r.warnings)),
                     ", ".join(sorted({f.rule for f in r.errors})) or "-",
                     ", ".join(sorted({f.rule for f in r.warnings})) or "-",
                     f"{tflops:.0f}" if tflops is not None else "-"))
    return rows


SUMMARY_HEADER = ("model", "h", "a", "h/a", "kv", "vocab", "ffn", "errors", "warnings", "error rules", "warning rules",
                  "pred. TFLOP/s")


def report_dict(report: Report) -> dict:
    m = report.model
    tflops = predicted_tflops(report)
    config = {k: v for k, v in asdict(m).items() if k not in ("sources", "source", "origin", "family")}
    config["expected_violations"] = list(m.expected_violations)
    return {
        "name": m.name,
        "origin": m.origin or "registry",
        "config": config,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "broken": sorted(report.broken()),
        "notes": model_notes(report),
        "predicted_layer_tflops": round(tflops, 2) if tflops is not None else None,
        "findings": [f.as_dict() for f in report.findings],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(_parser(), list(sys.argv[1:] if argv is None else argv))
    if isinstance(args, int):
        return args
    try:
        gpu, note = gpu_for(args.gpu)
        layout = layout_from(args)
        found = [m for spec in args.targets for m in load_models(spec, seq=args.seq)]
        reports = [evaluate(m, gpu, layout) for m in found]
    except (ModelConfigError, InputError) as exc:
        print(f"perf lint: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "exit_code": EXIT_USAGE}, indent=2))
        return EXIT_USAGE
    code = EXIT_ERRORS if any(r.errors for r in reports) else EXIT_OK
    if args.json:
        doc = {
            "gpu": {"key": gpu.key, "name": gpu.name, "sms": gpu.sms, "tc_align_bytes": gpu.tc_align_bytes, "note": note},
            "layout": asdict(layout),
            "models": [report_dict(r) for r in reports],
            "exit_code": code,
        }
        print(json.dumps(doc, indent=2))
        return code
    print(gpu_line(gpu, layout, note))
    if args.summary:
        print("\n".join(format_table(SUMMARY_HEADER, summary_rows(reports))))
    else:
        for r in reports:
            print()
            print("\n".join(model_text(r, args.info)))
    return code
