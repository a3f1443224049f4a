"""The A/B comparison of two revisions measured in interleaved rounds: pure functions from per-round medians to
a change with its confidence interval and a verdict.

Each round measures both sides once (one process each); a benchmark's rounds give paired log-ratios
d_i = ln(HEAD_i / BASE_i). The change is the Hodges-Lehmann estimate (the median of the Walsh averages
(d_i + d_j) / 2, i <= j) and its interval is the exact Wilcoxon signed-rank interval: distribution-free, exact
for few rounds, and one round disturbed by a load spike moves neither much (docs/ab.md says why this method).
The order of the sides follows the Thue-Morse sequence (AB BA BA AB BA AB AB BA ...): each side runs first in
half the rounds, and drift that is linear in time cancels over every four rounds.

More rounds for what is still unreliable: a fixed schedule of looks (the first after the requested rounds, the
later ones at multiples of it) with the error split over the looks (Bonferroni): the first look spends what its
exact interval spends, the later ones share the rest of the 5% equally, so that looking again cannot raise the
rate of false regressions above the nominal one (docs/ab.md, "More rounds where needed").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

from perf.verdict.stats import Verdict

CONFIDENCE = 0.95
MIN_ROUNDS = 2  # one round gives no interval
FIRST_LOOK_SHARE = 2 / 3  # of the 5% error, what the first look may spend when later looks follow
LATER_LOOKS = (2, 3, 4, 6, 8)  # the later looks, in multiples of the first look's rounds (6: 12, 18, 24, 36, 48)


def order(rounds: int) -> list[tuple[str, str]]:
    """The sides' order in each round: ("A", "B") or ("B", "A") by the parity of the round's bit count."""
    return [("B", "A") if bin(r).count("1") % 2 else ("A", "B") for r in range(rounds)]


def order_text(rounds: int) -> str:
    """The order as it is printed: 'ABBA BAAB ...' in groups of two rounds."""
    flat = ["".join(sides) for sides in order(rounds)]
    return " ".join("".join(flat[i:i + 2]) for i in range(0, len(flat), 2))


def signed_rank_counts(n: int) -> list[int]:
    """How many of the 2**n sign patterns of ranks 1..n give each signed-rank sum T+ = 0 .. n(n+1)/2."""
    counts = [1]
    for rank in range(1, n + 1):
        grown = counts + [0] * rank
        for total, ways in enumerate(counts):
            grown[total + rank] += ways
        counts = grown
    return counts


def interval_rank(n: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """The order statistic k (1-based) of the sorted Walsh averages that bounds the interval [W_k, W_{M+1-k}],
    and the confidence it achieves: the largest k whose two tails together hold at most 1 - confidence. With
    fewer than six rounds no k reaches 95%: k = 1 (the range of the Walsh averages) and its lower confidence."""
    counts = signed_rank_counts(n)
    total = 2 ** n
    alpha_half = (1 - confidence) / 2
    k, below = 1, counts[0]  # below = ways with T+ <= k - 1
    while k < len(counts) and below + counts[k] <= alpha_half * total:
        below += counts[k]
        k += 1
    return k, 1 - 2 * sum(counts[:k]) / total


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


@dataclass(frozen=True)
class Interval:
    """The paired change HEAD / BASE - 1 (positive is slower) and its confidence interval."""
    change: float
    low: float
    high: float
    confidence: float  # achieved (exact) confidence of the interval
    pairs: int


def paired_change(base_ms: Sequence[float], head_ms: Sequence[float],
                  confidence: float = CONFIDENCE) -> Interval:
    """The change of HEAD against BASE from per-round medians paired by round."""
    if len(base_ms) != len(head_ms):
        raise ValueError(f"paired_change: {len(base_ms)} BASE rounds but {len(head_ms)} HEAD rounds")
    if len(base_ms) < MIN_ROUNDS:
        raise ValueError(f"paired_change: needs at least {MIN_ROUNDS} paired rounds, got {len(base_ms)}")
    if any(not (x > 0 and math.isfinite(x)) for x in [*base_ms, *head_ms]):
        raise ValueError("paired_change: medians must be positive finite times")
    d = [math.log(h / b) for b, h in zip(base_ms, head_ms)]
    walsh = sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))
    k, achieved = interval_rank(len(d), confidence)
    return Interval(change=math.expm1(_median(walsh)), low=math.expm1(walsh[k - 1]),
                    high=math.expm1(walsh[len(walsh) - k]), confidence=achieved, pairs=len(d))


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def decide(interval: Interval, threshold: float) -> tuple[Verdict, str]:
    """The verdict of a paired change against the threshold (a fraction, e.g. 0.02).

    regression   the interval lies beyond the threshold; or it excludes no change, reaches the threshold and is
                 narrow enough (no wider than the threshold, in log terms) to tell the two apart
    improvement  the same, faster (the threshold taken symmetrically in log terms: 1 / (1 + t))
    unreliable   the interval is wider than the threshold and holds a threshold-sized change: more rounds needed
    pass         otherwise (no change, or a change the interval keeps under the threshold)
    """
    if threshold <= 0:
        raise ValueError(f"decide: threshold must be positive, got {threshold}")
    t = math.log1p(threshold)
    lo, hi = math.log1p(interval.low), math.log1p(interval.high)
    narrow = hi - lo <= t
    said = (f"{_pct(interval.change)} [{_pct(interval.low)}, {_pct(interval.high)}] "
            f"({interval.confidence:.1%} interval, {interval.pairs} rounds)")
    if lo > t:
        return Verdict.REGRESSION, f"{said}: slower, the whole interval beyond the {threshold:.1%} threshold"
    if hi < -t:
        return Verdict.IMPROVEMENT, f"{said}: faster, the whole interval beyond the {threshold:.1%} threshold"
    if narrow and lo > 0 and hi >= t:
        return Verdict.REGRESSION, f"{said}: slower, the interval excludes no change and reaches the threshold"
    if narrow and hi < 0 and lo <= -t:
        return Verdict.IMPROVEMENT, f"{said}: faster, the interval excludes no change and reaches the threshold"
    if lo <= t <= hi or lo <= -t <= hi:
        return Verdict.UNRELIABLE, (f"{said}: the interval is wider than the {threshold:.1%} threshold and holds "
                                    "a change of that size: more rounds needed")
    return Verdict.PASS, f"{said}: within the {threshold:.1%} threshold"


@dataclass(frozen=True)
class Paired:
    """One benchmark's A/B outcome."""
    verdict: Verdict
    reason: str
    interval: Interval | None
    base_ms: tuple[float | None, ...]  # per round (None: not measured in that round)
    head_ms: tuple[float | None, ...]
    dropped: tuple[int, ...] = ()  # rounds left out (throttled on a side, or missing on a side)
    look: int = 1  # the look (1-based) that decided it
    more_rounds_help: bool = True  # False where more rounds cannot resolve it (the sides timed differently)


