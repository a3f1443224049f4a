#!/usr/bin/env bash
# Round 15, part 5 (about 6-7 minutes on two GPUs): the whole suite with -n <GPUs> against baselines/$GPU.json,
# nothing injected. Prints the verdict counts, each GPU's offset from its entries per family (the terminal's
# table), every regression and unreliable result, and decode MHA b1 L1k's per-kernel device times (kernel_ms), which
# read 9.9 us against 11.2 only in whole-suite runs with workers. Results and log packed into $OUT/r15e2.tgz.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round15e_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r15e2"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit --format=csv,noheader > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
start=$(date +%s)
timeout 540 python3 -m pytest perf/ -n "$gpus" --gpu "$GPU" -p no:cacheprovider -q --perf-json "$dir/suite.json" \
  > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/r15e2.tgz" -C "$OUT" r15e2
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 2
grep -A 24 "^offset from the entries" "$dir/suite.log" | cut -c1-150
python3 - "$dir/suite.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
for r in rows:
    if r["verdict"] in ("regression", "unreliable", "improvement"):
        steps = " | ".join(f"{m['change']:+.1%} {m['where']}" for m in r.get("measurements", []) if m.get("change") is not None)
        print(f"{r['verdict']:<10} GPU {r['placement']['gpu_index']} {r['key'][:70]:<70} {steps}")
    if r["key"].endswith("mha-h32-kv32-d128:b1:L1024"):
        print(f"{r['key'][16:]} GPU {r['placement']['gpu_index']}: {1e3 * r['summary']['median_ms']:.2f} us, "
              + ", ".join(f"{k[:40]} {1e3 * v:.2f}" for k, v in (r.get('kernel_ms') or {}).items()))
PY
