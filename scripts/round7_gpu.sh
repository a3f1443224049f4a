#!/usr/bin/env bash
# Round 7, part 1 on one H200 (about 5 minutes of wall time): where the longest suite items spend their time
# (scripts/suite_costs_gpu.py) and the matmul tiles for M = 1-512 with their bits (kernel_explore_gpu.py
# --parts matmul-tiles). Everything is packed into $OUT/round7.tgz (few files come back from the machine); the
# short tables are printed last.
#
#   OUT=out bash scripts/round7_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r7"
nvidia-smi --query-gpu=index,name,uuid,driver_version,clocks.sm,temperature.gpu,power.draw --format=csv > "$OUT/r7/gpus.csv"
OUT="$OUT/r7" timeout 200 python3 scripts/suite_costs_gpu.py > "$OUT/r7/costs.txt" 2>&1
OUT="$OUT/r7" timeout 300 python3 scripts/kernel_explore_gpu.py --parts matmul-tiles > "$OUT/r7/tiles.txt" 2>&1
tar czf "$OUT/round7.tgz" -C "$OUT" r7
grep -v "^  " "$OUT/r7/costs.txt" | tail -n 8; grep "^  " "$OUT/r7/costs.txt" | head -n 60
tail -n 25 "$OUT/r7/tiles.txt"