def compare_rounds(base_ms: Sequence[float | None], head_ms: Sequence[float | None], threshold: float, *,
                   dropped: Sequence[int] = (), confidence: float = CONFIDENCE) -> Paired:
    """One benchmark: per-round medians of both sides (None where a side has none for that round), the rounds to
    leave out (e.g. throttled), the verdict."""
    left_out = sorted({*dropped, *(i for i, (b, h) in enumerate(zip(base_ms, head_ms)) if b is None or h is None)})
    pairs = [(b, h) for i, (b, h) in enumerate(zip(base_ms, head_ms)) if i not in left_out]
    if len(pairs) < MIN_ROUNDS:
        return Paired(Verdict.UNRELIABLE, f"{len(pairs)} usable rounds of {len(base_ms)}: at least {MIN_ROUNDS} "
                      "are needed for an interval", None, tuple(base_ms), tuple(head_ms), tuple(left_out))
    interval = paired_change([b for b, _ in pairs], [h for _, h in pairs], confidence)
    verdict, reason = decide(interval, threshold)
    if left_out:
        reason += f"; rounds {', '.join(str(i + 1) for i in left_out)} left out"
    return Paired(verdict, reason, interval, tuple(base_ms), tuple(head_ms), tuple(left_out))


@dataclass(frozen=True)
class Look:
    """One look at the data: a benchmark's verdict is taken once it has `rounds` rounds, its interval at
    `confidence`; `alpha` is the two-sided error this look may spend."""
    rounds: int
    confidence: float
    alpha: float


def looks(first_rounds: int, later: Sequence[int] = LATER_LOOKS, total_alpha: float = 1 - CONFIDENCE) -> list[Look]:
    """The fixed schedule of looks. Without later looks: one look, the plain A/B at 95%. With them, the error
    `total_alpha` (5%) is split over the looks before any data is seen (Bonferroni over looks: the chance of a
    false regression at any look is at most the sum of the looks' halves): the first look, after
    `first_rounds`, takes the widest exact interval that spends at most FIRST_LOOK_SHARE of it (6 rounds: the
    range, 3.125%, the plain A/B's own interval), and the later looks, at the multiples `later` of the first
    rounds, share the rest equally (6 rounds: 0.375% each, 99.6% intervals at 12, 18, 24, 36 and 48 rounds).
    Fewer than six first rounds spend more than that share at once: then there is no later look."""
    if first_rounds < MIN_ROUNDS:
        raise ValueError(f"looks: needs at least {MIN_ROUNDS} first rounds, got {first_rounds}")
    plain = Look(first_rounds, 1 - total_alpha, 1 - interval_rank(first_rounds, 1 - total_alpha)[1])
    multiples = sorted({m for m in later if m > 1})
    first_alpha = FIRST_LOOK_SHARE * total_alpha
    spent = 1 - interval_rank(first_rounds, 1 - first_alpha)[1]
    if not multiples or spent > first_alpha + 1e-12:
        return [plain]
    share = (total_alpha - spent) / len(multiples)
    return [Look(first_rounds, 1 - first_alpha, spent),
            *(Look(first_rounds * m, 1 - share, share) for m in multiples)]


