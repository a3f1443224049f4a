"""commands: every `python -m perf` command's main (refresh runs the suite; report, compare, ab write reports; lint,
advise, claims print tables). At the top with the plugin: may import every folder; only the CLI imports them."""
