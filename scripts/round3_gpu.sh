#!/usr/bin/env bash
# One device call on a machine of four H200s (about 9.5 minutes), against the committed baselines/H200.json, after
# section 16's changes (the model tests handed out first, one long ceiling warm-up, injections calibrated once):
#   phase 1  the whole suite with one worker per GPU (-n 4), every item's duration (--durations=0)
#   phase 2  at once: GPUs 0-1 the whole suite with -n 2; GPU 2 the A/B self-test at default rounds
#            (scripts/ab_gpu.sh PHASES=selftest); GPU 3 the model audit (scripts/invariance_audit_gpu.py), then
#            the whole suite in one process (-n 0) for the time left
# The last lines printed are each part's table.
#   OUT=out bash scripts/round3_gpu.sh        (needs .abrepo/repo.bundle: git bundle create .abrepo/repo.bundle --all)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"/{n4,n2,ab,n1}
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/gpus.csv"
T0=$SECONDS
WORKERS=4 LIMIT_4=${LIMIT_4:-130} ARGS="--durations=0" OUT="$OUT/n4" bash scripts/workers_gpu.sh > "$OUT/n4/table.txt" 2>&1
echo "phase 1 done at $((SECONDS - T0)) s"
LEFT=${PHASE2_LIMIT:-410}
CUDA_VISIBLE_DEVICES=0,1 WORKERS=2 LIMIT_2=$LEFT ARGS="--durations=0" OUT="$OUT/n2" bash scripts/workers_gpu.sh \
  > "$OUT/n2/table.txt" 2>&1 &
PHASES=selftest AB_GPU=2 OUT="$OUT/ab" timeout -s INT "$LEFT" bash scripts/ab_gpu.sh > "$OUT/ab/table.txt" 2>&1 &
(
  start=$SECONDS
  CUDA_VISIBLE_DEVICES=3 timeout 90 python3 scripts/invariance_audit_gpu.py "$OUT/n1" > "$OUT/n1/audit.txt" 2>&1
  s1=$SECONDS
  CUDA_VISIBLE_DEVICES=3 timeout -s INT $((LEFT - (SECONDS - start) - 10)) python3 -m pytest perf/ -p no:cacheprovider \
    -q --gpu H200 --durations=0 --perf-json "$OUT/n1/n1.json" > "$OUT/n1/n1.log" 2>&1
  echo "n1 exit $? in $((SECONDS - s1)) s: $(tail -n 1 "$OUT/n1/n1.log")" > "$OUT/n1/table.txt"
  python3 scripts/verdict_summary.py check "$OUT/n1/n1.json" 2>&1 | tail -n 8 >> "$OUT/n1/table.txt"
) &
wait
echo "phase 2 done at $((SECONDS - T0)) s"
for part in n4 n2 ab n1; do
  tar czf "/tmp/$part.tgz" -C "$OUT" "$part" && rm -rf "${OUT:?}/$part" && mv "/tmp/$part.tgz" "$OUT/"
done
for part in n4 n2 ab n1; do echo "== $part"; tar xzf "$OUT/$part.tgz" -O "$part/table.txt" | tail -n 12; done
echo "== audit"; tar xzf "$OUT/n1.tgz" -O n1/audit.txt | grep -v "^\[" | tail -n 12 | cut -c1-400
