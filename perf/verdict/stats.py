"""Pure functions from measurements to a verdict: one measurement against its baseline entry (with the noise
model of perf/verdict/noise.py), and the decision over a measurement and its independent re-measures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Sequence

from perf.measure.summary import Summary
from perf.verdict import noise


class Verdict(str, Enum):
    PASS = "pass"
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NEW = "new"
    UNRELIABLE = "unreliable"


@dataclass(frozen=True)
class Reference:
    """A baseline entry as a verdict sees it."""
    summary: Summary
    runs: int = 1  # independent runs behind the entry
    sigma: float = 0.0  # between-run sigma to use (relative; already pooled with the family's)
    sigma_known: bool = False  # False: the entry had one run and a family or default sigma stands in
    method: str | None = None  # the timing method's label ("cuda-events", "cuda-profiler", ...)
    flags: tuple[str, ...] = ()  # quality flags written by the refresh ("throttled", "noisy")


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    change: float | None  # now / baseline - 1 (positive is slower)
    noise: float | None  # within-run noise of both medians
    threshold: float
    reason: str = ""
    tolerance: float | None = None  # the change that counts (the noise model's largest term)
    tolerance_source: str = ""
    throttled: bool = False  # the measurement throttled: it decides nothing


def _pct(x: float) -> str:
    return f"{x:.1%}"


def compare(current: Summary, reference: Reference | None, threshold: float, *, throttled: bool = False,
            method: str | None = None, tick_ms: float = 0.0, k: float = noise.K_BETWEEN_RUNS) -> Comparison:
    """The verdict of `current` against its baseline entry (lower time is better)."""
    if reference is None:
        return Comparison(Verdict.NEW, None, None, threshold, "no baseline entry")
    base = reference.summary
    change = current.median_ms / base.median_ms - 1.0
    within = current.rel_noise + base.rel_noise
    if method and reference.method and method != reference.method:
        return Comparison(Verdict.UNRELIABLE, change, within, threshold,
                          f"measured with {method}, the baseline with {reference.method}: not comparable; "
                          f"refresh the baseline", throttled=throttled)
    tol = noise.tolerance(threshold=threshold, sigma=reference.sigma, sigma_known=reference.sigma_known,
                          runs=reference.runs, noise_now=current.rel_noise, noise_base=base.rel_noise,
                          tick_ms=tick_ms, base_median_ms=base.median_ms, k=k)
    where = f"tolerance {_pct(tol.value)} from the {tol.source}"
    if tol.source == "between-run spread" and not tol.sigma_known:
        where += f" (one-run baseline: the family's sigma {_pct(tol.sigma)} stands in)"
    if reference.flags:
        where += f"; baseline entry flagged {', '.join(reference.flags)}"

    def result(verdict: Verdict, reason: str) -> Comparison:
        return Comparison(verdict, change, within, threshold, f"{reason} ({where})", tol.value, tol.source, throttled)

    if tol.noise >= noise.BLIND:
        return result(Verdict.UNRELIABLE, "blind: this benchmark's noise would hide a 2x slowdown")
    if change > tol.value:
        if throttled:
            return result(Verdict.UNRELIABLE, "the GPU throttled while measuring")
        return result(Verdict.REGRESSION, "slower beyond threshold and noise")
    if change < -tol.value:
        return result(Verdict.IMPROVEMENT, "faster beyond threshold and noise")
    if change > threshold and tol.source == "within-run noise":
        return result(Verdict.UNRELIABLE, "slower, but within the measurements' noise")
    if change > threshold:
        return result(Verdict.PASS, "slower than the threshold, but within the between-run spread")
    return result(Verdict.PASS, "within the tolerance")


MAX_MEASURES = 3  # a measurement and at most two independent re-measures


def needs_remeasure(history: Sequence[Comparison]) -> bool:
    """Measure again? After a throttled measurement, and after a regression or an improvement that no earlier clean
    measurement confirms; never more than MAX_MEASURES in all."""
    if not history or len(history) >= MAX_MEASURES:
        return False
    last = history[-1]
    if last.throttled:
        return True
    earlier = [c for c in history[:-1] if not c.throttled]
    return last.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT) and not any(
        c.verdict is last.verdict for c in earlier)


def confirms_in_process(history: Sequence[Comparison]) -> bool:
    """Whether the re-measure that needs_remeasure asks for may be a second window of the same process: for an
    improvement it may (a window read while the GPU was cooler than usual, after another process had it, reads
    fast; the next window, at the process's own power state, says whether it was). A regression is confirmed in a
    fresh process, so that one process's state cannot fail a benchmark."""
    return bool(history) and not history[-1].throttled and history[-1].verdict is Verdict.IMPROVEMENT


def decide(history: Sequence[Comparison]) -> tuple[Comparison, int]:
    """The verdict over a measurement and its re-measures, and the index of the measurement it rests on.
    Throttled measurements decide nothing; a regression stands only when two clean measurements show it."""
    if not history:
        raise ValueError("decide() needs at least one comparison")
    clean = [(i, c) for i, c in enumerate(history) if not c.throttled]
    if not clean:
        last = history[-1]
        return _with(last, Verdict.UNRELIABLE, f"throttled in all {len(history)} measurements") if \
            last.verdict is not Verdict.NEW else last, len(history) - 1
    changes = ", then ".join(f"{c.change:+.1%}" for _, c in clean if c.change is not None)
    regressions = [i for i, c in clean if c.verdict is Verdict.REGRESSION]
    if len(regressions) >= 2:
        i = regressions[-1]
        return _with(history[i], Verdict.REGRESSION, f"slower beyond threshold and noise, confirmed by an "
                                                     f"independent re-measure ({changes})"), i
    if regressions:
        i, last = clean[-1]
        if i == regressions[0]:
            return _with(last, Verdict.UNRELIABLE, f"regressed by {last.change:+.1%}, but no clean re-measure "
                                                   f"could confirm it"), i
        return _with(last, Verdict.UNRELIABLE, f"regressed by {history[regressions[0]].change:+.1%}, but an "
                                               f"independent re-measure gave {last.change:+.1%}"), i
    improvements = [i for i, c in clean if c.verdict is Verdict.IMPROVEMENT]
    if len(improvements) >= 2:
        i = improvements[-1]
        return _with(history[i], Verdict.IMPROVEMENT, f"faster beyond threshold and noise, confirmed by a second "
                                                      f"measurement ({changes})"), i
    i, last = clean[-1]
    if improvements and i != improvements[0]:
        return _with(last, last.verdict, f"faster by {history[improvements[0]].change:+.1%} in one measurement, but "
                                         f"a second gave {last.change:+.1%}; {last.reason}"), i
    if improvements and len(history) >= MAX_MEASURES:
        return _with(last, Verdict.PASS, f"faster by {last.change:+.1%}, but no clean second measurement could "
                                         f"confirm it"), i
    if i > 0 and last.verdict is not Verdict.NEW:
        return _with(last, last.verdict, f"re-measured after a throttled measurement; {last.reason}".rstrip("; ")), i
    return last, i


def on_sibling(confirmed: Comparison, sibling: Comparison, gpu: str, sibling_gpu: str) -> Comparison:
    """A regression confirmed on `gpu`, measured once more on `sibling_gpu` (another GPU of the kind, on the same host).
    A change in the code slows both: where the sibling shows the regression too it stands; where the sibling reads
    within the tolerance (pass, or faster), `gpu` is the suspect, not the code (unreliable); a sibling that could not
    say (throttled, or unreliable itself: noise that hides the change) decides nothing."""
    if confirmed.verdict is not Verdict.REGRESSION:
        raise ValueError("on_sibling() takes a confirmed regression")
    change = f"{sibling.change:+.1%}" if sibling.change is not None else "no change"
    if sibling.throttled or sibling.verdict is Verdict.UNRELIABLE:
        why = "was throttled" if sibling.throttled else "was too noisy"
        return _with(confirmed, Verdict.REGRESSION, f"{confirmed.reason}; its sibling {sibling_gpu} {why} "
                                                    f"({change}) and could not say")
    if sibling.verdict is Verdict.REGRESSION:
        return _with(confirmed, Verdict.REGRESSION, f"{confirmed.reason}, and on its sibling {sibling_gpu} ({change})")
    return _with(confirmed, Verdict.UNRELIABLE, f"slower on {gpu} only ({confirmed.change:+.1%}, confirmed there; "
                                                f"{change} on its sibling {sibling_gpu}): a change in the code would "
                                                f"slow both, so {gpu} is the suspect")


def _with(c: Comparison, verdict: Verdict, reason: str) -> Comparison:
    return replace(c, verdict=verdict, reason=reason)
