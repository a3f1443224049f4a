"""Opening the results database (SQLite file or PostgreSQL server, by SQLAlchemy URL), writing one run in one
transaction, and reading runs and per-benchmark series back as tables.

Two writers at once are safe: SQLite transactions begin IMMEDIATE (the write lock is taken up front and waited
for, so two writers never deadlock on a lock upgrade) with a busy timeout; on PostgreSQL the schema check and
create run under a transaction-scoped advisory lock, and runs are distinct rows keyed by a content hash.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from perf.history import schema

SQLITE_BUSY_TIMEOUT_S = 300  # a writer waits this long for another's transaction (a long import)
_CREATE_LOCK = 0x70657266  # "perf": the advisory lock id the schema create runs under on PostgreSQL


CONNECT_TIMEOUT_S = 5  # a server that accepts the connection and never answers: an error after this long
STATEMENT_TIMEOUT_S = 600  # a statement (a long import's insert, a lock waited for) on PostgreSQL
_SCHEME_PASSWORD = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s'\"]*):[^@\s'\"]*@")
_BARE_PASSWORD = re.compile(r"((?:^|(?<=[\s'\"(=]))[^:/@\s'\"]+):(?!//)[^@\s'\"]*@")


def failure(exc: "sa.exc.DBAPIError") -> str:
    """The first line of what the database driver said (a full disk, a lost connection, a statement timeout)."""
    return str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]


def mask(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***: `postgresql://user:***@host/db`, and
    `user:***@host/db` for an address without a scheme."""
    return _BARE_PASSWORD.sub(r"\1:***@", _SCHEME_PASSWORD.sub(r"\1:***@", str(text)))


class HistoryError(RuntimeError):
    """A database or input that cannot be used: names the URL or file and the field (never a password: every
    URL in the message is masked)."""

    def __init__(self, message: str):
        super().__init__(mask(message))


@dataclass
class Database:
    engine: sa.Engine
    where: str  # the URL without its password, for messages

    def begin(self):
        return self.engine.begin()


def _engine(url: str) -> tuple[sa.Engine, str]:
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        why = f" ({exc})" if isinstance(exc, ValueError) and "int()" not in str(exc) else \
            " (the port is not a number)" if isinstance(exc, ValueError) else ""
        raise HistoryError(f"{url}: not a database URL{why}; expected e.g. sqlite:///perf-history.db or "
                           f"postgresql://user@host:5432/db") from None
    where = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise HistoryError(f"{where}: backend {backend!r}: expected sqlite or postgresql")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the `postgres` extra
    kwargs: dict = {}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    else:  # never wait forever on a server: the URL's own connect_timeout or options win
        kwargs["connect_args"] = {k: v for k, v in (
            ("connect_timeout", CONNECT_TIMEOUT_S),
            ("options", f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}")) if k not in parsed.query}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise HistoryError(f"{where}: driver {parsed.drivername!r} is not installed ({exc}); "
                           f"pip install 'perf-suite[postgres]'") from None
    if backend == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below is the only one

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine, where


def open_database(url: str) -> Database:
    """Connect, then create, upgrade or check the schema; a clear HistoryError for anything unusable."""
    engine, where = _engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CREATE_LOCK})
            schema.ensure(conn, where)
    except schema.SchemaError as exc:
        engine.dispose()
        raise HistoryError(str(exc)) from None
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise HistoryError(f"{where}: cannot open the database: {failure(exc)}") from None
    return Database(engine, where)


def stored_uids(db: Database, uids) -> set[str]:
    uids = list(uids)
    with db.engine.connect() as conn:
        found: set[str] = set()
        for i in range(0, len(uids), 500):
            chunk = uids[i:i + 500]
            found.update(conn.execute(sa.select(schema.runs.c.uid).where(schema.runs.c.uid.in_(chunk))).scalars())
    return found


def insert_run(conn: sa.Connection, run: dict, rows: list[dict], pairs: list[dict] = ()) -> int | None:
    """Insert a run, its results and its side-by-side pairs inside the caller's transaction; None when the run is
    stored already."""
    run = {**run, "n_results": len(rows), "stored_at": dt.datetime.now(dt.timezone.utc)}
    run_id = _insert_once(conn, run)
    if run_id is None:
        return None
    for table, records in ((schema.results, rows), (schema.pairs, pairs)):
        if records:
            conn.execute(table.insert(), [{**r, "run_id": run_id, "gpu": run["gpu"]} for r in records])
    return run_id


