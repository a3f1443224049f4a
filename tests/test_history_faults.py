"""The history database's faults: a server that accepts the connection and never answers is an error within
seconds (connect and statement timeouts), never a hang; no message shows a password, whatever the URL's form; a
URL that does not parse (a port that is no number) is one line."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import forked
from perf.commands.suite_process import checkout_pythonpath

pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

from perf.history import store  # noqa: E402

pytest_plugins = ["tests.history_databases"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte: a database host behind a
    broken proxy or a stopped process. Its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def _run(module, *args, timeout=60):
    """`python -m MODULE ARGS`, forked from this process (tests/forked.py)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("PERF_HISTORY", None)
    return forked.run_module(module, args, cwd=ROOT, env=env, timeout=timeout)


def test_history_show_on_a_server_that_never_answers_is_an_error_not_a_hang(silent_server):
    url = f"postgresql://perf:secret@127.0.0.1:{silent_server}/history"
    done = _run("perf", "history", "show", "--db", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (f"python -m perf history show: error: postgresql://perf:***@127.0.0.1:"
                                   f"{silent_server}/history: cannot open the database: connection timeout expired")


def test_the_suite_with_a_history_on_a_server_that_never_answers_stops_at_once(silent_server, tmp_path):
    url = f"postgresql://perf:secret@127.0.0.1:{silent_server}/history"
    done = _run("pytest", str(ROOT / "perf" / "suite"), "-p", "no:cacheprovider", "--model", "pythia-70m",
                "-k", "test_gemm and qkv", "--baseline-dir", str(tmp_path), "--perf-history", url)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "connection timeout expired" in done.stderr and "secret" not in done.stdout + done.stderr


@pytest.mark.parametrize("url, said", [
    ("user:secret@dbhost/x", "user:***@dbhost/x: not a database URL; expected e.g."),
    ("postgresql://user:secret@dbhost:abc/x", "postgresql://user:***@dbhost:abc/x: not a database URL (the port "
                                              "is not a number); expected e.g."),
])
def test_a_url_that_does_not_parse_is_one_line_without_its_password(url, said):
    done = _run("perf", "history", "show", "--db", url)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"python -m perf history show: error: {said}") and "secret" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text, masked", [
    ("postgresql://u:pw@h:5432/db failed", "postgresql://u:***@h:5432/db failed"),
    ("postgresql+psycopg://u:p:w@h/db", "postgresql+psycopg://u:***@h/db"),
    ("u:pw@h/db", "u:***@h/db"),
    ("--db 'u:pw@h/db'", "--db 'u:***@h/db'"),
    ("sqlite:///perf-history.db", "sqlite:///perf-history.db"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
])
def test_every_url_in_a_message_is_masked(text, masked):
    assert store.mask(text) == masked
    assert str(store.HistoryError(f"{text}: cannot open")) == f"{masked}: cannot open"


FAULTS = Path(__file__).parent / "fixtures" / "faults"


def test_a_results_file_without_results_is_not_stored_as_a_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    done = _run("perf", "history", "import", "--db", url, str(FAULTS / "results_no_results.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"skipped {FAULTS / 'results_no_results.json'}: no results and no pairs" in done.stdout
    assert "stored 0 runs" in done.stdout


def test_history_import_on_a_full_disk_is_one_line_and_stores_nothing(tmp_path):
    import resource
    import signal

    db = tmp_path / "h.db"
    url = f"sqlite:///{db}"
    assert _run("perf", "history", "show", "--db", url).returncode == 0  # the schema, nothing stored
    before = db.read_bytes()
    size = len(before)

    def disk_full_beyond_the_database():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    big = json.loads((FAULTS / "results_good.json").read_text())  # a night of 2000 benchmarks: more than fits
    big["results"] = [{**big["results"][0], "key": f"gemm/m{i}:qkv"} for i in range(2000)]
    (tmp_path / "night.json").write_text(json.dumps(big))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "perf", "history", "import", "--db", url,
                           str(tmp_path / "night.json")], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=60, preexec_fn=disk_full_beyond_the_database)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"python -m perf history import: error: {url}: ") and \
        done.stderr.strip().endswith("; nothing was stored")
    assert db.read_bytes() == before


def test_a_statement_that_waits_on_a_lock_ends_at_the_statement_timeout_in_one_line(postgres_server):
    """A server that answers but whose table another client holds: the statement timeout ends the wait (the default
    applied to every connection; the URL's own `options` win, here 1 s) with one line, the password masked."""
    import psycopg

    name = f"timeout_{os.getpid()}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    db = store.open_database(url)  # the schema, made
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == f"{store.STATEMENT_TIMEOUT_S // 60}min"
    finally:
        db.engine.dispose()
    secret = url.replace("perf@", "perf:secret@") + "?options=-c%20statement_timeout%3D1000"
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        done = _run("perf", "history", "show", "--db", secret, timeout=60)
    assert done.returncode in (1, 2), done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "statement timeout" in lines[0], done.stderr
    assert "secret" not in done.stderr and "perf:***@" in done.stderr
