"""The rules that decide the claims of claims.toml, one function per rule, listed in RULES.

Each rule has `check(fields) -> problem | None` (the claim's own fields, checked when the file loads) and
`decide(fields, evidence) -> (holds, numbers, details)`; it raises claim_evidence.Missing naming the benchmark patterns
without a record. Throughputs of several GEMMs are their FLOPs over their summed time (claim_evidence.tflops).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable, Mapping

from perf.shape.claim_evidence import ClaimError, Evidence, Missing, expand, median_ms, tflops
from perf.shape.estimate import alignment_efficiency
from perf.shape.shapes import DTYPE_BYTES
from perf.shape.wave_agreement import agreement

Decision = tuple[bool, str, list[str]]


@dataclass(frozen=True)
class Rule:
    check: Callable[[Mapping], str | None]
    decide: Callable[[Mapping, Evidence], Decision]


def _needs(fields: Mapping, **kinds) -> str | None:
    """A problem with the claim's fields: each named field present with the expected type."""
    for name, kind in kinds.items():
        value = fields.get(name)
        if kind is list:
            if not isinstance(value, list) or not value:
                return f"field {name!r} must be a non-empty list"
        elif kind is float:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                return f"field {name!r} must be a non-negative number"
        elif not isinstance(value, kind):
            return f"field {name!r} must be a {kind.__name__}"
    return None


def _needs_keys(fields: Mapping, name: str, keys: tuple[str, ...]) -> str | None:
    for i, item in enumerate(fields.get(name) or ()):
        if not isinstance(item, Mapping) or any(not item.get(k) for k in keys):
            return f"field {name!r}[{i}] must give {', '.join(keys)}"
    return None


def _group(evidence: Evidence, pattern: str, each) -> list[Mapping]:
    return evidence.records_of(expand(pattern, each=each))


def _all_or_missing(evidence: Evidence, patterns: list[str], each) -> dict[str, list[Mapping]]:
    """Each pattern's records; one Missing naming everything absent."""
    found, missing = {}, []
    for pattern in dict.fromkeys(patterns):
        try:
            found[pattern] = _group(evidence, pattern, each)
        except Missing as exc:
            missing += exc.patterns
    if missing:
        raise Missing(missing)
    return found


# ------------------------------------------------------------------------------------------- ordered_throughput

def _check_ordered(fields):
    return _needs(fields, groups=list) or _needs_keys(fields, "groups", ("label", "pattern"))


def _decide_ordered(fields, evidence) -> Decision:
    groups = fields["groups"]
    found = _all_or_missing(evidence, [g["pattern"] for g in groups], fields.get("each"))
    rates = [(g["label"], tflops(found[g["pattern"]])) for g in groups]
    holds = all(a[1] < b[1] for a, b in zip(rates, rates[1:]))
    numbers = " < ".join(f"{label} {rate:.0f}" for label, rate in rates) + " TFLOP/s"
    if not holds:
        numbers = numbers.replace(" < ", " , ")
    numbers += f"; {rates[-1][0]} / {rates[-2][0]} = {rates[-1][1] / rates[-2][1]:.2f}x"
    return holds, numbers, [f"{label}: {rate:.1f} TFLOP/s" for label, rate in rates]


# ------------------------------------------------------------------------------------------- faster_pairs

def _check_pairs(fields):
    return (_needs(fields, pairs=list, min_gain=float)
            or _needs_keys(fields, "pairs", ("label", "slow", "fast")))


def _decide_pairs(fields, evidence) -> Decision:
    pairs, each = fields["pairs"], fields.get("each")
    found = _all_or_missing(evidence, [p[k] for p in pairs for k in ("slow", "fast")], each)
    details, factors, holds = [], [], True
    for p in pairs:
        slow, fast = tflops(found[p["slow"]]), tflops(found[p["fast"]])
        factor = fast / slow
        ok = factor > 1 + fields["min_gain"]
        holds &= ok
        factors.append(f"{p['label']} x{factor:.2f}")
        details.append(f"{p['label']}: {slow:.0f} -> {fast:.0f} TFLOP/s, x{factor:.2f}"
                       + ("" if ok else f" (not above x{1 + fields['min_gain']:.2f})"))
    return holds, "; ".join(factors) + f" (bar: above x{1 + fields['min_gain']:.2f})", details


# ------------------------------------------------------------------------------------------- swiglu_best_size

def _check_swiglu(fields):
    return _needs(fields, hidden=int, window=float, tie=float, up=str, down=str)