def _insert_once(conn: sa.Connection, run: dict) -> int | None:
    """Insert the run row unless its uid is stored: the new id, or None. On PostgreSQL and SQLite one
    `ON CONFLICT (uid) DO NOTHING`, so that two writers storing the same run at once store it once and neither
    fails: the second waits for the first's transaction, then inserts nothing. Other databases: check, then insert
    (write_run settles a race there)."""
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(schema.runs).values(**run).on_conflict_do_nothing(index_elements=["uid"])
        row = conn.execute(statement.returning(schema.runs.c.id)).first()
        return None if row is None else row[0]
    if conn.execute(sa.select(schema.runs.c.id).where(schema.runs.c.uid == run["uid"])).first() is not None:
        return None
    return conn.execute(schema.runs.insert().values(**run)).inserted_primary_key[0]


def write_run(db: Database, run: dict, rows: list[dict], pairs: list[dict] = ()) -> int | None:
    """Store a run, its results and its pairs in one transaction; the new run's id, or None when it was stored
    before."""
    try:
        with db.begin() as conn:
            return insert_run(conn, run, rows, pairs)
    except sa.exc.IntegrityError:
        # Another writer stored the same run between our check and our insert: it is stored once, as it should.
        with db.engine.connect() as conn:
            if conn.execute(sa.select(schema.runs.c.id).where(schema.runs.c.uid == run["uid"])).first():
                return None
        raise
    except sa.exc.DBAPIError as exc:  # a full disk, a lost connection, a statement timeout: nothing was stored
        raise HistoryError(f"{db.where}: the run was not stored: {failure(exc)}") from None


RUN_COLUMNS = ("id", "date", "commit", "gpu", "device", "driver", "cuda", "torch", "triton", "source", "n_results")


def runs_frame(db: Database, gpu: str | None = None):
    """The stored runs, oldest first (a pandas DataFrame)."""
    import pandas as pd

    r = schema.runs.c
    query = sa.select(*(getattr(r, name) for name in RUN_COLUMNS)).order_by(r.date, r.id)
    if gpu:
        query = query.where(r.gpu == gpu)
    with db.engine.connect() as conn:
        frame = pd.DataFrame([tuple(row) for row in conn.execute(query)], columns=list(RUN_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    return frame


RUN_FACTS = ("date", "commit", "driver", "cuda", "torch", "triton")  # each row of a series carries its run's
SERIES_COLUMNS = ("run_id", "gpu", "key", *RUN_FACTS, "family", "dtype", "median_ms", "ci_low_ms", "ci_high_ms",
                  "verdict", "baseline_ms", "tolerance", "reference")
PAIR_COLUMNS = ("run_id", "gpu", "key", *RUN_FACTS, "pair_id", "ours", "reference", "dtype", "ratio", "ratio_low",
                "ratio_high", "ours_ms", "reference_ms", "method")


def series_frame(db: Database, gpu: str | None = None, keys=None, up_to_run: int | None = None):
    """Every stored result with its run's facts, ordered by (GPU, benchmark, date): one series per (gpu, key)."""
    return _series(db, schema.results, SERIES_COLUMNS, gpu, keys, up_to_run)


def pairs_frame(db: Database, gpu: str | None = None, keys=None, up_to_run: int | None = None):
    """Every stored side-by-side pair with its run's facts, ordered by (GPU, pair, date): one ratio series per
    (gpu, key)."""
    return _series(db, schema.pairs, PAIR_COLUMNS, gpu, keys, up_to_run)


def _series(db: Database, table: sa.Table, columns: tuple[str, ...], gpu: str | None, keys, up_to_run: int | None):
    """The rows of `table` (results or pairs) joined with their runs, as a DataFrame of `columns`, ordered by (GPU,
    key, date); filtered by GPU kind, keys and the runs up to `up_to_run`'s date."""
    import pandas as pd

    r, t = schema.runs.c, table.c
    query = (sa.select(*(getattr(r if name in RUN_FACTS else t, name) for name in columns))
             .join(schema.runs, r.id == t.run_id).order_by(t.gpu, t.key, r.date, r.id))
    if gpu:
        query = query.where(t.gpu == gpu)
    if keys is not None:
        query = query.where(t.key.in_(list(keys)))
    if up_to_run is not None:
        last = sa.select(r.date).where(r.id == up_to_run).scalar_subquery()
        query = query.where(r.date <= last)
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    return frame
