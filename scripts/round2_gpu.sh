#!/usr/bin/env bash
# One device call on a machine of four H200s (about 9 minutes), against the committed baselines/H200.json:
#   phase 1  the whole suite with one worker per GPU (-n 4), with pytest's --durations (scripts/workers_gpu.sh)
#   phase 2  at once: GPUs 0-1 the whole suite with -n 2; GPU 2 the A/B self-test at default rounds
#            (scripts/ab_gpu.sh PHASES=selftest); GPU 3 which operator makes a Hugging Face model's logits depend
#            on the batch (scripts/invariance_audit_gpu.py), then a whole timing-suite run in one process with a
#            5% slowdown of real work injected into ten benchmarks (scripts/verdict_session.sh PHASE=check)
# Results come back as archives; the last lines printed are each part's table.
#   OUT=out bash scripts/round2_gpu.sh        (needs .abrepo/repo.bundle: git bundle create .abrepo/repo.bundle --all)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"/{n4,n2,ab,check}
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
T0=$SECONDS
WORKERS=4 LIMIT_4=${LIMIT_4:-180} ARGS="--durations=40" OUT="$OUT/n4" bash scripts/workers_gpu.sh > "$OUT/n4/table.txt" 2>&1
echo "phase 1 done at $((SECONDS - T0)) s"
LEFT=${PHASE2_LIMIT:-330}
CUDA_VISIBLE_DEVICES=0,1 WORKERS=2 LIMIT_2=$LEFT ARGS="--durations=20" OUT="$OUT/n2" bash scripts/workers_gpu.sh \
  > "$OUT/n2/table.txt" 2>&1 &
PHASES=selftest AB_GPU=2 OUT="$OUT/ab" timeout -s INT "$LEFT" bash scripts/ab_gpu.sh > "$OUT/ab/table.txt" 2>&1 &
(
  start=$SECONDS
  CUDA_VISIBLE_DEVICES=3 timeout 90 python3 scripts/invariance_audit_gpu.py "$OUT/check" > "$OUT/check/audit.txt" 2>&1
  PHASE=check CHECK_GPUS=3 LEVELS=0.05 LIMIT=$((LEFT - (SECONDS - start) - 10)) OUT="$OUT/check" \
    bash scripts/verdict_session.sh > "$OUT/check/table.txt" 2>&1
) &
wait
echo "phase 2 done at $((SECONDS - T0)) s"
for part in n4 n2 ab check; do
  tar czf "/tmp/$part.tgz" -C "$OUT" "$part" && rm -rf "${OUT:?}/$part" && mv "/tmp/$part.tgz" "$OUT/"
done
for part in n4 n2 ab; do echo "== $part"; tar xzf "$OUT/$part.tgz" -O "$part/table.txt" | tail -n 16; done
echo "== audit"; tar xzf "$OUT/check.tgz" -O check/audit.txt | grep -v "^\[" | tail -n 8
echo "== check"; tar xzf "$OUT/check.tgz" -O check/table.txt | tail -n 14
