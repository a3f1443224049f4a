#!/usr/bin/env bash
# Round 14, part 3 (about 2-3 minutes on two H200s, the host of parts 1-2): scripts/decode_sibling_gpu.py on every GPU
# of the host at once, one process each; results in $OUT/r14c/gpu<N>.json, tables last.
#
#   OUT=out bash scripts/round14c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r14c"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
n=$(wc -l < "$dir/gpus.txt")
for g in $(seq 0 $((n - 1))); do
  CUDA_VISIBLE_DEVICES=$g timeout 400 python3 scripts/decode_sibling_gpu.py "$dir/gpu$g.json" > "$dir/gpu$g.log" 2>&1 &
done
wait
cat "$dir/gpus.txt"
for g in $(seq 0 $((n - 1))); do echo "GPU $g:"; tail -n 9 "$dir/gpu$g.log"; done
