#!/usr/bin/env bash
# Round 8, part 3 on one H100 (one call per run; RUNS="1 2" takes about 6 minutes): measure-only runs of what the H100
# baseline needs refreshed (the kernels, decode attention, the model generations), each a results file that
# `python -m perf refresh --from-results` merges into baselines/H100-SXM.json on any machine afterwards; the kernel
# table of each run. Packed into $OUT/round8c.tgz.
#
#   RUNS="1 2" OUT=out bash scripts/round8c_gpu.sh     # then RUNS=3 in a second call
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
RUNS=${RUNS:-1}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8c"
SELECT=(perf/suite/test_kernels.py perf/suite/test_decode.py perf/suite/test_model_invariance.py
        -k "test_kernels or attention or test_model_generate")
nvidia-smi -L > "$OUT/r8c/gpus.txt" 2>&1
for run in $RUNS; do
  start=$(date +%s)
  timeout -s INT 280 python3 -m pytest "${SELECT[@]}" -p no:cacheprovider -q --gpu H100-SXM --perf-measure-only \
    --perf-json "$OUT/r8c/h100-run$run.json" > "$OUT/r8c/h100-run$run.log" 2>&1
  echo "run $run rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r8c/runs.txt"
  python3 scripts/kernel_speed_table.py "$OUT/r8c/h100-run$run.json" > "$OUT/r8c/kernels-run$run.txt" 2>&1
done
tar czf "$OUT/round8c.tgz" -C "$OUT" r8c
cat "$OUT/r8c/runs.txt"; for run in $RUNS; do tail -n 2 "$OUT/r8c/h100-run$run.log"; done
cat "$OUT/r8c/kernels-run${RUNS##* }.txt"