def compare_looks(base_ms: Sequence[float | None], head_ms: Sequence[float | None], threshold: float,
                  schedule: Sequence[Look], *, dropped: Sequence[int] = ()) -> Paired:
    """One benchmark under the schedule of looks: the verdict of the first look (in order) that is not
    unreliable, among the looks whose rounds are all there; rounds after the last such look are not used. Before
    the first look is complete (an interrupted run), the rounds there are, at the first look's confidence."""
    if len(base_ms) != len(head_ms):
        raise ValueError(f"compare_looks: {len(base_ms)} BASE rounds but {len(head_ms)} HEAD rounds")
    if not schedule:
        raise ValueError("compare_looks: needs at least one look")
    if len(base_ms) < schedule[0].rounds:
        return compare_rounds(base_ms, head_ms, threshold, dropped=dropped, confidence=schedule[0].confidence)
    paired = None
    for number, look in enumerate(schedule, start=1):
        n = look.rounds
        if len(base_ms) < n:
            break
        paired = replace(compare_rounds(base_ms[:n], head_ms[:n], threshold, dropped=[d for d in dropped if d < n],
                                        confidence=look.confidence), look=number)
        if paired.verdict is not Verdict.UNRELIABLE:
            break
    return paired


def needs_more_rounds(paired: Paired) -> bool:
    """Unreliable, and more rounds could resolve it (not when the two sides timed it with different methods)."""
    return paired.verdict is Verdict.UNRELIABLE and paired.more_rounds_help


@dataclass(frozen=True)
class Row:
    """A benchmark measured on both sides: its outcome, and the records of the last round of each side."""
    key: str
    paired: Paired
    base_record: dict
    head_record: dict


@dataclass(frozen=True)
class Sides:
    rows: list[Row]
    added: list[str]  # measured on HEAD only
    removed: list[str]  # measured on BASE only


Rounds = Sequence[dict[str, dict]]  # per round: key -> results-file record of that side


def _method_clash(base: Sequence[dict | None], head: Sequence[dict | None]) -> str | None:
    methods = {(r or {}).get("method") for r in [*base, *head] if r is not None}
    return f"timed with {' and '.join(sorted(map(str, methods)))} on the two sides: not comparable" \
        if len(methods) > 1 else None


def compare_sides(base_rounds: Rounds, head_rounds: Rounds, threshold: float,
                  confidence: float = CONFIDENCE, schedule: Sequence[Look] | None = None) -> Sides:
    """Every benchmark of either side: paired by round where both sides have it (a round throttled on either
    side is left out), added or removed where one side alone has it. With a `schedule` of looks, each benchmark's
    verdict is that of compare_looks (the rounds given must end at a look, or lie inside the first)."""
    if len(base_rounds) != len(head_rounds):
        raise ValueError(f"compare_sides: {len(base_rounds)} BASE rounds but {len(head_rounds)} HEAD rounds")
    base_keys = {k for r in base_rounds for k in r}
    head_keys = {k for r in head_rounds for k in r}
    rows = []
    for key in sorted(base_keys & head_keys):
        base = [r.get(key) for r in base_rounds]
        head = [r.get(key) for r in head_rounds]
        throttled = [i for i, (b, h) in enumerate(zip(base, head))
                     if (b or {}).get("throttled") or (h or {}).get("throttled")]
        base_ms = [b["summary"]["median_ms"] if b else None for b in base]
        head_ms = [h["summary"]["median_ms"] if h else None for h in head]
        paired = compare_rounds(base_ms, head_ms, threshold, dropped=throttled, confidence=confidence) \
            if schedule is None else compare_looks(base_ms, head_ms, threshold, schedule, dropped=throttled)
        clash = _method_clash(base, head)
        if clash:
            paired = Paired(Verdict.UNRELIABLE, clash, paired.interval, paired.base_ms, paired.head_ms,
                            paired.dropped, paired.look, more_rounds_help=False)
        rows.append(Row(key, paired, next(b for b in reversed(base) if b), next(h for h in reversed(head) if h)))
    return Sides(rows, sorted(head_keys - base_keys), sorted(base_keys - head_keys))
