"""The results history on a real SQLite file and a real PostgreSQL server: runs stored whole (one transaction),
two writers at once, import of results files, bad input refused with the file or URL and the field named."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import forked
from perf.history import changes, importing, recent, schema, store
from perf.measure import paired
from perf.verdict import results as results_file
from perf.commands.suite_process import checkout_pythonpath

pytest_plugins = ["tests.history_databases"]
ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)


def doc(night: int, medians: dict[str, float], *, torch: str = "2.11.0", verdict: str = "pass") -> dict:
    """A results document of the shape the suite writes (perf/verdict/results.py), for one night."""
    records = [{"key": key, "family": key.split("/")[0], "dtype": "bf16", "params": {"m": 64},
                "summary": {"median_ms": m, "ci_low_ms": m * 0.99, "ci_high_ms": m * 1.01, "n": 50},
                "verdict": verdict, "baseline": {"median_ms": 1.0}, "change": m - 1.0, "method": "cuda-event",
                "throttled": False, "flops": 2e9, "bytes": 1e6, "tflops": 2.0, "gbs": 1.0, "rel_noise": 0.01}
               for key, m in medians.items()]
    env = {"gpu": "H200", "device": "NVIDIA H200", "driver": "580.159.04", "cuda": "13.0", "torch": torch,
           "triton": "3.6.0", "commit": f"{night:040x}", "date": (START + dt.timedelta(days=night)).isoformat()}
    return {"schema": results_file.SCHEMA, "gpu": "H200", "environment": env, "results": records}


def pair(pair_id: str, ratio: float, *, spread: float = 0.01) -> dict:
    """A perf_pairs record as the plugin writes it: paired.PairedRatio.to_dict() of four ABBA rounds whose median
    ratio is `ratio`, with the pair's id, key, sides, dtype and params."""
    rounds = tuple(paired.PairRound(first="ours" if i % 2 == 0 else "reference", ours_ms=1.0,
                                    reference_ms=ratio * (1 + spread * d), ours_sm_mhz=1980.0, reference_sm_mhz=1980.0)
                   for i, d in enumerate((-1.0, -0.5, 0.5, 1.0)))
    return {"id": pair_id, "key": f"kernel/{pair_id}", "ours": f"kernel/{pair_id}:triton", "reference":
            f"kernel/{pair_id}:torch", "group": "rms_norm", "dtype": "bf16", "params": {"m": 4096},
            "placement": None, **paired.PairedRatio(method="cuda-event", rounds=rounds).to_dict()}


def with_pairs(document: dict, ratios: dict[str, float]) -> dict:
    return {**document, "perf_pairs": [pair(pair_id, ratio) for pair_id, ratio in ratios.items()]}


def write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def history(*args: str) -> subprocess.CompletedProcess:
    return forked.run_perf(["history", *args], cwd=ROOT, timeout=300)


def counts(url: str, tables=(schema.runs, schema.results)) -> tuple[int, ...]:
    db = store.open_database(url)
    try:
        with db.engine.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() for table in tables)
    finally:
        db.engine.dispose()


def test_a_run_round_trips_and_is_stored_once(db_url):
    db = store.open_database(db_url)
    try:
        first = importing.store_document(db, doc(0, {"gemm/a": 1.0, "gemm/b": 2.0}), "night0")
        again = importing.store_document(db, doc(0, {"gemm/a": 1.0, "gemm/b": 2.0}), "night0 again")
        second = importing.store_document(db, doc(1, {"gemm/a": 1.1, "gemm/b": 2.0}, torch="2.12.0"), "night1")
        assert isinstance(first, int) and again is None and second != first
        runs = store.runs_frame(db)
        assert list(runs["torch"]) == ["2.11.0", "2.12.0"] and list(runs["n_results"]) == [2, 2]
        assert runs["date"].iloc[0] == START
        frame = store.series_frame(db, gpu="H200", keys=["gemm/a"])
        assert list(frame["median_ms"]) == [1.0, 1.1] and list(frame["baseline_ms"]) == [1.0, 1.0]
        assert store.series_frame(db, gpu="A100").empty
    finally:
        db.engine.dispose()


