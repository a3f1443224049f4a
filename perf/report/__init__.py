"""report: what a person reads from a results file (tables, summary.md, HTML, CSV, plots, compare, decode model).
May import verdict, measure, shape, gpus and spec; nothing imports it but the plugin, the CLI and commands."""
