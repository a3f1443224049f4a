#!/usr/bin/env bash
# Round 14, part 2 (about 2 minutes on two H200s, right after part 1 on the same host): the 24 decode attention
# (triton) and 24 (torch) benchmarks with nothing injected, -n <GPUs>, against baselines/H200.json: how far this
# host's own times sit from the entries, to read part 1's changes against. Prints each benchmark's change, tolerance
# and verdict; $OUT/r14b/ holds the results file and the log.
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round14b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r14b"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
timeout 400 python3 -m pytest perf/suite/test_decode.py -k "test_decode and attention" -n "$gpus" --gpu H200 \
  -p no:cacheprovider -q --perf-json "$dir/plain.json" > "$dir/plain.log" 2>&1
echo "pytest rc $?" >> "$dir/gpus.txt"
cat "$dir/gpus.txt"
tail -n 2 "$dir/plain.log"
python3 - "$dir/plain.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
for r in sorted(rows, key=lambda r: r["key"]):
    change, tol = r.get("change"), r.get("tolerance")
    print(f"{r['key'][17:]:<58} {'' if change is None else f'{change:+.1%}':>7} "
          f"{'' if tol is None else f'{tol:.1%}':>6} {r['verdict']}")
PY