def test_a_run_that_fails_while_written_leaves_nothing(db_url):
    db = store.open_database(db_url)
    try:
        item = importing.run_rows(doc(0, {"gemm/a": 1.0, "gemm/b": 2.0}), "night0")
        rows = [*item.rows, item.rows[0]]  # the same key twice: the database's unique constraint fails mid-write
        with pytest.raises(sa.exc.IntegrityError):
            store.write_run(db, item.run, rows)
    finally:
        db.engine.dispose()
    assert counts(db_url) == (0, 0)


def test_import_is_all_or_nothing_and_names_the_bad_file(db_url, tmp_path):
    good = [write(tmp_path / f"good{i}.json", doc(i, {"gemm/a": 1.0})) for i in range(3)]
    bad = doc(3, {"gemm/a": 1.0})
    bad["results"][0]["summary"]["median_ms"] = -1.0
    bad_path = write(tmp_path / "bad.json", bad)
    done = history("import", "--db", db_url, *map(str, good), str(bad_path))
    assert done.returncode == 2
    assert f"{bad_path}: results[0].summary.median_ms: expected a positive number" in done.stderr
    assert counts(db_url) == (0, 0)
    done = history("import", "--db", db_url, *map(str, good), str(good[0]))
    assert done.returncode == 0, done.stderr
    assert "stored 3 runs (1 already stored)" in done.stdout
    assert counts(db_url) == (3, 3)


def test_two_processes_writing_at_once(db_url, tmp_path):
    """Two importers start together on a fresh database (both create the schema), each with its own nights and
    one shared night: every run is stored whole, the shared one once."""
    keys = {f"gemm/k{i}": 1.0 + i for i in range(40)}
    shared = write(tmp_path / "shared.json", doc(100, keys))
    batches = [[write(tmp_path / f"p{p}-{i}.json", doc(10 * p + i, keys)) for i in range(6)] for p in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "perf", "history", "import", "--db", db_url,
                               *map(str, batch), str(shared)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for batch in batches]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert counts(db_url) == (13, 13 * len(keys))


def test_a_newer_schema_version_is_refused_and_left_alone(db_url, tmp_path):
    store.open_database(db_url).engine.dispose()
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(schema.schema_info.update().values(version=schema.SCHEMA_VERSION + 1))
    engine.dispose()
    newer = schema.SCHEMA_VERSION + 1
    with pytest.raises(store.HistoryError, match=rf"schema_info\.version: the database is at version {newer}, newer"):
        store.open_database(db_url)
    done = history("import", "--db", db_url, str(write(tmp_path / "r.json", doc(0, {"gemm/a": 1.0}))))
    assert done.returncode == 2 and "schema_info.version" in done.stderr and "newer" in done.stderr
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar() == 0
    engine.dispose()


def test_results_files_of_another_schema_or_truncated(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    other = doc(0, {"gemm/a": 1.0})
    other["schema"] = "perf-results/0"
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(doc(1, {"gemm/a": 1.0}))[:120])
    for path, expected in ((write(tmp_path / "other.json", other), "schema: expected 'perf-results/1'"),
                           (truncated, "not valid JSON")):
        done = history("import", "--db", url, str(path))
        assert done.returncode == 2 and f"{path}: {expected}" in done.stderr, done.stderr
    assert counts(url) == (0, 0)