def _decide_swiglu(fields, evidence) -> Decision:
    h, window = fields["hidden"], fields["window"]
    target = 8 * h / 3
    rounded = round(target)
    up_glob, down_glob = (fields[k].format(ffn="*") for k in ("up", "down"))
    sizes = sorted({r["params"]["x"] for r in evidence.matching(up_glob) if isinstance((r.get("params") or {}).get("x"), int)}
                   | {rounded})
    sizes = [s for s in sizes if abs(s - target) <= window * target]

    def mlp_rate(ffn: int) -> float:
        # SwiGLU's MLP: up and gate have the same shape, then down
        up, down = evidence.records_of([fields["up"].format(ffn=ffn), fields["down"].format(ffn=ffn)])
        return (2 * up["flops"] + down["flops"]) / (2 * median_ms(up) + median_ms(down)) / 1e9

    rates = {}
    missing = []
    for s in sizes:
        try:
            rates[s] = mlp_rate(s)
        except Missing as exc:
            missing += exc.patterns
    if rounded not in rates or not any(s % 64 == 0 for s in rates):
        raise Missing(missing or [fields["up"].format(ffn="<a multiple of 64>")])
    best = max(rates, key=rates.get)
    best64 = max((s for s in rates if s % 64 == 0), key=rates.get)
    # sizes closer than `tie` to the fastest are as fast: a measurement does not tell them apart
    tied = rates[best64] >= (1.0 - fields["tie"]) * rates[best]
    holds = tied and rates[best64] > rates[rounded]
    numbers = (f"best {best} ({'a multiple of 64' if best % 64 == 0 else f'{best} % 64 = {best % 64}'}) "
               f"{rates[best]:.0f} TFLOP/s vs 8h/3 rounded = {rounded}: {rates[rounded]:.0f} TFLOP/s "
               f"(x{rates[best] / rates[rounded]:.2f})")
    if best != best64:
        numbers += (f"; best multiple of 64: {best64} {rates[best64]:.0f} TFLOP/s, "
                    f"{1 - rates[best64] / rates[best]:.1%} slower ({'within' if tied else 'beyond'} the "
                    f"{fields['tie']:.0%} tie)")
    details = [f"ffn {s} ({s / h:.4f} h, {s % 64 if s % 64 else 'multiple of 64'}"
               f"{'' if s % 64 == 0 else ' mod 64'}): {rates[s]:.1f} TFLOP/s" for s in sorted(rates)]
    return holds, numbers, details


# ------------------------------------------------------------------------------------------- wave_agreement

def _check_wave(fields):
    return _needs(fields, sweeps=list, min_rho=float, min_hit_share=float, min_agreeing=float)


def sweep_groups(fields: Mapping, evidence: Evidence) -> dict[str, list[Mapping]]:
    groups: dict[str, list[Mapping]] = {}
    missing = []
    for pattern in fields["sweeps"]:
        hits = [r for r in evidence.records if fnmatch.fnmatchcase(str(r.get("group")), pattern)]
        if not hits:
            missing.append(f"group {pattern}")
        for r in hits:
            groups.setdefault(r["group"], []).append(r)
    if missing:
        raise Missing(missing)
    return groups


def _fmt_rho(rho) -> str:
    return "flat" if rho is None else f"{rho:+.2f}"


def _decide_wave(fields, evidence) -> Decision:
    groups = sweep_groups(fields, evidence)
    with_tiles = any(r.get("kernels") for rs in groups.values() for r in rs)
    details, judged, agreeing = [], 0, 0
    for name in sorted(groups):
        assumed = agreement(name, groups[name], use_kernel_tile=False)
        chosen = agreement(name, groups[name], use_kernel_tile=True) if with_tiles else assumed
        verdict = chosen.agrees(fields["min_rho"], fields["min_hit_share"])
        if verdict is not None:
            judged += 1
            agreeing += verdict
        share = "-" if chosen.hit_share is None else f"{chosen.hit_share:.0%}"
        line = (f"{name}: rho {_fmt_rho(chosen.rho)}, predicted dips {list(chosen.predicted_dips)}, measured dips "
                f"{list(chosen.measured_dips)}, hit share {share} [{chosen.tile}]"
                + ("" if verdict is None else " agrees" if verdict else " disagrees"))
        if chosen.misses:
            line += f"; predicted, not measured: {list(chosen.misses)}"
        if chosen.unexplained:
            line += f"; measured, not predicted: {list(chosen.unexplained)}"
        if with_tiles:
            line += (f"; with the assumed 128x256 tile: rho {_fmt_rho(assumed.rho)}, hit share "
                     f"{'-' if assumed.hit_share is None else f'{assumed.hit_share:.0%}'}")
        details.append(line)
    tile = "; tile: " + ("the profiler's kernel names" if with_tiles else "128x256 assumed (no kernel names recorded)")
    if not judged:
        return True, "no sweep has a predicted dip: nothing contradicts the prediction" + tile, details
    holds = agreeing >= fields["min_agreeing"] * judged
    numbers = (f"{agreeing} of {judged} sweeps with predicted dips agree (bar: rho >= {fields['min_rho']}, hit share >= "
               f"{fields['min_hit_share']:.0%}, in at least {fields['min_agreeing']:.0%} of them)" + tile)
    return holds, numbers, details


# ------------------------------------------------------------------------------------------- alignment_penalty

