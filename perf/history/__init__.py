"""history: the results database (SQLAlchemy: SQLite by default, PostgreSQL for a fleet), change points, trends.
May import verdict (to read results files), measure, gpus and spec; the plugin, report and commands import it."""
