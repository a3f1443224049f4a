#!/usr/bin/env bash
# The whole suite in one process on the GPU present (no workers), against its committed baseline, with the claims
# decided from the run; the model-generation timings (measured on the H200 already) are left out to fit one device
# call. Last lines: pytest's summary, the verdict counts, the claims table.
#   PERF_COMMIT=$(git rev-parse HEAD) OUT=out bash scripts/one_gpu_claims.sh      (LIMIT: seconds, default 520)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
start=$(date +%s)
timeout -s INT "${LIMIT:-520}" python3 -m pytest perf/ -p no:cacheprovider -q -k "not test_model_generate" \
  --durations=30 --perf-json "$OUT/one.json" > "$OUT/one.log" 2>&1
echo "exit $? wall $(( $(date +%s) - start )) s"
python3 -m perf claims "$OUT/one.json" > "$OUT/claims.txt" 2>&1
python3 scripts/verdict_counts.py "$OUT/one.json"
tar czf "$OUT/one.tgz" -C "$OUT" one.json && rm -f "$OUT/one.json"
grep -E "passed|failed" "$OUT/one.log" | tail -n 3
tail -n 25 "$OUT/claims.txt"
