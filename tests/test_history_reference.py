"""The runner's own history as a verdict's reference (perf/history/reference.py), on a real SQLite file and a real
PostgreSQL server: which runs enter it (same runner, same environment, clean verdicts), a regression that stays
red, an acceptance that moves the reference to the accepted step, and the fallback to the committed baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import forked
from perf.history import importing, reference, store
from perf.measure.summary import Summary
from perf.verdict import results as results_file
from perf.verdict import stats

pytest_plugins = ["tests.history_databases"]
ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)
TIMING = {"min_time_s": 0.5, "max_time_s": 2.0, "warmup_ms": 50.0}
RUNNER = reference.Runner(host="runner-1", gpu_uuid="GPU-aaaa1111", gpu="H100-SXM")
ENV = {"driver": "580.1", "cuda": "13.0", "torch": "2.11.0", "triton": "3.6.0", "timing": TIMING}


def night(n: int, medians: dict[str, float], *, verdicts: dict[str, str] | None = None, host: str = "runner-1",
          uuid: str = "GPU-aaaa1111", torch: str = "2.11.0", timing: dict = TIMING, by: str = "history") -> dict:
    """One night's results document; `by`: what decided its verdicts ("history" or "baseline")."""
    verdicts = verdicts or {}
    decided = ({"source": "history", "text": "history: 5 runs of GPU-aaaa1111 on runner-1 since 2026-01-01"}
               if by == "history" else {"source": "baseline", "text": "baseline: H100-SXM.json"})
    records = [{"key": key, "family": key.split("/")[0], "dtype": "bf16", "params": {},
                "summary": {"median_ms": m, "ci_low_ms": m * 0.998, "ci_high_ms": m * 1.002, "n": 100},
                "verdict": verdicts.get(key, "pass"), "baseline": {"median_ms": 1.0}, "change": None,
                "method": "cuda-events", "throttled": False, "rel_noise": 0.002,
                "placement": {"worker": "main", "host": host, "gpu_index": 0, "gpu_uuid": uuid},
                "reference": decided}
               for key, m in medians.items()]
    env = {"gpu": "H100-SXM", "device": "NVIDIA H100 80GB HBM3", "driver": "580.1", "cuda": "13.0", "torch": torch,
           "triton": "3.6.0", "commit": f"{n:040x}", "date": (START + dt.timedelta(days=n)).isoformat(),
           "timing": timing}
    return {"schema": results_file.SCHEMA, "gpu": "H100-SXM", "environment": env, "results": records}


@pytest.fixture
def db(db_url):
    database = store.open_database(db_url)
    yield database
    database.engine.dispose()


def store_nights(db, *docs) -> None:
    for i, d in enumerate(docs):
        assert importing.store_document(db, d, f"night{i}") is not None


def test_enough_clean_runs_of_this_runner_form_the_reference(db):
    store_nights(db, *(night(n, {"gemm/a": 1.00 + 0.002 * n, "decode/b": 0.10}) for n in range(6)))
    refs = reference.references(db, RUNNER, ENV)
    a = refs["gemm/a"]
    assert a.runs == reference.HISTORY_RUNS == 5  # the newest five of six
    assert a.since == "2026-01-02" and a.text == "history: 5 runs of GPU-aaaa1111 on runner-1 since 2026-01-02"
    assert a.reference.summary.median_ms == pytest.approx(1.006)
    assert a.reference.sigma_known and a.reference.method == "cuda-events"
    # The reference is this runner's: a 1% move is far beyond its spread (0.4% over five nights), so 3% decides.
    measured = lambda m: Summary(m, m * 0.998, m * 1.002, m, m, m, m, 100)  # noqa: E731
    assert stats.compare(measured(1.04), a.reference, 0.03).verdict is stats.Verdict.REGRESSION
    assert stats.compare(measured(1.02), a.reference, 0.03).verdict is stats.Verdict.PASS


