"""Loads the suite's pytest plugin for every pytest run started in this checkout."""

pytest_plugins = ["perf.plugin"]