def test_an_unreachable_database_url_is_named(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = history("show", "--db", f"postgresql://perf:secret@127.0.0.1:{port}/perf")
    assert done.returncode == 2
    assert f"postgresql://perf:***@127.0.0.1:{port}/perf: cannot open the database" in done.stderr
    assert "secret" not in done.stderr
    missing_dir = tmp_path / "no" / "such" / "dir" / "h.db"
    done = history("show", "--db", f"sqlite:///{missing_dir}")
    assert done.returncode == 2 and str(missing_dir) in done.stderr and "cannot open" in done.stderr


def test_changes_name_the_run_and_the_environment_change(db_url, tmp_path):
    """A 5% step in one benchmark at the night torch was upgraded; a flat benchmark beside it."""
    import numpy as np

    rng = np.random.default_rng(3)
    paths = []
    for night in range(30):
        step = 1.05 if night >= 18 else 1.0
        medians = {"gemm/stepped": float(step * (1 + 0.004 * rng.standard_normal())),
                   "gemm/flat": float(1 + 0.004 * rng.standard_normal())}
        paths.append(write(tmp_path / f"n{night}.json", doc(night, medians, torch="2.12.0" if night >= 18 else "2.11.0")))
    assert history("import", "--db", db_url, *map(str, paths)).returncode == 0
    done = history("changes", "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    (cp,) = json.loads(done.stdout)
    assert cp["key"] == "gemm/stepped" and cp["gpu"] == "H200"
    assert cp["date"].startswith((START + dt.timedelta(days=18)).date().isoformat()) and cp["commit"] == f"{18:040x}"
    assert 0.04 < cp["change"] < 0.06 and cp["p_value"] < changes.ALPHA
    assert cp["environment"] == ["torch 2.11.0 -> 2.12.0"]
    shown = history("show", "--db", db_url, "-k", "stepped")
    assert shown.returncode == 0 and "gemm/stepped" in shown.stdout and "gemm/flat" not in shown.stdout
    out = tmp_path / "trends"
    report = history("report", "--db", db_url, "-o", str(out))
    assert report.returncode == 0, report.stderr
    page = (out / "index.html").read_text()
    assert "gemm/stepped" in page and "+5." in page and "torch 2.11.0 -&gt; 2.12.0" in page
    assert len(list((out / "plots").glob("*.png"))) == 1  # only the series with a change point


def test_drift_and_unreliable_streaks_of_the_newest_run(tmp_path):
    db = store.open_database(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        for night in range(20):
            verdict = "unreliable" if night >= 17 else "pass"
            medians = {"gemm/slid": 1.0 if night < 17 else 1.04, "gemm/noisy": 1.0 + 0.001 * (night % 2)}
            last = importing.store_document(db, doc(night, medians, verdict=verdict), f"n{night}")
        found = recent.findings(db, last, "H200", ["gemm/slid", "gemm/noisy"])
        (drift,) = found["perf_history_drift"]
        assert drift["benchmark"] == "gemm/slid" and drift["change"] == "+4.0%"
        assert drift["since"] == (START + dt.timedelta(days=17)).date().isoformat()
        assert {u["benchmark"] for u in found["perf_history_unreliable"]} == {"gemm/slid", "gemm/noisy"}
        earlier = recent.findings(db, last - 3, "H200", ["gemm/slid"])  # before the slide: nothing to say
        assert earlier == {"perf_history_drift": [], "perf_history_unreliable": []}
    finally:
        db.engine.dispose()


def test_the_nightly_workflow_stores_each_night():
    text = (ROOT / ".github" / "workflows" / "nightly.yml").read_text()
    assert "secrets.PERF_HISTORY_URL" in text and "python -m perf history import" in text
    assert "name: perf-history" in text and "gh run download" in text  # the SQLite file carried between nights


def test_a_run_inserted_twice_is_stored_once(db_url):
    """What two writers racing on one run do: the second insert stores nothing and says so, where a plain INSERT
    would fail on the unique uid (seen with PostgreSQL under load)."""
    db = store.open_database(db_url)
    item = importing.run_rows(doc(7, {"gemm/a": 1.0}), "race.json")
    with db.begin() as conn:
        first = store._insert_once(conn, {**item.run, "n_results": 1, "stored_at": dt.datetime.now(dt.timezone.utc)})
        second = store._insert_once(conn, {**item.run, "n_results": 1, "stored_at": dt.datetime.now(dt.timezone.utc)})
    assert isinstance(first, int) and second is None
    assert counts(db_url) == (1, 0)


def test_a_self_test_run_is_not_imported_into_the_history(tmp_path):
    """Results files with injected slowdowns (a self-test's) are slowed on purpose: the import skips them, saying so."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    selftest = doc(1, {"gemm/a": 1.05, "gemm/b": 1.0})
    selftest["results"][0]["injected"] = {"asked": 0.05, "measured": 0.049}
    paths = [write(tmp_path / "night0.json", doc(0, {"gemm/a": 1.0, "gemm/b": 1.0})),
             write(tmp_path / "selftest.json", selftest)]
    done = history("import", "--db", url, *map(str, paths))
    assert done.returncode == 0, done.stderr
    assert f"skipped {paths[1]}: 1 results carry an injected slowdown (a self-test)" in done.stdout
    assert "stored 1 runs (0 already stored, 1 self-tests or empty runs skipped)" in done.stdout
    assert counts(url) == (1, 2)


def test_trend_plots_tell_runs_of_one_day_and_of_other_commits_apart():
    import pandas as pd

    from perf.report.plots.trend import run_labels

    nights = pd.DataFrame({"date": [dt.datetime(2026, 11, d, h, m) for d, h, m in ((19, 2, 0), (21, 18, 50), (21, 18, 52))],
                           "commit": ["78860426a2e1", "78860426a2e1", "78860426a2e1"]})
    assert run_labels(nights) == ["11-19", "11-21 18:50", "11-21 18:52"]
    nights["commit"] = ["78860426a2e1", "a08607804703", None]
    assert run_labels(nights) == ["11-19 7886042", "11-21 18:50 a086078", "11-21 18:52 -"]


# ------------------------------------------------------------------------------------- side-by-side pairs

ALL_TABLES = (schema.runs, schema.results, schema.pairs)


def test_pairs_are_imported_and_read_back(db_url, tmp_path):
    """A results file's perf_pairs become pair rows of its run (the ratio, its rounds' range, both sides' times, the
    method and the rounds); the plugin's in-memory document stores them too."""
    path = write(tmp_path / "night0.json", with_pairs(doc(0, {"gemm/a": 1.0}), {"rms:m4096": 1.25, "softmax:m64": 0.9}))
    done = history("import", "--db", db_url, str(path))
    assert done.returncode == 0, done.stderr
    assert counts(db_url, ALL_TABLES) == (1, 1, 2)
    db = store.open_database(db_url)
    try:
        importing.store_document(db, with_pairs(doc(1, {"gemm/a": 1.0}), {"rms:m4096": 1.3}), "pytest")
        frame = store.pairs_frame(db, gpu="H200", keys=["kernel/rms:m4096"])
        assert list(frame["ratio"]) == pytest.approx([1.25, 1.3])
        first = frame.iloc[0]
        assert (first["pair_id"], first["ours"], first["reference"], first["dtype"], first["method"]) == (
            "rms:m4096", "kernel/rms:m4096:triton", "kernel/rms:m4096:torch", "bf16", "cuda-event")
        assert first["ratio_low"] == pytest.approx(1.25 * 0.99) and first["ratio_high"] == pytest.approx(1.25 * 1.01)
        assert first["ours_ms"] == 1.0 and first["reference_ms"] == pytest.approx(1.25)
        assert first["torch"] == "2.11.0" and first["commit"] == f"{0:040x}"
        with db.engine.connect() as conn:
            rounds = conn.execute(sa.select(schema.pairs.c.rounds).where(schema.pairs.c.key == "kernel/softmax:m64")).scalar()
        assert [r["first"] for r in rounds] == ["ours", "reference", "ours", "reference"]
        assert rounds[0]["reference_ms"] == pytest.approx(0.9 * 0.99)
        assert store.pairs_frame(db, gpu="A100").empty
        assert list(store.pairs_frame(db)["key"]) == ["kernel/rms:m4096", "kernel/rms:m4096", "kernel/softmax:m64"]
    finally:
        db.engine.dispose()


def test_a_run_without_pairs_keeps_the_uid_it_was_stored_under():
    """Runs stored before pairs were stored must still be recognised: a document without perf_pairs hashes as it
    did (this uid is the one the version-1 code gave this document), and its pairs change the uid only when there
    are some."""
    plain = doc(0, {"gemm/a": 1.0, "gemm/b": 2.0})
    uid = importing.run_rows(plain, "night0.json").run["uid"]
    assert uid == "02a4f15d266ef47aaa7760f01640323ca96e249e95b86b4b44c3b78230938608"
    assert importing.run_rows({**plain, "perf_pairs": []}, "night0.json").run["uid"] == uid
    paired_uid = importing.run_rows(with_pairs(plain, {"rms:m4096": 1.25}), "night0.json").run["uid"]
    assert paired_uid != uid
    assert importing.run_rows(with_pairs(plain, {"rms:m4096": 1.3}), "night0.json").run["uid"] not in (uid, paired_uid)


def _version_1_database(url: str) -> None:
    """A database as the version-1 code created it: schema_info, runs and results (today's definitions of those
    two, which version 2 left unchanged), version 1, and one stored run of two results."""
    version_1 = sa.MetaData()
    for table in (schema.schema_info, schema.runs):
        table.to_metadata(version_1)
    added_in_3 = ("host", "gpu_uuid", "reference")
    results_1 = sa.Table("results", version_1, *(c.copy() for c in schema.results.columns if c.name not in added_in_3),
                         sa.UniqueConstraint("run_id", "key", name="uq_results_run_key"))
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            version_1.create_all(conn)
            conn.execute(schema.schema_info.insert().values(version=1))
            item = importing.run_rows(doc(0, {"gemm/a": 1.0, "gemm/b": 2.0}), "night0.json")
            run_id = conn.execute(schema.runs.insert().values(**item.run, n_results=2, stored_at=item.run["date"])
                                  ).inserted_primary_key[0]
            conn.execute(results_1.insert(), [{**{k: v for k, v in r.items() if k not in added_in_3},
                                               "run_id": run_id, "gpu": item.run["gpu"]} for r in item.rows])
        assert not sa.inspect(engine).has_table("pairs")
    finally:
        engine.dispose()


def test_a_version_1_database_is_upgraded_keeping_its_runs_then_takes_pairs(db_url, tmp_path):
    _version_1_database(db_url)
    db = store.open_database(db_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(sa.select(schema.schema_info.c.version)).scalar() == schema.SCHEMA_VERSION == 3
            indexes = {index["name"] for index in sa.inspect(conn).get_indexes("pairs")}
            assert {c["name"] for c in sa.inspect(conn).get_columns("results")} >= {"host", "gpu_uuid", "reference"}
            assert sa.inspect(conn).has_table("acceptances")
        assert "ix_pairs_series" in indexes
        assert list(store.series_frame(db)["median_ms"]) == [1.0, 2.0]
        assert importing.store_document(db, doc(0, {"gemm/a": 1.0, "gemm/b": 2.0}), "again") is None  # stored before
    finally:
        db.engine.dispose()
    path = write(tmp_path / "night1.json", with_pairs(doc(1, {"gemm/a": 1.0}), {"rms:m4096": 1.25}))
    done = history("import", "--db", db_url, str(path))
    assert done.returncode == 0, done.stderr
    assert counts(db_url, ALL_TABLES) == (2, 3, 1)


def test_an_upgrade_that_fails_leaves_the_version_1_database_as_it_was(db_url, monkeypatch):
    add_pairs = schema.UPGRADES[1]

    def create_then_fail(conn):
        add_pairs(conn)
        raise schema.SchemaError("the upgrade failed after creating the table")

    _version_1_database(db_url)
    monkeypatch.setitem(schema.UPGRADES, 1, create_then_fail)
    with pytest.raises(store.HistoryError, match="the upgrade failed"):
        store.open_database(db_url)
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        assert not sa.inspect(engine).has_table("pairs")
        with engine.connect() as conn:
            assert conn.execute(sa.select(schema.schema_info.c.version)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.results)).scalar() == 2
    finally:
        engine.dispose()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["perf_pairs"][1].__setitem__("ratio", -1.0), "perf_pairs[1].ratio: expected a positive number, got -1.0"),
    (lambda d: d["perf_pairs"][1].pop("key"), "perf_pairs[1].key: expected a non-empty string, got None"),
    (lambda d: d["perf_pairs"][0].__setitem__("ours_ms", "fast"), "perf_pairs[0].ours_ms: expected a positive number"),
    (lambda d: d["perf_pairs"][1].__setitem__("rounds", None), "perf_pairs[1].rounds: expected a list of round objects"),
    (lambda d: d["perf_pairs"][1].__setitem__("method", 3), "perf_pairs[1].method: expected a non-empty string"),
    (lambda d: d["perf_pairs"].__setitem__(1, "rms"), "perf_pairs[1]: expected an object, got str"),
    (lambda d: d.__setitem__("perf_pairs", {"id": "rms"}), "perf_pairs: expected a list of pair records, got dict"),
    (lambda d: d["perf_pairs"][1].__setitem__("key", d["perf_pairs"][0]["key"]),
     "perf_pairs: the key 'kernel/rms:m4096' appears more than once"),
])
def test_a_malformed_pair_record_names_the_file_the_record_and_the_field(mutate, message):
    bad = with_pairs(doc(0, {"gemm/a": 1.0}), {"rms:m4096": 1.25, "softmax:m64": 0.9})
    mutate(bad)
    with pytest.raises(store.HistoryError) as refused:
        importing.run_rows(bad, "night0.json")
    assert str(refused.value).startswith(f"night0.json: {message}"), str(refused.value)


