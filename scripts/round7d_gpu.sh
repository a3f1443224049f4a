#!/usr/bin/env bash
# Round 7, part 4 on one H100 (about 7 minutes of wall time): the kernels and decode attention in one process against
# baselines/H100-SXM.json (taken before this round's kernel changes), with issue 13's kernel table; then a refresh of
# those entries (--runs 3) whose baseline file is copied to $OUT/H100-SXM.json. Packed into $OUT/round7d.tgz.
#
#   PERF_COMMIT=$(git rev-parse HEAD) OUT=out bash scripts/round7d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r7d"
SELECT=(perf/suite/test_kernels.py perf/suite/test_decode.py perf/suite/test_model_invariance.py
        -k "test_kernels or attention or test_model_generate")
nvidia-smi -L > "$OUT/r7d/gpus.txt" 2>&1
timeout -s INT 200 python3 -m pytest "${SELECT[@]}" -p no:cacheprovider -q --gpu H100-SXM \
  --perf-json "$OUT/r7d/h100.json" > "$OUT/r7d/h100.log" 2>&1
python3 scripts/kernel_speed_table.py "$OUT/r7d/h100.json" > "$OUT/r7d/kernels.txt" 2>&1
start=$(date +%s)
timeout -s INT 340 python3 -m perf refresh --gpu H100-SXM --runs 3 -p no:cacheprovider "${SELECT[@]}" \
  > "$OUT/r7d/refresh.log" 2>&1
echo "refresh rc $? in $(( $(date +%s) - start )) s" > "$OUT/r7d/refresh.txt"
cp baselines/H100-SXM.json "$OUT/H100-SXM.json"
tar czf "$OUT/round7d.tgz" -C "$OUT" r7d
tail -n 3 "$OUT/r7d/h100.log"; cat "$OUT/r7d/kernels.txt" "$OUT/r7d/refresh.txt"
