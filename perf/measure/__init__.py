"""measure: the run's target, device timing (CUDA events, CUPTI, graphs, host timer), clocks, environment, and
the summary of one sample set. Imports only gpus and spec (the shared vocabulary); nothing above it."""
