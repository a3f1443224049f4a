"""perf: a pytest performance-regression suite for transformer GEMMs and kernels on GPUs."""

__version__ = "0.1.0"
