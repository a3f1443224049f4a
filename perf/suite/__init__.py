"""suite: what pytest collects (GEMMs, kernels, decode, sweeps, invariance, shape rules), each *_specs.py an
explicit list of specs as data. May import spec, gpus, shape, measure.target and kernels; not verdict or report."""
