#!/usr/bin/env bash
# Round 14, part 4 (about 4 minutes on two H200s): the sibling check on real GPUs. The 12 decode attention (triton)
# benchmarks at batch 8 and 64, -n <GPUs>, twice against baselines/H200.json:
#   scoped: 5% of real work injected only where measured on GPU 0 (--perf-inject-slowdown ...=0.05@0): those run on
#           GPU 0 should be confirmed there and cleared by their sibling (unreliable), those on GPU 1 pass;
#   all:    5% injected on every GPU: regressions confirmed on the sibling too.
# Prints each benchmark's GPU, verdict and measurements; results in $OUT/r14d/. $FRACTION (default 0.05) is the
# slowdown, $RUNS (default "scoped all") the runs to make.
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round14d_gpu.sh
#   FRACTION=0.10 RUNS=scoped PERF_COMMIT=<hash> OUT=out bash scripts/round14d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r14d"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
sel="attention and triton and (b8 or b64)"
fraction=${FRACTION:-0.05}
runs=${RUNS:-scoped all}
for run in $runs; do
  at=$([ "$run" = scoped ] && echo "@0" || echo "")
  start=$(date +%s)
  timeout 270 python3 -m pytest perf/suite/test_decode.py -k "$sel" -n "$gpus" --gpu H200 -p no:cacheprovider -q \
    --perf-inject-slowdown "decode/attention:triton:*=$fraction$at" --perf-json "$dir/$run.json" > "$dir/$run.log" 2>&1
  echo "$run: pytest rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
done
cat "$dir/gpus.txt"
python3 - "$dir" $runs <<'PY'
import json, sys
from pathlib import Path
for run in sys.argv[2:]:
    path = Path(sys.argv[1]) / f"{run}.json"
    if not path.exists():
        print(f"{run}: no results file"); continue
    rows = json.loads(path.read_text())["results"]
    print(f"{run}: " + ", ".join(f"{v} {sum(r['verdict'] == v for r in rows)}" for v in ("regression", "unreliable", "pass")))
    for r in sorted(rows, key=lambda r: (r["placement"]["gpu_index"], r["key"])):
        inj = r.get("injected", {}).get("measured")
        steps = " | ".join(f"{m['change']:+.1%} {m['where'].replace('fresh process', 'fresh')}" for m in r["measurements"])
        print(f"  GPU {r['placement']['gpu_index']} {r['key'][24:]:<34} inj {'-' if inj is None else f'{inj:+.1%}':>6} "
              f"{r['verdict']:<10} {steps}")
PY
