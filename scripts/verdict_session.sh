#!/usr/bin/env bash
# The verdict experiment on a machine of several GPUs of one kind (device calls of the verdict issue).
#   PHASE=refresh  three measure-only runs of the whole suite at once on GPUs 0, 1, 2 (sibling GPUs: the
#                  between-run spread then holds the GPU-to-GPU spread a nightly runner sees); the benchmarks
#                  that throttled or were noisy re-measured on GPU 3; merged by `python -m perf refresh
#                  --from-results` into $OUT/bl/<GPU>.json
#   PHASE=check    one full run per GPU at once against baselines/<GPU>.json; GPU g with the slowdown LEVELS[g]
#                  (default: GPU 0 at 5%) of real work injected into the ten benchmarks of INJECT (chosen before
#                  any data was seen); the other GPUs run clean. CHECK_GPUS="3" (a list) runs on those GPUs
#                  only, the i-th of them with LEVELS[i]
# Everything lands in $OUT; the last lines are a table (scripts/verdict_summary.py).
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"
LIMIT=${LIMIT:-500}   # seconds per run; SIGINT lets pytest write the results it has
GPUS=$(python3 -c "import torch; print(torch.cuda.device_count())")
nvidia-smi --query-gpu=index,name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,power.limit --format=csv
INJECT=${INJECT:-"gemm/gpt3-2.7b:mlp_down:bf16:b4:s2048:t1 gemm/llama-2-7b:out_proj:bf16:b2:s4096:t1 \
gemm/paper-c2:qkv:bf16:b4:s2048:t1 kernel/matmul:cuBLAS:bf16:k4096:n14336:tok4096 \
kernel/matmul:triton:bf16:k4096:n14336:tok2048 decode/attention:torch:bf16:gqa-h32-kv8-d128:b64:L16384 \
decode/attention:triton:bf16:mha-h32-kv32-d128:b8:L32768 decode/gemm:gpt3-2.7b:logits:bf16:m16:draft \
sweep/fig5b:gemm:bf16:x3840 sweep/fig7a:attn_score:bf16:x5120"}
run_on() {  # run_on GPU NAME ARGS...: one pytest process of the whole timing suite on one GPU
  local gpu=$1 name=$2; shift 2
  CUDA_VISIBLE_DEVICES=$gpu timeout -s INT "$LIMIT" python3 -m pytest perf/suite -p no:cacheprovider -q -m timing \
    --perf-json "$OUT/$name.json" ${EXTRA:-} "$@" > "$OUT/$name.log" 2>&1
  echo "$name on GPU $gpu: exit $? $(tail -1 "$OUT/$name.log")"
}
if [ "${PHASE}" = refresh ]; then
  for g in 0 1 2; do run_on $g run$g --perf-measure-only --baseline-dir "$OUT/empty" & done; wait
  python3 - "$OUT" > "$OUT/bad_nodeids.txt" <<'PY'
import json, sys
from pathlib import Path
from perf.verdict import baselines
runs = [json.loads(p.read_text())["results"] for p in sorted(Path(sys.argv[1]).glob("run?.json"))]
bad = baselines.bad_keys(runs, "gpu")
nodeids = sorted({r["nodeid"] for run in runs for r in run if r["key"] in bad})
if nodeids:
    print("\n".join(nodeids))
PY
  if [ -s "$OUT/bad_nodeids.txt" ]; then
    echo "re-measuring $(wc -l < "$OUT/bad_nodeids.txt") throttled or noisy benchmarks on GPU 3"
    CUDA_VISIBLE_DEVICES=$(( GPUS > 3 ? 3 : 0 )) timeout -s INT 60 python3 -m pytest $(cat "$OUT/bad_nodeids.txt") \
      -p no:cacheprovider -q --perf-measure-only --baseline-dir "$OUT/empty" --perf-json "$OUT/run9.json" > "$OUT/run9.log" 2>&1
  fi
  mkdir -p "$OUT/bl"
  python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for p in sorted(out.glob("run?.json")):  # the runs measured against an empty folder: point them at $OUT/bl
    doc = json.loads(p.read_text()); doc["baseline_file"] = str(out / "bl" / f"{doc['gpu']}.json")
    p.write_text(json.dumps(doc))
PY
  python3 -m perf refresh --from-results "$OUT"/run?.json > "$OUT/refresh.log" 2>&1; echo "refresh exit $?"
  grep -E "^perf: refreshed|quality flags" "$OUT/refresh.log"
  python3 scripts/verdict_summary.py refresh "$OUT"/run?.json
  tar czf /tmp/runs.tgz -C "$OUT" $(cd "$OUT" && ls run*.json run*.log refresh.log) && rm -f "$OUT"/run* && mv /tmp/runs.tgz "$OUT/"
fi
if [ "${PHASE}" = check ]; then
  levels=(${LEVELS:-0.05})   # GPU g gets the slowdown levels[g] injected; the GPUs past the list run clean
  i=0
  for g in ${CHECK_GPUS:-$(seq 0 $(( GPUS - 1 )))}; do
    inject=(); if [ $i -lt ${#levels[@]} ]; then for k in $INJECT; do inject+=(--perf-inject-slowdown "$k=${levels[$i]}"); done; fi
    run_on $g check$g ${inject[@]+"${inject[@]}"} &
    i=$((i + 1))
  done; wait
  python3 scripts/verdict_summary.py check "$OUT"/check*.json
  tar czf /tmp/check.tgz -C "$OUT" $(cd "$OUT" && ls check*) && rm -f "$OUT"/check* && mv /tmp/check.tgz "$OUT/"
fi
