#!/usr/bin/env bash
# Batch invariance on one GPU, side by side in one process (about 4 minutes on an H200):
# triton matmul vs cuBLAS (every candidate config), decode and prefill attention vs SDPA, rms_norm / log_softmax /
# mean GB/s vs a measured copy, and HF Llama / GPT-2 with and without batch_invariant() (bitwise equal, tokens/s);
# then the GPU invariance suite (kernels across config-bucket edges, the new routes, the model check).
# Everything lands in $OUT; the last lines printed are a short table.
#   OUT=out bash scripts/invariance_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
OUT=${OUT:-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv \
  > "$OUT/gpu.txt" 2>&1
timeout "${SUITE_LIMIT:-150}" python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py -m "not timing" \
  -p no:cacheprovider -q -s -rs --perf-json "$OUT/invariance_suite.json" > "$OUT/invariance_suite.log" 2>&1
echo "invariance suite rc=$? $(tail -1 "$OUT/invariance_suite.log")"
timeout "${BENCH_LIMIT:-270}" python3 scripts/invariance_gpu.py > "$OUT/invariance_gpu.log" 2>&1
rc=$?
grep -v "^\[" "$OUT/invariance_gpu.log" | tail -40
echo "invariance_gpu.py rc=$rc"
