#!/usr/bin/env bash
# Round 14, part 5 (about 5-7 minutes on two GPUs): the whole suite with -n <GPUs> against baselines/$GPU.json, nothing
# injected, with the sibling check (a regression confirmed on one GPU is measured once more on the other): every
# regression is a false alarm, and one that a sibling clears reads unreliable, naming its GPU. Prints the verdict
# counts, then every regression and unreliable result with its measurements. Results and log packed into
# $OUT/r14e.tgz.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round14e_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r14e"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit --format=csv,noheader > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
start=$(date +%s)
timeout 540 python3 -m pytest perf/ -n "$gpus" --gpu "$GPU" -p no:cacheprovider -q --perf-json "$dir/suite.json" \
  > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/r14e.tgz" -C "$OUT" r14e
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 2
python3 - "$dir/suite.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
for r in rows:
    if r["verdict"] in ("regression", "unreliable"):
        steps = " | ".join(f"{m['change']:+.1%} {m['where']}" for m in r.get("measurements", []) if m.get("change") is not None)
        print(f"{r['verdict']:<10} GPU {r['placement']['gpu_index']} {r['key'][:70]:<70} {steps}")
        print(f"           {r['reason'][:220]}")
PY
