"""What the history says about the newest run: change points that end at it (drift, slides too small for one
night's verdict) and benchmarks unreliable on each of their last K runs."""

from __future__ import annotations

from perf.history import changes, store

DRIFT_WINDOW = 5  # a change point counts as drift while its first run after is among the series' last 5 runs
UNRELIABLE_RUNS = 3  # unreliable on each of the last 3 runs: called out


def drift(frame, window: int = DRIFT_WINDOW) -> list[changes.ChangePoint]:
    """Change points whose first run after the change is among the last `window` runs of its series."""
    return [cp for cp in changes.change_points(frame) if cp.runs - cp.index <= window]


def unreliable(frame, k: int = UNRELIABLE_RUNS) -> list[dict]:
    out = []
    for (gpu, key), series in frame.groupby(["gpu", "key"], sort=False):
        last = list(series["verdict"].tail(k))
        if len(last) == k and all(v == "unreliable" for v in last):
            out.append({"gpu": gpu, "benchmark": key, "runs": k,
                        "since": series["date"].iloc[-k].date().isoformat()})
    return out


def findings(db: store.Database, run_id: int, gpu: str, keys) -> dict[str, list[dict]]:
    """The report's history sections for a stored run: `perf_history_drift` and `perf_history_unreliable`."""
    frame = store.series_frame(db, gpu=gpu, keys=keys, up_to_run=run_id)
    rows = [{"benchmark": cp.key, "since": cp.date[:10], "commit": (cp.commit or "")[:12],
             "before_ms": cp.before, "after_ms": cp.after, "change": f"{cp.change:+.1%}",
             "p_value": cp.p_value, "environment": "; ".join(cp.environment)} for cp in drift(frame)]
    return {"perf_history_drift": rows, "perf_history_unreliable": unreliable(frame)}
