"""CPU test configuration: Triton kernels run under the interpreter when no GPU is present."""

import os

# Must be set before any Triton kernel is defined (kernels are imported by the test modules, after this file).
if os.environ.get("PERF_TESTS_ON_GPU") != "1":
    os.environ["TRITON_INTERPRET"] = "1"
