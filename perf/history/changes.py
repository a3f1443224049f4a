"""Change points in a benchmark's nightly medians, or a side-by-side pair's nightly ratios, with ruptures (PELT on the
l2 cost, through its KernelCPD with the linear kernel, whose search runs in C) and a significance test per change.

ruptures has no significance test of its own, so the penalty is calibrated to each series' measured noise:
the medians are taken in log space and divided by a robust sigma (the median absolute successive difference,
which a step barely moves), and the search then pays `PENALTY_PER_LOG_N * log(n)` per change point (a
BIC-like penalty in units of that sigma). Each change point found must then hold up on its own: a relative
change of the medians of the segments either side of at least `MIN_CHANGE`, and a Mann-Whitney U test between
those segments below `ALPHA`. The constants were chosen on synthetic series with noise drawn from measured
between-run sigmas (perf/history/synthetic.py; the rates are in docs/history.md).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

MIN_SIZE = 3  # runs on each side of a change point
PENALTY_PER_LOG_N = 3.0
MIN_CHANGE = 0.01  # relative change of the segment medians
ALPHA = 0.001  # Mann-Whitney U two-sided p-value
SIGMA_FLOOR = 0.001  # relative: a series of identical medians still gets a finite noise
ENVIRONMENT_FIELDS = ("driver", "cuda", "torch", "triton")


def robust_sigma(log_values: np.ndarray) -> float:
    """The noise of one run in log space, from successive differences (a step adds one large difference)."""
    diffs = np.abs(np.diff(log_values))
    if diffs.size == 0:
        return SIGMA_FLOOR
    return max(float(np.median(diffs)) / (0.6745 * math.sqrt(2.0)), SIGMA_FLOOR)


@dataclass(frozen=True)
class Split:
    index: int  # the first run after the change, as an index into the series
    before: float  # the median of the values before (ms of a benchmark, the ratio of a pair) and after
    after: float
    change: float  # after / before - 1
    p_value: float
    score: float  # the l2 gain of the split in units of sigma squared


def _test(values: np.ndarray, start: int, index: int, end: int, sigma: float) -> Split:
    from scipy.stats import mannwhitneyu

    before, after = values[start:index], values[index:end]
    b, a = float(np.median(before)), float(np.median(after))
    logs = np.log(values)
    n1, n2 = index - start, end - index
    gain = n1 * n2 / (n1 + n2) * (logs[start:index].mean() - logs[index:end].mean()) ** 2 / sigma ** 2
    p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return Split(int(index), b, a, a / b - 1.0, p, float(gain))


def splits(values, *, min_size: int = MIN_SIZE, penalty_per_log_n: float = PENALTY_PER_LOG_N,
           min_change: float = MIN_CHANGE, alpha: float = ALPHA) -> list[Split]:
    """The significant change points of one series of positive values, oldest first (medians in ms, or ratios)."""
    import ruptures

    values = np.asarray(values, dtype=float)
    n = values.size
    if n < 2 * min_size or not np.all(values > 0):
        return []
    logs = np.log(values)
    sigma = robust_sigma(logs)
    signal = ((logs - np.median(logs)) / sigma).reshape(-1, 1)
    found = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(signal).predict(pen=penalty_per_log_n * math.log(n))
    cuts = [b for b in found if b < n]
    while cuts:
        bounds = [0, *cuts, n]
        tested = [_test(values, bounds[i], bounds[i + 1], bounds[i + 2], sigma) for i in range(len(cuts))]
        weak = [t for t in tested if abs(t.change) < min_change or t.p_value > alpha]
        if not weak:
            return tested
        worst = max(weak, key=lambda t: (t.p_value, -abs(t.change)))
        at = cuts.index(worst.index)
        cuts.remove(worst.index)  # merge its two segments, move the neighbours to their best place, test again
        for i in (at - 1, at):
            if 0 <= i < len(cuts):
                lo = cuts[i - 1] if i > 0 else 0
                hi = cuts[i + 1] if i + 1 < len(cuts) else n
                cuts[i] = _best_cut(logs, lo, hi, min_size, cuts[i])
    return []


def _best_cut(logs, lo: int, hi: int, min_size: int, current: int) -> int:
    """Where logs[lo:hi] splits into two segments of at least min_size with the least squared deviation (the
    detector's own l2 cost): a cut placed beside a noise cut that was merged away moves to the real step."""
    best, where = math.inf, current
    for cut in range(lo + min_size, hi - min_size + 1):
        left, right = logs[lo:cut], logs[cut:hi]
        cost = float(((left - left.mean()) ** 2).sum() + ((right - right.mean()) ** 2).sum())
        if cost < best:
            best, where = cost, cut
    return where


@dataclass(frozen=True)
class Measure:
    """What a series holds: a benchmark's median time or a side-by-side pair's ratio."""

    kind: str  # "benchmark" or "pair": what a change point is a change of
    column: str  # the frame's value column
    unit: str  # how its values are named: "ms" or "ratio"


BENCHMARK = Measure("benchmark", "median_ms", "ms")
PAIR = Measure("pair", "ratio", "ratio")  # reference time / ours: a rise is ours getting faster
MEASURES = {m.kind: m for m in (BENCHMARK, PAIR)}


@dataclass(frozen=True)
class ChangePoint:
    gpu: str
    key: str
    dtype: str | None
    run_id: int  # the first run after the change
    date: str
    commit: str | None
    index: int
    runs: int  # length of the series
    before: float  # in the unit of its kind: ms (a benchmark) or the ratio (a pair)
    after: float
    change: float
    p_value: float
    score: float
    environment: list = field(default_factory=list)  # "torch 2.10 -> 2.11" at the same run
    kind: str = BENCHMARK.kind

    def as_dict(self) -> dict:
        """The fields, before and after named by their unit: before_ms / after_ms, or before_ratio / after_ratio."""
        unit = MEASURES[self.kind].unit
        fields = asdict(self)
        fields[f"before_{unit}"], fields[f"after_{unit}"] = fields.pop("before"), fields.pop("after")
        return fields


def environment_changes(previous, current) -> list[str]:
    return [f"{name} {previous[name]} -> {current[name]}" for name in ENVIRONMENT_FIELDS
            if previous[name] != current[name]]


def change_points(frame, measure: Measure = BENCHMARK, **settings) -> list[ChangePoint]:
    """Change points of every series in a frame ordered by (gpu, key, date): store.series_frame's medians
    (BENCHMARK), or store.pairs_frame's ratios (PAIR)."""
    out: list[ChangePoint] = []
    for (gpu, key), series in frame.groupby(["gpu", "key"], sort=False):
        rows = series.reset_index(drop=True)
        for s in splits(rows[measure.column].to_numpy(), **settings):
            now, then = rows.iloc[s.index], rows.iloc[s.index - 1]
            out.append(ChangePoint(
                gpu=gpu, key=key, dtype=now["dtype"], run_id=int(now["run_id"]),
                date=now["date"].isoformat(), commit=now["commit"], index=int(s.index), runs=len(rows),
                before=s.before, after=s.after, change=s.change, p_value=s.p_value, score=s.score,
                environment=environment_changes(then, now), kind=measure.kind))
    return out
