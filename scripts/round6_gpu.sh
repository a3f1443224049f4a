#!/usr/bin/env bash
# Round 6 on a machine of four H200s, one device call (about 8 minutes of wall time with PART=all):
#   1. the whole suite with -n 4 on GPUs 0-3 against baselines/H200.json: wall time, verdicts, per-GPU table
#      (PART=n4 runs it twice and stops there);
#   2. side by side on the same host: GPU 0 the whole suite in one process (-n 0), GPUs 1-2 with -n 2;
#   3. issue 13's kernel speed targets from the one-process run (every kernel and its reference on GPU 0), or
#      with PART=n4 from the first -n 4 run (a kernel and its reference share a worker): scripts/kernel_speed_table.py.
# Everything but the tables is packed into $OUT/round6.tgz: few files come back from the machine.
# The kernels changed since baselines/H200.json was taken (matmul through TMA, decode attention's split rule), so
# their verdicts are real changes; every other regression is false.
#
#   PERF_COMMIT=$(git rev-parse HEAD) OUT=out bash scripts/round6_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT/n4" "$OUT/n2" "$OUT/n1"
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
if [ "${PART:-all}" = n4 ]; then
  WORKERS="4 4" LIMIT_4=${LIMIT_4:-180} ARGS="--durations=0" OUT="$OUT/n4" bash scripts/workers_gpu.sh \
    > "$OUT/n4/table.txt" 2>&1
  mkdir -p /tmp/round6 && tar xzf "$OUT/n4/results.tgz" -C /tmp/round6 n4.json \
    && python3 scripts/kernel_speed_table.py /tmp/round6/n4.json > "$OUT/kernels.txt" 2>&1
  tail -n 16 "$OUT/n4/table.txt"; echo "== kernels (-n 4, run 1)"; cat "$OUT/kernels.txt"
  tar czf "$OUT/round6.tgz" -C "$OUT" n4 n2 n1 gpus.csv && rm -rf "$OUT/n4" "$OUT/n2" "$OUT/n1" "$OUT/gpus.csv"
  exit 0
fi
WORKERS="4" LIMIT_4=${LIMIT_4:-180} ARGS="--durations=0" OUT="$OUT/n4" bash scripts/workers_gpu.sh \
  > "$OUT/n4/table.txt" 2>&1
CUDA_VISIBLE_DEVICES=1,2 WORKERS="2" LIMIT_2=${LIMIT_2:-330} OUT="$OUT/n2" bash scripts/workers_gpu.sh \
  > "$OUT/n2/table.txt" 2>&1 &
CUDA_VISIBLE_DEVICES=0 WORKERS="0" LIMIT_N=${LIMIT_0:-400} ARGS="--durations=0" OUT="$OUT/n1" \
  bash scripts/workers_gpu.sh > "$OUT/n1/table.txt" 2>&1
wait
mkdir -p /tmp/round6 && tar xzf "$OUT/n1/results.tgz" -C /tmp/round6 n0.json \
  && python3 scripts/kernel_speed_table.py /tmp/round6/n0.json > "$OUT/kernels.txt" 2>&1
for part in n4 n2 n1; do echo "== $part"; grep -v "^GPU \|^---\|^  " "$OUT/$part/table.txt" | tail -n 12; done
echo "== kernels (one process, GPU 0)"; cat "$OUT/kernels.txt" 2>/dev/null
tar czf "$OUT/round6.tgz" -C "$OUT" n4 n2 n1 gpus.csv && rm -rf "$OUT/n4" "$OUT/n2" "$OUT/n1" "$OUT/gpus.csv"
