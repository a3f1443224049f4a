#!/usr/bin/env bash
# Round 15, part 3 (about 3 minutes on one H200): decode attention for MHA on the CUDA cores against the tensor
# cores and SDPA (scripts/decode_one_row_gpu.py; the module before the split kernel was cut into helpers is carried
# in .r15/decode_attention_before.py). Results in $OUT/r15c/ (docs/perf-notes.md section 69).
#
#   OUT=out bash scripts/round15c_gpu.sh     (carry .r15)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r15c"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
timeout 500 python3 scripts/decode_one_row_gpu.py "$dir/one_row.json" > "$dir/one_row.log" 2>&1
echo "one row rc $?" >> "$dir/gpus.txt"
cat "$dir/gpus.txt"
tail -n 24 "$dir/one_row.log"
