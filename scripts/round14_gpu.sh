#!/usr/bin/env bash
# Round 14, part 1 (about 6-8 minutes on two H200s): the detection experiment on the current decode kernel and entries
# (the last one, section 46 of docs/perf-notes.md, ran before rounds 12-13 changed the kernel's launch and its
# entries). `perf detect` slows the 24 decode attention (triton) benchmarks by 5% of real work of their own kind
# (calibrated ABAB in the same process) and runs them with the untouched decode attention (torch), mean (triton and
# torch) and prefill attention benchmarks, -n <GPUs>, against baselines/H200.json. The mean kernels are not slowed
# here: an extra copy cannot take less than a launch, so their "5%" reads 18-83% (section 46). Writes
# $OUT/r14/detect.json and the log, packed into $OUT/round14.tgz.
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round14_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r14"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
start=$(date +%s)
timeout 560 python3 -m perf detect --inject 0.05 'decode/attention:triton:*' \
  --json "$dir/detect.json" perf/suite/test_decode.py perf/suite/test_kernels.py \
  -k "(test_decode and attention) or (test_kernels and (mean or attention))" -n "$gpus" --gpu H200 \
  -p no:cacheprovider > "$dir/detect.log" 2>&1
echo "detect rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/round14.tgz" -C "$OUT" r14
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/detect.log" | tail -n 3
sed -n '/^injected benchmark/,$p' "$dir/detect.log" | cut -c1-150 | tail -n 45