def test_an_import_with_a_bad_pair_record_writes_nothing(db_url, tmp_path):
    good = write(tmp_path / "good.json", with_pairs(doc(0, {"gemm/a": 1.0}), {"rms:m4096": 1.25}))
    bad = with_pairs(doc(1, {"gemm/a": 1.0}), {"rms:m4096": 1.25, "softmax:m64": 0.9})
    bad["perf_pairs"][1]["ratio_high"] = None
    bad_path = write(tmp_path / "bad.json", bad)
    done = history("import", "--db", db_url, str(good), str(bad_path))
    assert done.returncode == 2
    assert f"{bad_path}: perf_pairs[1].ratio_high: expected a positive number, got None" in done.stderr
    assert counts(db_url, ALL_TABLES) == (0, 0, 0)


def import_nights_of_pairs(db_url: str, tmp_path: Path) -> None:
    """Thirty nights: one pair whose ratio rises 6% at night 18 (ours got faster), one flat pair, one flat benchmark."""
    import numpy as np

    rng = np.random.default_rng(4)
    paths = []
    for night in range(30):
        noise = lambda: float(1 + 0.004 * rng.standard_normal())  # noqa: E731
        ratios = {"rms:m4096": 1.2 * (1.06 if night >= 18 else 1.0) * noise(), "softmax:m64": 0.9 * noise()}
        paths.append(write(tmp_path / f"n{night}.json", with_pairs(doc(night, {"gemm/flat": noise()}), ratios)))
    assert history("import", "--db", db_url, *map(str, paths)).returncode == 0