def test_too_few_runs_other_runners_and_other_environments_leave_the_baseline_in_charge(db):
    store_nights(db,
                 night(0, {"gemm/a": 1.0}), night(1, {"gemm/a": 1.0}),  # two runs here: too few
                 night(2, {"gemm/a": 1.0}, host="runner-2"),  # another host
                 night(3, {"gemm/a": 1.0}, uuid="GPU-bbbb2222"),  # another GPU of this host
                 night(4, {"gemm/a": 1.0}, torch="2.12.0"),  # another environment
                 night(5, {"gemm/a": 1.0}, timing={**TIMING, "max_time_s": 0.1}))  # other timing settings
    assert reference.references(db, RUNNER, ENV) == {}
    pooled = reference.references(db, reference.Runner("runner-1", None, "H100-SXM", scope="host"), ENV)
    assert pooled["gemm/a"].runs == 3 and pooled["gemm/a"].text.startswith("history: 3 runs of H100-SXM on runner-1")
    newer = reference.references(db, RUNNER, {**ENV, "torch": "2.12.0"})
    assert newer == {}  # one run in the new environment: the baseline decides until there are three


def test_a_regression_is_never_absorbed_and_an_acceptance_moves_the_reference(db):
    clean = [night(n, {"gemm/a": 1.0, "gemm/b": 2.0}) for n in range(4)]
    red = [night(n, {"gemm/a": 1.05, "gemm/b": 2.0}, verdicts={"gemm/a": "regression"}) for n in range(4, 10)]
    store_nights(db, *clean, *red)
    refs = reference.references(db, RUNNER, ENV)
    assert refs["gemm/a"].reference.summary.median_ms == 1.0  # six red nights later: still the old level
    assert refs["gemm/a"].runs == 4 and refs["gemm/b"].runs == 5
    reference.accept(db, "H100-SXM", ["gemm/a"], "ada", "the new tile is intended",
                     when=START + dt.timedelta(days=9, hours=12))
    accepted = reference.references(db, RUNNER, ENV)["gemm/a"]
    assert accepted.reference.summary.median_ms == 1.05 and accepted.runs == 5  # the accepted step, its newest 5
    assert accepted.accepted == "accepted 2026-01-10 by ada: the new tile is intended"
    assert "accepted 2026-01-10 by ada" in accepted.text


def test_one_accepted_run_is_a_reference_with_the_familys_spread(db):
    store_nights(db, *(night(n, {"gemm/a": 1.0, "gemm/b": 2.0 + 0.01 * n}) for n in range(4)),
                 night(4, {"gemm/a": 1.2, "gemm/b": 2.0}, verdicts={"gemm/a": "regression"}))
    reference.accept(db, "H100-SXM", ["gemm/a"], "ada", "bigger model", when=START + dt.timedelta(days=4, hours=1))
    a = reference.references(db, RUNNER, ENV)["gemm/a"]
    assert a.runs == 1 and a.reference.summary.median_ms == 1.2 and not a.reference.sigma_known
    assert a.reference.sigma > 0  # the family's spread stands in (gemm/b's)


def test_an_acceptance_that_found_nothing_flagged_cuts_nothing(db):
    # A glob accepted a steady benchmark beside the one that moved: its history goes on, it does not start over.
    store_nights(db, *(night(n, {"gemm/a": 1.0, "gemm/b": 2.0 + 0.01 * n}) for n in range(4)))
    reference.accept(db, "H100-SXM", ["gemm/b"], "ada", "a glob", when=START + dt.timedelta(days=3, hours=1))
    b = reference.references(db, RUNNER, ENV)["gemm/b"]
    assert b.runs == 4 and b.accepted is None and "accepted" not in b.text
    assert reference.flagged(db, "H100-SXM", ["gemm/a", "gemm/b"]) == set()


