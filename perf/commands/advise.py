"""`python -m perf advise PATH_OR_NAME --gpu H100 [--tp T] [--micro-batch B] [--seq S] [--dtype bf16] [--measure] [--json]`

Proposes nearby shapes at about the same parameter count and ranks them by predicted throughput on the GPU:
  heads   a with h/a (or a*d/a) an integer head size, between a/2 and 2a: same parameters (GQA keeps its group size)
  ffn     MLP intermediate sizes, multiples of 64*t within 3% of the model's (of 8h/3 too for SwiGLU, sec. VII-B)
  vocab   the vocabulary padded to 64*t, 128*t, 256*t (rows that are never used)
  hidden  h within 10% (multiples of 128*t), head size kept or 128, MLP scaled, layers adjusted to keep parameters
The heads and hidden candidates are ranked by the layer's predicted TFLOP/s, the ffn candidates by the MLP
block's, the vocab candidates by the logits GEMM's (perf/shape/estimate.py: roofline x tile and wave quantization x
tensor-core alignment per GEMM, each GEMM weighted by its FLOPs). With --measure on the GPU, the candidates'
GEMMs are timed and ranked by measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from dataclasses import dataclass

from perf.commands.lint import EXIT_OK, EXIT_USAGE, InputError, add_layout_options, gpu_for, layout_from, load_models, parse
from perf.shape.checks import POW2_GOAL, ffn_candidates, ffn_center
from perf.shape.hf_config import context_notes
from perf.shape.estimate import MLP_GEMMS, estimate_layer, peak_tflops
from perf.shape.layout import Layout, check_layout
from perf.shape.models import ModelConfig, ModelConfigError, validate
from perf.shape.rules import evaluate
from perf.shape.shapes import LAYER_GEMMS, ShapeError
from perf.report.text_table import format_table

KNOBS = ("heads", "ffn", "vocab", "hidden")
SCORED_GEMMS = {"heads": LAYER_GEMMS, "ffn": MLP_GEMMS, "vocab": ("logits",), "hidden": LAYER_GEMMS}
RECOMMEND_GAIN = 1.02
_LAYER_RULES = frozenset({"head_dim_pow2", "heads_per_tp", "gqa_kv_heads", "hidden_per_tp_pow2", "ffn_multiple_64"})
KNOB_RULES = {"heads": frozenset({"head_dim_pow2", "heads_per_tp", "gqa_kv_heads"}), "ffn": frozenset({"ffn_multiple_64"}),
              "vocab": frozenset({"vocab_multiple_64"}), "hidden": _LAYER_RULES}
SCORE_NAME = {"heads": "layer", "ffn": "MLP block", "vocab": "logits GEMM", "hidden": "layer"}


@dataclass(frozen=True)
class Candidate:
    knob: str
    change: str  # "a 32 -> 20 (h/a 80 -> 128)"; "current" for the model as it is
    model: ModelConfig
    params: int
    predicted_tflops: float
    measured_tflops: float | None = None
    # error-level rules the candidate breaks that its change should fix (KNOB_RULES) or that the model did not break
    new_errors: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return self.measured_tflops if self.measured_tflops is not None else self.predicted_tflops

    @property
    def is_current(self) -> bool:
        return self.change == "current"

    def as_dict(self) -> dict:
        m = self.model
        return {"knob": self.knob, "change": self.change, "hidden": m.hidden, "heads": m.heads, "kv_heads": m.n_kv_heads,
                "head_dim": m.d_head, "ffn": m.ffn, "vocab": m.vocab, "layers": m.layers, "params": self.params,
                "predicted_tflops": round(self.predicted_tflops, 2),
                "measured_tflops": None if self.measured_tflops is None else round(self.measured_tflops, 2),
                "new_errors": list(self.new_errors)}


def embedding_params(m: ModelConfig) -> int:
    """The v x h input embedding, and a second v x h matrix for an output head not tied to it."""
    return m.vocab * m.hidden * (1 if m.tied_embeddings else 2)


def param_count(m: ModelConfig) -> int:
    """Weights of the layers' GEMMs plus the embedding and an untied output head (biases and norms ignored)."""
    d = m.d_head
    attention = m.hidden * (m.heads + 2 * m.n_kv_heads) * d + m.heads * d * m.hidden
    mlp = (3 if m.gated else 2) * m.hidden * m.ffn
    return m.layers * (attention + mlp) + embedding_params(m)


def _score(m: ModelConfig, knob: str, gpu, layout: Layout) -> float:
    return estimate_layer(m, gpu, layout, only=SCORED_GEMMS[knob]).tflops


