#!/usr/bin/env bash
# Round 15, part 6 (about 2 minutes on one H200): decode MHA b1 L1k and three neighbours timed in four processes
# that differ only in where the caches are allocated (scripts/decode_allocation_gpu.py: fresh, cut from a cached
# 40 GiB segment, the same after empty_cache, expandable segments). Results in $OUT/r15f/ (docs/perf-notes.md 72).
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round15f_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r15f"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
for variant in fresh segment released expandable fresh; do
  conf=""; [ "$variant" = expandable ] && conf="expandable_segments:True"
  VARIANT=$variant PYTORCH_CUDA_ALLOC_CONF=$conf timeout 120 python3 scripts/decode_allocation_gpu.py \
    "$dir/$variant.json" > "$dir/$variant.log" 2>&1 || echo "$variant rc $?" >> "$dir/gpus.txt"
  grep -v Warning "$dir/$variant.log" | grep -v warn_once
done
cat "$dir/gpus.txt"
