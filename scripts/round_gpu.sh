#!/usr/bin/env bash
# One device call on a machine of four H200s for the round's GPU targets (about 9.5 minutes):
#   phase 1  the whole suite with one worker per GPU (-n 4) against baselines/H200.json  (scripts/workers_gpu.sh)
#   phase 2  at once: GPU 0 the A/B self-test, GPU 1 the A/B of a real pair of commits (scripts/ab_gpu.sh phases),
#            GPU 2 batch invariance and kernel speed (scripts/invariance_gpu.sh), GPU 3 the whole suite in one
#            process (-n 0) against the same baseline
# Results come back as three archives; the last lines printed are each part's table.
#   OUT=out bash scripts/round_gpu.sh        (needs .abrepo/repo.bundle: git bundle create .abrepo/repo.bundle --all)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"/{workers,ab,inv,n1}
nvidia-smi --query-gpu=index,name,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv
T0=$SECONDS
WORKERS=4 OUT="$OUT/workers" bash scripts/workers_gpu.sh > "$OUT/workers/table.txt" 2>&1
echo "phase 1 done at $((SECONDS - T0)) s"
LEFT=${PHASE2_LIMIT:-380}
# the A/B self-test over 17 benchmarks (the ten slowed by 2% and seven left alone), 3 rounds to fit the call
AB_SELECT="pythia-1b:qkv:bf16:b4:s2048:t1 or pythia-1b:mlp_down:bf16:b4:s2048:t1 or gpt3-2.7b:mlp_up:bf16:b4:s2048:t1 \
or pythia-1b:out_proj:bf16:b4:s2048:t1 or matmul:triton:bf16:k4096:n4096:tok4096 or rms_norm:triton:bf16:h4096:tok8192 \
or log_softmax:triton:bf16:h4096:tok8192 or rms_norm:triton:bf16:h4096:tok4096 or matmul:cuBLAS:bf16:k4096:n4096:tok4096 \
or attention:torch:bf16:gqa-h32-kv8-d128:b64:L4096 or gemm:llama-2-7b:logits:bf16:m256:batch \
or attention:torch:bf16:gqa-h32-kv8-d128:b8:L4096 or fig10a:mlp_up:bf16:x4096 or fig9:attn_over_value:bf16:x2048:a32 \
or fig10b:mlp_down:bf16:x2048 or fig10a:mlp_up:bf16:x2048 or fig9:attn_over_value:bf16:x4096:a32"
SELECT="$AB_SELECT" ROUNDS=3 OUT="$OUT/ab" timeout -s INT "$LEFT" bash scripts/ab_gpu.sh > "$OUT/ab/table.txt" 2>&1 &
SUITE_LIMIT=100 BENCH_LIMIT=$((LEFT - 110)) CUDA_VISIBLE_DEVICES=2 OUT="$OUT/inv" bash scripts/invariance_gpu.sh \
  > "$OUT/inv/table.txt" 2>&1 &
CUDA_VISIBLE_DEVICES=3 timeout -s INT "$LEFT" python3 -m pytest perf/ -p no:cacheprovider -q --gpu H200 \
  --perf-json "$OUT/n1/n1.json" > "$OUT/n1/n1.log" 2>&1 &
wait
echo "phase 2 done at $((SECONDS - T0)) s"
tail -n 2 "$OUT/n1/n1.log"
python3 scripts/verdict_summary.py check "$OUT"/n1/n1.json 2>&1 | tail -8 > "$OUT/n1/table.txt"
for part in workers n1 ab inv; do
  tar czf "/tmp/$part.tgz" -C "$OUT" "$part" && rm -rf "${OUT:?}/$part" && mv "/tmp/$part.tgz" "$OUT/"
done
for part in workers n1 ab inv; do echo "== $part"; tar xzf "$OUT/$part.tgz" -O "$part/table.txt" | tail -n 22; done