def test_show_and_changes_list_the_pairs_ratio_series(db_url, tmp_path):
    """The nights of import_nights_of_pairs: `changes` names the pair's ratio change (in ratios, marked as a pair in
    --json); `show` lists the pairs' trends; -k and --gpu select pairs as they select benchmarks."""
    import_nights_of_pairs(db_url, tmp_path)
    done = history("changes", "--db", db_url, "--json")
    assert done.returncode == 0, done.stderr
    (cp,) = json.loads(done.stdout)
    assert cp["kind"] == "pair" and cp["key"] == "kernel/rms:m4096" and cp["commit"] == f"{18:040x}"
    assert 0.05 < cp["change"] < 0.07 and "before_ms" not in cp
    assert cp["before_ratio"] == pytest.approx(1.2, rel=0.01) and cp["after_ratio"] == pytest.approx(1.272, rel=0.01)
    text = history("changes", "--db", db_url)
    assert text.returncode == 0, text.stderr
    assert "0 change points in 1 series over 30 runs" in text.stdout
    pair_table = text.stdout.split("Side-by-side pairs")[1]
    assert "before ratio" in pair_table and "after ratio" in pair_table and "kernel/rms:m4096" in pair_table
    assert "1 ratio change points in 2 pair series over 30 runs" in pair_table
    shown = history("show", "--db", db_url)
    assert shown.returncode == 0, shown.stderr
    pair_trends = shown.stdout.split("Side-by-side pairs")[1]
    assert "first ratio" in pair_trends and "max ratio" in pair_trends and "first ms" not in pair_trends
    assert "kernel/rms:m4096" in pair_trends and "kernel/softmax:m64" in pair_trends
    only = history("show", "--db", db_url, "-k", "softmax")
    assert "kernel/softmax:m64" in only.stdout and "kernel/rms:m4096" not in only.stdout
    other_gpu = history("changes", "--db", db_url, "--gpu", "A100", "--json")
    assert json.loads(other_gpu.stdout) == []
    assert "Side-by-side pairs" not in history("show", "--db", db_url, "--gpu", "A100").stdout


