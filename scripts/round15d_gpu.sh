#!/usr/bin/env bash
# Round 15, part 4 (about 7-8 minutes on one GPU): the whole suite in one process (no workers) against
# baselines/$GPU.json, nothing injected, on a host that fed none of the entries: every regression is a false alarm.
# Prints the verdict counts, every regression and unreliable result with its measurements, the median change per
# family and provider (how far this host sits from the entries), and decode MHA b1 L1k (triton), which read 9.9 us in
# two whole-suite runs with workers and 11.2 us alone. Results and log packed into $OUT/$NAME.tgz.
#
#   GPU=H200 NAME=r15d PERF_COMMIT=<hash> OUT=out bash scripts/round15d_gpu.sh   (WORKERS=1: one xdist worker)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
NAME=${NAME:-r15d}
unset TRITON_INTERPRET
dir="$OUT/$NAME"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit --format=csv,noheader > "$dir/gpus.txt"
start=$(date +%s)
timeout 560 python3 -m pytest perf/ --gpu "$GPU" -p no:cacheprovider -q ${WORKERS:+-n "$WORKERS"} --perf-json "$dir/suite.json" \
  > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/$NAME.tgz" -C "$OUT" "$NAME"
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 2
python3 scripts/host_drift.py "$dir/suite.json"
