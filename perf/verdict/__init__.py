"""verdict: results, the noise model, the comparison with a baseline (pass, regression, ...), baseline files and
the roofline units of a result. May import measure, gpus and spec; never report, suite or the plugin."""
