#!/usr/bin/env bash
# One device call on a machine of four H200s (about 8 minutes), against the committed baselines/H200.json:
#   GPU 0     the A/B self-test at default rounds (scripts/ab_gpu.sh PHASES=selftest; injections calibrated once)
#   GPUs 1-3  the whole suite with -n 3 (items handed out one at a time, the model tests first), --durations=0
# The last lines printed are each part's table.
#   OUT=out bash scripts/round4_gpu.sh        (needs .abrepo/repo.bundle: git bundle create .abrepo/repo.bundle --all)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"/{n3,ab}
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
LEFT=${LIMIT:-480}
PHASES=selftest AB_GPU=0 OUT="$OUT/ab" timeout -s INT "$LEFT" bash scripts/ab_gpu.sh > "$OUT/ab/table.txt" 2>&1 &
CUDA_VISIBLE_DEVICES=1,2,3 WORKERS=3 ARGS="--durations=0" OUT="$OUT/n3" bash scripts/workers_gpu.sh \
  > "$OUT/n3/table.txt" 2>&1 &
wait
for part in n3 ab; do
  tar czf "/tmp/$part.tgz" -C "$OUT" "$part" && rm -rf "${OUT:?}/$part" && mv "/tmp/$part.tgz" "$OUT/"
done
for part in n3 ab; do echo "== $part"; tar xzf "$OUT/$part.tgz" -O "$part/table.txt" | tail -n 40; done
