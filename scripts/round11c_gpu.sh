#!/usr/bin/env bash
# Round 11, part 3 (about 9 minutes on two H200s: the calibration of 38 injections takes most of it): the detection experiment on the entries refreshed in round 11.
# `perf detect` slows every decode attention (triton) and mean (triton) benchmark by 5% of real work of its own kind
# (calibrated ABAB in the same process) and runs them, with the untouched torch providers of both and the prefill
# attention benchmarks, with -n <GPUs> against baselines/H200.json: caught among the 38 injected, false alarms among
# the 66 untouched. Writes $OUT/r11c/detect.json and the log, packed into $OUT/round11c.tgz.
#
#   OUT=out bash scripts/round11c_gpu.sh
# (Run in round 11 with a 520 s limit, which stopped `perf detect` after pytest but before its table: perf-notes 46.)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r11c"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
start=$(date +%s)
timeout 585 python3 -m perf detect --inject 0.05 'decode/attention:triton:*' 'kernel/mean:triton:*' \
  --json "$dir/detect.json" perf/suite/test_decode.py perf/suite/test_kernels.py \
  -k "(test_decode and attention) or (test_kernels and (mean or attention))" -n "$gpus" --gpu H200 \
  -p no:cacheprovider > "$dir/detect.log" 2>&1
echo "detect rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/round11c.tgz" -C "$OUT" r11c
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/detect.log" | tail -n 3
sed -n '/^injected benchmark/,$p' "$dir/detect.log" | cut -c1-150 | tail -n 45