def plotted(out: Path) -> list[str]:
    return sorted(path.name for path in (out / "plots").glob("*.png"))


def test_the_report_lists_and_plots_the_pairs_ratio_change_points(db_url, tmp_path):
    """The nights of import_nights_of_pairs: the report's own table of ratio change points names the pair's 6% rise
    in ratios (a rise of the ratio is ours getting faster: an improvement), and the pair stepped is the only series
    plotted; the flat pair and the flat benchmark get no plot."""
    import_nights_of_pairs(db_url, tmp_path)
    out = tmp_path / "trends"
    report = history("report", "--db", db_url, "-o", str(out))
    assert report.returncode == 0, report.stderr
    assert "0 change points, 1 ratio change points" in report.stdout
    page = (out / "index.html").read_text()
    assert "1 benchmark series, 0 change points, 2 pair series, 1 ratio change points" in page
    benchmarks, pairs = page.split("Latest ratio change points (1)")
    assert "kernel/rms:m4096" not in benchmarks.split("<h2")[-1]
    ratio_table = pairs.split("<h2 id='browse'>")[0]
    assert "<th>before ratio</th><th>after ratio</th><th>change</th>" in ratio_table and "ms</th>" not in ratio_table
    assert ("<tr class=\"improvement\"><td class='w'>H200</td><td><a href='series/pair_H200_kernel_rms_m4096-"
            in ratio_table)
    assert re.search(r"<td class='n'>1\.2\d*</td><td class='n'>1\.2[67]\d*</td><td class='n'>\+[56]\.\d%</td>",
                     ratio_table)  # ratios, +6%
    assert "kernel/softmax:m64" not in ratio_table
    (png,) = plotted(out)
    assert png.startswith("pair_H200_kernel_rms_m4096-") and f"src='plots/{png}'" in page


