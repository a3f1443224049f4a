"""history: the results database (SQLAlchemy: SQLite by default, PostgreSQL for a fleet), change points, drift.
May import verdict (to read results files), measure, gpus and spec; only the plugin and commands import it."""
