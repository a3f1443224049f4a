"""Loads the suite's pytest plugin (and pytester, for the end-to-end tests) in every run from this checkout."""

pytest_plugins = ["perf.plugin", "pytester"]
