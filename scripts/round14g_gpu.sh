#!/usr/bin/env bash
# Round 14, part 7 (about 4-6 minutes on one H100): the detection experiment on the H100's decode attention entries.
# `perf detect` slows the 16 decode attention (triton) benchmarks at batch 8 and 64 by 5% of real work of their own
# kind (calibrated ABAB in the same process) and runs them with their 16 untouched SDPA (torch) neighbours against
# baselines/H100-SXM.json. Writes $OUT/r14g/detect.json and the log.
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round14g_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r14g"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
start=$(date +%s)
timeout 560 python3 -m perf detect --inject 0.05 'decode/attention:triton:*' --json "$dir/detect.json" \
  perf/suite/test_decode.py -k "attention and (b8 or b64)" --gpu H100-SXM -p no:cacheprovider > "$dir/detect.log" 2>&1
echo "detect rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/detect.log" | tail -n 2
sed -n '/^injected benchmark/,$p' "$dir/detect.log" | cut -c1-130 | tail -n 22
