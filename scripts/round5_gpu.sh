#!/usr/bin/env bash
# Round 5 on a machine of four H200s, in two device calls on one host (the second while the machine is warm):
#
#   PART=a  three whole-suite runs with -n 4 against baselines/H200.json (taken without workers), each a results
#           file for the history (runs 1-3) and a wall time; if the model-invariance test fails, the operator audit.
#   PART=b  GPUs 1-3: two whole-suite runs with -n 3 (history runs 4-5); at the same time GPU 0: the reverse check,
#           the suite in one process (no workers; without the model tests, to fit the call) against
#           .bl4/H200.json, a baseline merged (`perf refresh --from-results --baseline-dir .bl4`) from part a's runs.
#   PART=c  the speed-up measured, not estimated: GPU 0 the whole suite in one process (-n 0), GPUs 1-2 with -n 2,
#           side by side (one host, other GPUs), each against baselines/H200.json.
#
#   PERF_COMMIT=$(git rev-parse HEAD) PART=a OUT=out bash scripts/round5_gpu.sh
# The last lines printed are the tables of scripts/workers_gpu.sh (and, in part b, the reverse check's counts).
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
case ${PART:?set PART to a, b or c} in
a)
  mkdir -p "$OUT/n4"
  WORKERS="4 4 4" LIMIT_4=${LIMIT_4:-165} ARGS="--durations=0" OUT="$OUT/n4" bash scripts/workers_gpu.sh \
    > "$OUT/n4/table.txt" 2>&1 || true
  if grep -q "failed items:.*test_model_invariance" "$OUT/n4/table.txt"; then
    CUDA_VISIBLE_DEVICES=0 timeout 120 python3 scripts/invariance_audit_gpu.py "$OUT/audit" > "$OUT/audit.txt" 2>&1
  fi
  parts="n4"
  ;;
b)
  [ -f .bl4/H200.json ] || { echo "no .bl4/H200.json (carry .bl4)"; exit 2; }
  mkdir -p "$OUT/n3" "$OUT/n0"
  CUDA_VISIBLE_DEVICES=1,2,3 WORKERS="3 3" LIMIT_N=${LIMIT_N:-190} ARGS="--durations=0" OUT="$OUT/n3" \
    bash scripts/workers_gpu.sh > "$OUT/n3/table.txt" 2>&1 &
  start=$(date +%s)
  CUDA_VISIBLE_DEVICES=0 timeout -s INT "${LIMIT_0:-380}" python3 -m pytest perf/ -p no:cacheprovider -q \
    --gpu H200 --baseline-dir .bl4 -k "not test_model" --perf-json "$OUT/n0/n0.json" > "$OUT/n0/n0.log" 2>&1
  echo "n0 exit $? wall $(( $(date +%s) - start )) s" > "$OUT/n0/table.txt"
  python3 scripts/verdict_counts.py "$OUT/n0/n0.json" "reverse check (one process against a baseline of -n 4 runs)" \
    >> "$OUT/n0/table.txt"
  wait
  tar czf "$OUT/n0/n0.tgz" -C "$OUT/n0" n0.json && rm -f "$OUT/n0/n0.json"
  parts="n3 n0"
  ;;
c)
  mkdir -p "$OUT/n1" "$OUT/n2"
  CUDA_VISIBLE_DEVICES=1,2 WORKERS="2" LIMIT_2=${LIMIT_2:-300} OUT="$OUT/n2" bash scripts/workers_gpu.sh \
    > "$OUT/n2/table.txt" 2>&1 &
  CUDA_VISIBLE_DEVICES=0 WORKERS="0" LIMIT_N=${LIMIT_0:-450} OUT="$OUT/n1" bash scripts/workers_gpu.sh \
    > "$OUT/n1/table.txt" 2>&1
  wait
  parts="n1 n2"
  ;;
esac
for part in $parts; do echo "== $part"; tail -n 30 "$OUT/$part/table.txt"; done
[ -f "$OUT/audit.txt" ] && { echo "== audit"; grep -v "^\[" "$OUT/audit.txt" | tail -n 12; }
true
