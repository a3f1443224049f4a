"""commands: `python -m perf` commands that span several layers (refresh runs the suite; lint and advise print
tables and may time candidates). At the top with the plugin: may import every folder; nothing imports them."""