def test_the_report_plots_every_pair_with_all_and_k_and_gpu_select_them(db_url, tmp_path):
    import_nights_of_pairs(db_url, tmp_path)
    every = history("report", "--db", db_url, "-o", str(tmp_path / "all"), "--all")
    assert every.returncode == 0, every.stderr
    assert [name.split("-")[0] for name in plotted(tmp_path / "all")] == [
        "benchmark_H200_gemm_flat", "pair_H200_kernel_rms_m4096", "pair_H200_kernel_softmax_m64"]
    flat = history("report", "--db", db_url, "-o", str(tmp_path / "flat"), "-k", "softmax")
    assert flat.returncode == 0 and plotted(tmp_path / "flat") == []  # no change point, no plot without --all
    only = history("report", "--db", db_url, "-o", str(tmp_path / "only"), "-k", "softmax", "--all")
    assert only.returncode == 0, only.stdout + only.stderr
    assert [name.split("-")[0] for name in plotted(tmp_path / "only")] == ["pair_H200_kernel_softmax_m64"]
    other_gpu = history("report", "--db", db_url, "-o", str(tmp_path / "A100"), "--gpu", "A100", "--all")
    assert other_gpu.returncode == 0 and plotted(tmp_path / "A100") == []
    assert "Latest ratio change points" not in (tmp_path / "A100" / "index.html").read_text()


def test_a_suite_run_of_pairs_alone_stores_them(pytester, tmp_path, monkeypatch):
    """`--perf-pairs --perf-history URL` on the CPU device: the run holds no benchmark, only its two pairs, and is
    stored with them (the plugin's document carries perf_pairs)."""
    from tests.test_pairs import PAIRS_MODULE

    monkeypatch.setenv("PYTHONPATH", checkout_pythonpath(ROOT))
    pytester.makeconftest('pytest_plugins = ["perf.plugin"]\n')
    pytester.makepyfile(test_mm_pairs=PAIRS_MODULE)
    url = f"sqlite:///{tmp_path / 'h.db'}"
    done = forked.runpytest(pytester, "-p", "no:cacheprovider", "--baseline-dir", str(tmp_path / "bl"),
                            "--perf-max-time", "0.2", "--perf-pairs", "--perf-history", url)
    done.assert_outcomes(passed=2)
    done.stdout.fnmatch_lines(["*perf: history*", "run 1 stored in sqlite:///*"])  # said, with no benchmark
    db = store.open_database(url)
    try:
        frame = store.pairs_frame(db)
        assert sorted(frame["pair_id"]) == ["mm:fp32:faster", "mm:fp32:slower"]
        assert set(frame["method"]) == {"host"} and list(store.runs_frame(db)["n_results"]) == [0]
    finally:
        db.engine.dispose()
