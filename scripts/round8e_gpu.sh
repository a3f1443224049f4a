#!/usr/bin/env bash
# Round 8, part 5 on one GPU (about 3 minutes): a 3-run refresh of what the prefill change moves, the prefill attention
# entries (kernel/attention:triton) and the invariant model generations, on the GPU named by GPU (H200 or H100-SXM).
# Packed into $OUT/round8e.tgz with the refreshed baseline.
#
#   GPU=H100-SXM OUT=out bash scripts/round8e_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8e"
chmod u+w baselines/*.json
start=$(date +%s)
timeout -s INT 400 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider \
  perf/suite/test_kernels.py perf/suite/test_model_invariance.py \
  -k "(attention and triton) or (test_model_generate and invariant)" > "$OUT/r8e/refresh.log" 2>&1
echo "refresh rc $? in $(( $(date +%s) - start )) s" > "$OUT/r8e/refresh.txt"
cp "baselines/$GPU.json" "$OUT/r8e/$GPU.json"
tar czf "$OUT/round8e.tgz" -C "$OUT" r8e
cat "$OUT/r8e/refresh.txt"; tail -n 12 "$OUT/r8e/refresh.log"
