#!/usr/bin/env bash
# Round 7, part 3 on a machine of four H200s (about 8 minutes of wall time):
#   1. refresh the H200 baseline entries of the kernels that changed since it was taken (test_kernels.py: matmul's
#      buckets; decode attention's split rule; the model generations, which had none) with -n 4 --runs 3; the new
#      baseline file is copied to $OUT/H200.json;
#   2. the whole suite with -n 4, then with -n 2, against that baseline (scripts/workers_gpu.sh): wall times,
#      verdicts (nothing is injected: every regression is false), per-GPU table, per-item durations;
#   3. issue 13's kernel table from the -n 4 run (scripts/kernel_speed_table.py).
# Everything but the tables is packed into $OUT/round7c.tgz.
#
#   PERF_COMMIT=$(git rev-parse HEAD) OUT=out bash scripts/round7c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r7c"
start=$(date +%s)
timeout -s INT 220 python3 -m perf refresh --gpu H200 -n 4 --runs 3 -p no:cacheprovider \
  perf/suite/test_kernels.py perf/suite/test_decode.py perf/suite/test_model_invariance.py \
  -k "test_kernels or attention or test_model_generate" > "$OUT/r7c/refresh.log" 2>&1
echo "refresh rc $? in $(( $(date +%s) - start )) s" > "$OUT/r7c/refresh.txt"
cp baselines/H200.json "$OUT/H200.json"
WORKERS="4 2" LIMIT_4=160 LIMIT_2=240 ARGS="--durations=0" OUT="$OUT/r7c" bash scripts/workers_gpu.sh \
  > "$OUT/r7c/table.txt" 2>&1
mkdir -p /tmp/r7c && tar xzf "$OUT/r7c/results.tgz" -C /tmp/r7c n4.json \
  && python3 scripts/kernel_speed_table.py /tmp/r7c/n4.json > "$OUT/r7c/kernels.txt" 2>&1
tar czf "$OUT/round7c.tgz" -C "$OUT" r7c && rm -rf "$OUT/r7c"
tar xzf "$OUT/round7c.tgz" -C /tmp r7c/refresh.txt r7c/table.txt r7c/kernels.txt
cat /tmp/r7c/refresh.txt; tail -n 12 /tmp/r7c/table.txt; cat /tmp/r7c/kernels.txt
