"""The history database's faults: a server that accepts the connection and never answers is an error within
seconds (connect and statement timeouts), never a hang; no message shows a password, whatever the URL's form; a
URL that does not parse (a port that is no number) is one line."""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from perf.commands.suite_process import checkout_pythonpath

pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

from perf.history import store  # noqa: E402

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


def _run(*args, timeout=60):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("PERF_HISTORY", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout)


def test_history_show_on_a_server_that_never_answers_is_an_error_not_a_hang(silent_server):
    url = f"postgresql://perf:secret@127.0.0.1:{silent_server}/history"
    done = _run("-m", "perf", "history", "show", "--db", url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (f"python -m perf history show: error: postgresql://perf:***@127.0.0.1:"
                                   f"{silent_server}/history: cannot open the database: connection timeout expired")


def test_the_suite_with_a_history_on_a_server_that_never_answers_stops_at_once(silent_server, tmp_path):
    url = f"postgresql://perf:secret@127.0.0.1:{silent_server}/history"
    done = _run("-m", "pytest", str(ROOT / "perf" / "suite"), "-p", "no:cacheprovider", "--model", "pythia-70m",
                "-k", "test_gemm and qkv", "--baseline-dir", str(tmp_path), "--perf-history", url)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "connection timeout expired" in done.stderr and "secret" not in done.stdout + done.stderr


@pytest.mark.parametrize("url, said", [
    ("user:secret@dbhost/x", "user:***@dbhost/x: not a database URL; expected e.g."),
    ("postgresql://user:secret@dbhost:abc/x", "postgresql://user:***@dbhost:abc/x: not a database URL (the port "
                                              "is not a number); expected e.g."),
])
def test_a_url_that_does_not_parse_is_one_line_without_its_password(url, said):
    done = _run("-m", "perf", "history", "show", "--db", url)
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
