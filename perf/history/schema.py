"""The results database's tables (SQLAlchemy Core), its schema version, and the versioned create that brings an
empty or older database to this version.

Migration story: `schema_info.version` holds the version a database was created or last upgraded to. `UPGRADES`
maps each older version to the function that brings it one step up; `ensure` runs them in order inside the
transaction that opens the database, so an upgrade is all or nothing. A database of a newer version is refused.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 3  # 2: the side-by-side pairs (table pairs); 3: the runner of each result, its reference, acceptances

metadata = sa.MetaData()

schema_info = sa.Table(
    "schema_info", metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(64), nullable=False, unique=True),  # content hash: a run is stored once
    sa.Column("date", sa.DateTime(timezone=True), nullable=False),
    sa.Column("commit", sa.String(80)),
    sa.Column("gpu", sa.String(40), nullable=False),  # the GPU kind (H200, cpu, ...)
    sa.Column("device", sa.String(200)),
    sa.Column("driver", sa.String(40)),
    sa.Column("cuda", sa.String(40)),
    sa.Column("torch", sa.String(60)),
    sa.Column("triton", sa.String(40)),
    sa.Column("environment", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),  # timing settings and the run's other settings
    sa.Column("source", sa.String(500)),  # the results file it came from, or "pytest"
    sa.Column("n_results", sa.Integer, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_runs_gpu_date", runs.c.gpu, runs.c.date)

results = sa.Table(
    "results", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("gpu", sa.String(40), nullable=False),  # the run's GPU kind, repeated for the series index
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("family", sa.String(60), nullable=False),
    sa.Column("dtype", sa.String(20)),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("median_ms", sa.Float, nullable=False),
    sa.Column("ci_low_ms", sa.Float),
    sa.Column("ci_high_ms", sa.Float),
    sa.Column("rel_noise", sa.Float),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("change", sa.Float),
    sa.Column("tolerance", sa.Float),
    sa.Column("baseline_ms", sa.Float),
    sa.Column("method", sa.String(40)),
    sa.Column("throttled", sa.Boolean),
    sa.Column("flops", sa.Float),
    sa.Column("bytes", sa.Float),
    sa.Column("tflops", sa.Float),
    sa.Column("gbs", sa.Float),
    sa.Column("host", sa.String(200)),  # the runner that measured it: host name and GPU UUID (None on the CPU)
    sa.Column("gpu_uuid", sa.String(80)),
    sa.Column("reference", sa.String(300)),  # what decided its verdict: "history: 5 runs of ..." or "baseline: F"
    sa.UniqueConstraint("run_id", "key", name="uq_results_run_key"),
)
# "This benchmark over time on this GPU kind": the series read walks this index.
sa.Index("ix_results_series", results.c.gpu, results.c.key, results.c.dtype, results.c.run_id)


pairs = sa.Table(
    "pairs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("gpu", sa.String(40), nullable=False),  # the run's GPU kind, repeated for the series index
    sa.Column("key", sa.String(300), nullable=False),  # the pair's series key: ours' family / the pair id
    sa.Column("pair_id", sa.String(300), nullable=False),
    sa.Column("ours", sa.String(300)),  # the two benchmarks' keys
    sa.Column("reference", sa.String(300)),
    sa.Column("dtype", sa.String(20)),
    sa.Column("ratio", sa.Float, nullable=False),  # reference time / ours, the median of the rounds' ratios
    sa.Column("ratio_low", sa.Float, nullable=False),
    sa.Column("ratio_high", sa.Float, nullable=False),
    sa.Column("ours_ms", sa.Float, nullable=False),
    sa.Column("reference_ms", sa.Float, nullable=False),
    sa.Column("method", sa.String(40)),
    sa.Column("rounds", sa.JSON, nullable=False),
    sa.UniqueConstraint("run_id", "key", name="uq_pairs_run_key"),
)
# "This pair over time on this GPU kind": the pairs' series read walks this index.
sa.Index("ix_pairs_series", pairs.c.gpu, pairs.c.key, pairs.c.run_id)


# A regression or improvement someone accepted (`python -m perf history accept`): from it on, the benchmark's history
# reference starts at the accepted step instead of staying red (or reporting an improvement) night after night.
acceptances = sa.Table(
    "acceptances", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("gpu", sa.String(40), nullable=False),  # the GPU kind it applies to
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
sa.Index("ix_acceptances_key", acceptances.c.gpu, acceptances.c.key, acceptances.c.accepted_at)


class SchemaError(RuntimeError):
    """A database whose schema this version cannot use."""


def _add_pairs(conn: sa.Connection) -> None:
    """Version 1 -> 2: the side-by-side pairs' table and its series index (runs and results stay as they are)."""
    pairs.create(conn)


def _add_runners_and_acceptances(conn: sa.Connection) -> None:
    """Version 2 -> 3: each result's runner (host, GPU UUID) and reference, and the acceptances table. Results stored
    before have no runner: they never form a history reference (the committed baseline decides for them)."""
    for column in ("host", "gpu_uuid", "reference"):
        kind = results.c[column].type.compile(conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE results ADD COLUMN {column} {kind}"))
    acceptances.create(conn)


UPGRADES: dict[int, object] = {1: _add_pairs, 2: _add_runners_and_acceptances}  # version -> function(connection) bringing it to version + 1


def ensure(conn: sa.Connection, where: str) -> int:
    """Create the tables in an empty database, upgrade an older one, refuse a newer one; return the version.
    Runs inside the caller's transaction."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("schema_info"):
        if inspector.has_table("runs") or inspector.has_table("results"):
            raise SchemaError(f"{where}: schema_info: missing, but tables runs/results exist: not a database "
                              f"this suite created")
        metadata.create_all(conn)
        conn.execute(schema_info.insert().values(version=SCHEMA_VERSION))
        return SCHEMA_VERSION
    versions = [row.version for row in conn.execute(sa.select(schema_info.c.version))]
    if len(versions) != 1:
        raise SchemaError(f"{where}: schema_info.version: expected one row, found {len(versions)}")
    version = versions[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"{where}: schema_info.version: the database is at version {version}, newer than this "
                          f"suite's {SCHEMA_VERSION}; upgrade perf-suite to use it (nothing was written)")
    while version < SCHEMA_VERSION:
        upgrade = UPGRADES.get(version)
        if upgrade is None:
            raise SchemaError(f"{where}: schema_info.version: no upgrade from version {version}")
        upgrade(conn)
        version += 1
        conn.execute(schema_info.update().values(version=version))
    return version
