"""Batch-invariant Triton kernels: a row of the result is bitwise the same whatever the other rows are.

    from perf_kernels import matmul, rms_norm, log_softmax, mean, attention, batch_invariant

    y = matmul(x, w)                # bf16/fp16 (or fp32) in, fp32 accumulation, x's dtype out
    with batch_invariant():         # route torch's matmuls, softmax, norms, reductions and SDPA on CUDA
        logits = model(tokens)      # tensors to these kernels (kernels/batch_invariant.py lists them)

Each kernel lives in its own module with its launcher, its `reference`, and `flops` / `bytes`.
"""

from perf_kernels.torch_floor import require_torch

require_torch()  # torch >= 2.5, or one clear ImportError here rather than a missing function deep in a benchmark

from perf_kernels.attention import attention  # noqa: E402
from perf_kernels.batch_invariant import batch_invariant  # noqa: E402
from perf_kernels.layer_norm import layer_norm  # noqa: E402
from perf_kernels.log_softmax import log_softmax  # noqa: E402
from perf_kernels.matmul import matmul  # noqa: E402
from perf_kernels.mean import mean  # noqa: E402
from perf_kernels.rms_norm import rms_norm  # noqa: E402

__all__ = ["matmul", "rms_norm", "log_softmax", "mean", "layer_norm", "attention", "batch_invariant"]