def test_an_improvement_stays_out_of_the_reference_until_accepted(db):
    store_nights(db, *(night(n, {"kernel/x": 1.0}) for n in range(3)),
                 night(3, {"kernel/x": 0.9}, verdicts={"kernel/x": "improvement"}),
                 night(4, {"kernel/x": 0.9}, verdicts={"kernel/x": "improvement"}))
    assert reference.references(db, RUNNER, ENV)["kernel/x"].reference.summary.median_ms == 1.0


def test_a_host_offset_flagged_by_the_baseline_builds_the_history_and_then_passes(db):
    # A host 5% slower than the hosts behind the committed baseline: red against the baseline for three nights,
    # then its own history decides and the same level passes.
    store_nights(db, *(night(n, {"gemm/a": 1.05}, verdicts={"gemm/a": "regression"}, by="baseline") for n in range(3)))
    a = reference.references(db, RUNNER, ENV)["gemm/a"]
    assert a.runs == 3 and a.reference.summary.median_ms == 1.05


def test_unreliable_and_throttled_runs_do_not_enter():
    row = lambda n, verdict, throttled=False, by="history: 5 runs": type("Row", (), {  # noqa: E731
        "date": START + dt.timedelta(days=n), "verdict": verdict, "throttled": throttled, "reference": by})()
    series = [row(0, "pass"), row(1, "unreliable"), row(2, "pass", True), row(3, "new"), row(4, "regression")]
    assert [r.date.day for r in reference.usable(series, None)] == [1, 4]
    baseline = [row(0, "regression", by="baseline: H100-SXM.json"), row(1, "unreliable", by="baseline: H100-SXM.json")]
    assert [r.date.day for r in reference.usable(baseline, None)] == [1, 2]
    # an acceptance after red nights with an unreliable one among them: the step is the red ones
    series = [row(0, "pass"), row(1, "regression"), row(2, "unreliable"), row(3, "regression"), row(4, "pass")]
    picked = reference.usable(series, START + dt.timedelta(days=3, hours=1))
    assert [r.date.day for r in picked] == [2, 4, 5]


def test_history_accept_command_records_who_why_and_refuses_unknown_keys(db_url, db):
    store_nights(db, *(night(n, {"gemm/a:qkv": 1.0, "gemm/a:mlp": 2.0, "gemm/b:qkv": 3.0}) for n in range(3)),
                 night(3, {"gemm/a:qkv": 1.1, "gemm/a:mlp": 1.8, "gemm/b:qkv": 3.0},
                       verdicts={"gemm/a:qkv": "regression", "gemm/a:mlp": "improvement"}))

    def run(*args):
        return forked.run_perf(["history", *args, "--db", db_url], cwd=ROOT, timeout=120)

    missing = run("accept", "gemm/zzz", "--reason", "x")
    assert missing.returncode == 2 and "gemm/zzz: no stored benchmark of H100-SXM matches" in missing.stderr
    steady = run("accept", "gemm/b:*", "--reason", "x")  # its newest night passed: nothing flagged to accept
    assert steady.returncode == 2 and "not accepted: gemm/b:qkv" in steady.stderr, steady.stderr
    assert "nothing was accepted" in steady.stderr
    assert reference.acceptances_frame(db).empty  # nothing written
    done = run("accept", "gemm/a:*", "--reason", "new attention kernel", "--by", "ada")
    assert done.returncode == 0, done.stderr
    assert "2 acceptances recorded by ada" in done.stdout
    frame = reference.acceptances_frame(db)
    assert sorted(frame["key"]) == ["gemm/a:mlp", "gemm/a:qkv"] and set(frame["reason"]) == {"new attention kernel"}
    mixed = run("accept", "gemm/*", "--reason", "both families")  # the steady one is named and left out
    assert mixed.returncode == 0 and "not accepted: gemm/b:qkv" in mixed.stderr
    assert "gemm/b:qkv" not in set(reference.acceptances_frame(db)["key"])
    shown = run("show")
    assert shown.returncode == 0 and "Accepted changes" in shown.stdout and "new attention kernel" in shown.stdout