def _check_alignment(fields):
    return (_needs(fields, cases=list, tolerance=float)
            or _needs_keys(fields, "cases", ("label", "dim", "aligned", "off")))


def _decide_alignment(fields, evidence) -> Decision:
    cases = fields["cases"]
    found = _all_or_missing(evidence, [c[k] for c in cases for k in ("aligned", "off")], None)
    align_bytes = evidence.gpu.tc_align_bytes if evidence.gpu is not None and evidence.gpu.tc_align_bytes else 128
    details, holds, tol = [], True, fields["tolerance"]
    for c in cases:
        (aligned,), (off,) = found[c["aligned"]], found[c["off"]]
        value = (off.get("params") or {}).get(c["dim"])
        if not isinstance(value, int) or off.get("dtype") not in DTYPE_BYTES:
            raise ClaimError(f"{off['key']}: the record gives no params.{c['dim']} or a known dtype")
        predicted = 1 / alignment_efficiency(value, DTYPE_BYTES[off["dtype"]], align_bytes)
        measured = tflops([aligned]) / tflops([off])
        ok = predicted / (1 + tol) <= measured <= predicted * (1 + tol)
        holds &= ok
        details.append(f"{c['label']}: measured x{measured:.2f} slower per FLOP, predicted x{predicted:.2f}"
                       + ("" if ok else f" (outside x{predicted / (1 + tol):.2f}-x{predicted * (1 + tol):.2f})"))
    numbers = "; ".join(d.split(" (outside")[0] for d in details)
    return holds, numbers, details


# ------------------------------------------------------------------------------------------- decode

def _check_decode(fields):
    return (_needs(fields, models=list, single=str, max_gap=float)
            or _needs_keys(fields, "models", ("name", "gemms")))


def _model_groups(fields, evidence, patterns: dict[str, str]) -> dict[tuple[str, str], list[Mapping]]:
    """(model, pattern name) -> the records of the model's GEMMs, one Missing for everything absent."""
    found, missing = {}, []
    for m in fields["models"]:
        for name, pattern in patterns.items():
            try:
                found[m["name"], name] = evidence.records_of(expand(pattern, each=m["gemms"], model=m["name"]))
            except Missing as exc:
                missing += exc.patterns
    if missing:
        raise Missing(missing)
    return found


COPY_CEILING = "the copy bandwidth measured in the run (results file: ceilings.measured.bandwidth_gbs)"


def _decide_decode(fields, evidence) -> Decision:
    try:
        found = _model_groups(fields, evidence, {"single": fields["single"]})
    except Missing as exc:
        raise Missing(exc.patterns + ([COPY_CEILING] if evidence.copy_gbs is None else [])) from None
    if evidence.copy_gbs is None:
        raise Missing([COPY_CEILING])
    details, holds = [], True
    for m in fields["models"]:
        records = found[m["name"], "single"]
        gbs = sum(r["bytes"] for r in records) / sum(median_ms(r) for r in records) / 1e6
        share = gbs / evidence.copy_gbs
        ok = share >= 1 - fields["max_gap"]
        holds &= ok
        details.append(f"{m['name']} batch 1: {gbs:.0f} GB/s = {share:.0%} of the {evidence.copy_gbs:.0f} GB/s copy")
    return holds, "; ".join(details) + f" (bar: {1 - fields['max_gap']:.0%})", details


def _check_speculative(fields):
    return (_needs(fields, models=list, single=str, draft=str, drafts=list)
            or _needs_keys(fields, "models", ("name", "gemms")))


def _decide_speculative(fields, evidence) -> Decision:
    patterns = {"single": fields["single"]} | {f"k{k}": fields["draft"].replace("{k}", str(k)) for k in fields["drafts"]}
    found = _model_groups(fields, evidence, patterns)
    details, holds, worst = [], True, 0.0
    for m in fields["models"]:
        one = sum(median_ms(r) for r in found[m["name"], "single"])
        steps = []
        for k in fields["drafts"]:
            verify = sum(median_ms(r) for r in found[m["name"], f"k{k}"])
            ok = verify < k * one
            holds &= ok
            worst = max(worst, verify / (k * one))
            steps.append(f"k={k} {verify / one:.2f} steps")
        details.append(f"{m['name']}: one step {one * 1e3:.0f} us; verifying " + ", ".join(steps))
    return holds, f"verification of k drafts costs at most {worst:.0%} of k single steps; " + "; ".join(details), details


RULES: dict[str, Rule] = {
    "ordered_throughput": Rule(_check_ordered, _decide_ordered),
    "faster_pairs": Rule(_check_pairs, _decide_pairs),
    "swiglu_best_size": Rule(_check_swiglu, _decide_swiglu),
    "wave_agreement": Rule(_check_wave, _decide_wave),
    "alignment_penalty": Rule(_check_alignment, _decide_alignment),
    "decode_bandwidth": Rule(_check_decode, _decide_decode),
    "speculative_verify": Rule(_check_speculative, _decide_speculative),
}
