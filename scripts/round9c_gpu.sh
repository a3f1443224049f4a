#!/usr/bin/env bash
# Round 9, part 3 on one GPU (about 3 minutes): decode attention with the module's split rule and other tiles, warps
# and stages (`kernel_explore_gpu.py --parts decode-launch`) against SDPA on the 24 suite shapes, bits against the
# default's. Packed into $OUT/round9c.tgz.
#
#   OUT=out bash scripts/round9c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r9c"
OUT="$OUT/r9c" timeout 400 python3 scripts/kernel_explore_gpu.py --parts decode-launch > "$OUT/r9c/explore.txt" 2>&1
tar czf "$OUT/round9c.tgz" -C "$OUT" r9c
grep -E "^decode [a-z0-9-]+ +min|failed" "$OUT/r9c/explore.txt" | tail -n 12