def _fits(m: ModelConfig, layout: Layout) -> bool:
    """The candidate is a valid config and t splits it (whole heads, kv heads, MLP per GPU)."""
    try:
        validate(m)
    except ModelConfigError:
        return False
    t = layout.t
    kv = m.n_kv_heads
    return m.heads % t == 0 and m.ffn % t == 0 and (kv % t == 0 or t % kv == 0)


def _with_heads(m: ModelConfig, heads: int) -> ModelConfig | None:
    """The model with `heads` heads at the same attention width (a*d) and GQA group size."""
    width = m.heads * m.d_head
    if width % heads:
        return None
    group = m.heads // m.n_kv_heads
    if heads % group:
        return None
    explicit = m.head_dim is not None and m.head_dim * m.heads != m.hidden
    kv = None if m.kv_heads is None or m.kv_heads == m.heads else heads // group
    return dataclasses.replace(m, heads=heads, kv_heads=kv, head_dim=width // heads if explicit else None)


def head_candidates(m: ModelConfig, gpu, layout: Layout) -> list[Candidate]:
    width = m.heads * m.d_head
    found = []
    for a in range(max(1, m.heads // 2), 2 * m.heads + 1):
        if a == m.heads or width % a or not 32 <= width // a <= 256:
            continue
        changed = _with_heads(m, a)
        if changed is None or not _fits(changed, layout):
            continue
        change = f"a {m.heads} -> {a} (h/a {m.d_head} -> {changed.d_head})"
        if changed.kv_heads is not None:
            change += f", kv {m.n_kv_heads} -> {changed.n_kv_heads}"
        found.append(Candidate("heads", change, changed, param_count(changed), _score(changed, "heads", gpu, layout)))
    return found


def ffn_candidates_for(m: ModelConfig, gpu, layout: Layout) -> list[Candidate]:
    found = []
    for ffn, _ in ffn_candidates(m, gpu, layout, center=ffn_center(m)):
        if ffn == m.ffn:
            continue
        changed = dataclasses.replace(m, ffn=ffn)
        note = f", ffn/h {ffn / m.hidden:.4f}" + (" (8h/3 = {:.1f})".format(8 * m.hidden / 3) if m.gated else "")
        found.append(Candidate("ffn", f"ffn {m.ffn} -> {ffn}{note}", changed, param_count(changed),
                               _score(changed, "ffn", gpu, layout)))
    return found


def vocab_candidates(m: ModelConfig, gpu, layout: Layout) -> list[Candidate]:
    found = []
    for multiple in sorted({POW2_GOAL * layout.t, 2 * POW2_GOAL * layout.t, 4 * POW2_GOAL * layout.t}):
        padded = -(-m.vocab // multiple) * multiple
        if padded == m.vocab or any(c.model.vocab == padded for c in found):
            continue
        changed = dataclasses.replace(m, vocab=padded)
        found.append(Candidate("vocab", f"vocab {m.vocab} -> {padded} (multiple of {multiple})", changed,
                               param_count(changed), _score(changed, "vocab", gpu, layout)))
    return found


def hidden_candidates(m: ModelConfig, gpu, layout: Layout) -> list[Candidate]:
    if m.head_dim is not None and m.head_dim * m.heads != m.hidden:
        return []  # the attention width is not tied to h: vary heads instead
    unit = 2 * POW2_GOAL * layout.t
    d = m.d_head if m.d_head % POW2_GOAL == 0 else 128
    group = m.heads // m.n_kv_heads
    target_params = param_count(m) - embedding_params(m)
    found = []
    for h in range(-(-int(m.hidden * 0.9) // unit) * unit, int(m.hidden * 1.1) + 1, unit):
        if h == m.hidden or h % d:
            continue
        a = h // d
        if a % group:
            continue
        ffn = max(unit, round(m.ffn * h / m.hidden / (POW2_GOAL * layout.t)) * POW2_GOAL * layout.t)
        kv = None if m.kv_heads is None or m.kv_heads == m.heads else a // group
        shaped = dataclasses.replace(m, hidden=h, heads=a, kv_heads=kv, head_dim=None, ffn=ffn, layers=1)
        per_layer = param_count(shaped) - embedding_params(shaped)
        layers = max(1, round(target_params / per_layer))
        changed = dataclasses.replace(shaped, layers=layers)
        if not _fits(changed, layout):
            continue
        change = f"h {m.hidden} -> {h}, a {m.heads} -> {a} (h/a {d}), ffn {m.ffn} -> {ffn}, L {m.layers} -> {layers}"
        found.append(Candidate("hidden", change, changed, param_count(changed), _score(changed, "hidden", gpu, layout)))
    return found


def _errors(m: ModelConfig, gpu, layout: Layout) -> set[str]:
    return {f.rule for f in evaluate(m, gpu, layout).errors}


def rank(items: list[Candidate]) -> list[Candidate]:
    """Best first; candidates flagged with a broken rule (see Candidate.new_errors) go last."""
    return sorted(items, key=lambda c: (bool(c.new_errors), -c.score))


def candidates(m: ModelConfig, gpu, layout: Layout) -> dict[str, list[Candidate]]:
    """Per knob: the current model first, then the candidates ranked by prediction (best first)."""
    generators = {"heads": head_candidates, "ffn": ffn_candidates_for, "vocab": vocab_candidates, "hidden": hidden_candidates}
    current_errors = _errors(m, gpu, layout)
    out = {}
    for knob in KNOBS:
        current = Candidate(knob, "current", m, param_count(m), _score(m, knob, gpu, layout))
        found = []
        for c in generators[knob](m, gpu, layout):
            errors = _errors(c.model, gpu, layout)
            flags = (errors & KNOB_RULES[knob]) | (errors - current_errors)
            found.append(dataclasses.replace(c, new_errors=tuple(sorted(flags))))
        out[knob] = [current, *rank(found)]
    return out


def recommend(m: ModelConfig, ranked: dict[str, list[Candidate]], gpu, layout: Layout) -> Candidate | None:
    """The heads, ffn and vocab choices that break no new rule and beat the current model by more than 2%
    (on the knob's own score), applied together."""
    changed, notes = m, []
    for knob in ("heads", "ffn", "vocab"):
        current, *others = ranked[knob]
        best = max((c for c in others if not c.new_errors), key=lambda c: c.score, default=None)
        if best is None:
            continue
        if best.score > RECOMMEND_GAIN * current.score:
            field = {"heads": ("heads", "kv_heads", "head_dim"), "ffn": ("ffn",), "vocab": ("vocab",)}[knob]
            changed = dataclasses.replace(changed, **{f: getattr(best.model, f) for f in field})
            notes.append(best.change)
    if not notes:
        return None
    return Candidate("all", "; ".join(notes), changed, param_count(changed),
                     estimate_layer(changed, gpu, layout).tflops)


# ------------------------------------------------------------------------------------------------ measure


def measure(ranked: dict[str, list[Candidate]], gpu, layout: Layout, per_knob: int) -> dict[str, list[Candidate]]:
    """Time each candidate's scored GEMMs on the GPU present and rank by measured TFLOP/s (needs that GPU)."""
    from perf import gpus
    from perf.measure import timing
    from perf.suite.gemm_specs import Workload, specs_for_config
    from perf.measure.target import Target

    target = Target(gpu=gpu, present=gpus.detect(), dtype=layout.dtype)
    if target.is_cpu:
        raise InputError("--measure needs a GPU: none is present (drop --measure for the prediction)")
    if not target.can_time:
        raise InputError(f"--measure: {target.mismatch()}")
    settings = timing.TimingSettings(max_time_s=0.5)
    out = {}
    for knob, items in ranked.items():
        timed = []
        for i, c in enumerate(items[: per_knob + 1]):
            w = Workload(f"{c.model.name}-{knob}{i}", b=layout.b, s=layout.seq(c.model), t=layout.t)
            flops, seconds = 0, 0.0
            for spec in specs_for_config(c.model, w, layout.dtype):
                if spec.params["gemm"] not in SCORED_GEMMS[knob]:
                    continue
                prepared = spec.build(target)
                if prepared.verify:
                    prepared.verify()
                samples = timing.measure(prepared, target, settings, cold_l2=spec.cold_l2)
                flops += spec.flops
                seconds += statistics.median(samples.samples_ms) / 1e3
            timed.append(dataclasses.replace(c, measured_tflops=flops / seconds / 1e12))
        current, *others = timed
        out[knob] = [current, *rank(others)]
    return out


# ------------------------------------------------------------------------------------------------ output


def _params(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e8 else f"{n / 1e6:.0f} M"


def text(m: ModelConfig, gpu, layout: Layout, ranked: dict[str, list[Candidate]], best: Candidate | None,
         shown: int, note: str = "") -> list[str]:
    measured = any(c.measured_tflops is not None for items in ranked.values() for c in items)
    peak = peak_tflops(gpu, layout.dtype)
    lines = [f"{m.name}: h={m.hidden} a={m.heads} kv={m.n_kv_heads} d={m.d_head} L={m.layers} v={m.vocab} ffn={m.ffn} "
             f"{m.activation}, {_params(param_count(m))} parameters",
             f"on {gpu.key} ({gpu.sms} SMs, {peak:.0f} TFLOP/s {layout.dtype} peak){' [' + note + ']' if note else ''}; "
             f"{layout.describe(m)}",
             *(f"  {n}" for n in context_notes(m, seq_given=layout.s is not None)),
             "ranked by " + ("measured TFLOP/s (--measure)" if measured else
                             "predicted TFLOP/s: roofline x tile/wave quantization x tensor-core alignment per GEMM")]
    for knob in KNOBS:
        current, *others = ranked[knob]
        if not others:
            continue
        lines += ["", f"{knob}: ranked by the {SCORE_NAME[knob]}'s TFLOP/s"]
        header = ("rank", "change", "params", "pred. TFLOP/s", "vs current") + (("measured", "vs current") if measured else ())
        rows = []
        for rank, c in enumerate(others[:shown], 1):
            rows.append(_row(str(rank), c, current, measured))
        rows.append(_row("*", current, current, measured))
        lines += format_table(header, rows)
        if any(c.new_errors for c in others[:shown]):
            lines.append("(rows marked [breaks RULE] break an error-level shape rule; they are ranked after every row "
                         "that breaks none, whatever their TFLOP/s)")
        if len(others) > shown:
            lines.append(f"({len(others) - shown} more; --show N lists more)")
    current_layer = estimate_layer(m, gpu, layout).tflops
    lines.append("")
    if best is None:
        lines.append("recommendation: keep the shape; no heads, ffn or vocab change that breaks no rule gains more than 2%")
    else:
        lines.append(f"recommendation: {best.change}: predicted layer {current_layer:.0f} -> {best.predicted_tflops:.0f} "
                     f"TFLOP/s (x{best.predicted_tflops / current_layer:.2f}), {_params(best.params)} parameters")
    return lines


def _row(rank: str, c: Candidate, current: Candidate, measured: bool) -> tuple[str, ...]:
    change = c.change if not c.is_current else f"current ({_current_label(c)})"
    if c.new_errors:
        change += f"  [breaks {', '.join(c.new_errors)}]"
    row = (rank, change, _params(c.params), f"{c.predicted_tflops:.0f}", f"x{c.predicted_tflops / current.predicted_tflops:.3f}")
    if measured:
        if c.measured_tflops is None:
            row += ("-", "-")
        else:
            row += (f"{c.measured_tflops:.0f}", f"x{c.measured_tflops / current.measured_tflops:.3f}")
    return row


def _current_label(c: Candidate) -> str:
    m = c.model
    return {"heads": f"a = {m.heads}, h/a = {m.d_head}", "ffn": f"ffn = {m.ffn}", "vocab": f"vocab = {m.vocab}",
            "hidden": f"h = {m.hidden}, L = {m.layers}"}[c.knob]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perf advise", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="PATH_OR_NAME",
                        help="registered model name, TOML model file (one model) or Hugging Face config.json")
    add_layout_options(parser)
    parser.add_argument("--model", metavar="NAME", help="the model to advise on when the TOML file holds several")
    parser.add_argument("--show", type=int, default=5, metavar="N", help="candidates shown per knob (default 5)")
    parser.add_argument("--measure", action="store_true", help="time the candidates' GEMMs on the GPU present")
    parser.add_argument("--json", action="store_true", help="print the candidates as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parse(_parser(), list(sys.argv[1:] if argv is None else argv))
    if isinstance(args, int):
        return args
    try:
        gpu, note = gpu_for(args.gpu)
        layout = check_layout(layout_from(args))
        found = load_models(args.target, seq=args.seq)
        if args.model:
            found = [m for m in found if m.name == args.model] or _no_such(args.target, args.model, found)
        if len(found) > 1:
            raise InputError(f"{args.target}: holds {len(found)} models ({', '.join(m.name for m in found)}); "
                             f"name one with --model")
        model = validate(found[0])
        try:
            ranked = candidates(model, gpu, layout)
        except ShapeError as exc:
            raise InputError(f"{model.name}: the layout does not split the model: {exc} "
                             f"(python -m perf lint shows the rules it breaks)") from None
        if args.measure:
            ranked = measure(ranked, gpu, layout, args.show)
        best = recommend(model, ranked, gpu, layout)
    except (ModelConfigError, InputError) as exc:
        print(f"perf advise: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "exit_code": EXIT_USAGE}, indent=2))
        return EXIT_USAGE
    if args.json:
        doc = {"model": model.name, "gpu": gpu.key, "gpu_note": note, "layout": dataclasses.asdict(layout),
               "current_layer_tflops": round(estimate_layer(model, gpu, layout).tflops, 2),
               "candidates": {k: [c.as_dict() for c in v] for k, v in ranked.items()},
               "recommendation": best.as_dict() if best else None}
        print(json.dumps(doc, indent=2))
    else:
        print("\n".join(text(model, gpu, layout, ranked, best, args.show, note)))
    return EXIT_OK


def _no_such(target: str, name: str, found: list[ModelConfig]):
    raise InputError(f"{target}: no model {name!r}; it holds {', '.join(m.name for m in found)}")
