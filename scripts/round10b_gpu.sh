#!/usr/bin/env bash
# Round 10, part 2 on one GPU (about 3 minutes): the combine of all splits at once with other chunks and warps
# (kernel_explore_gpu.py --parts decode-combine) against the split-by-split combine (carry .abrepo:
# .abrepo/decode_before_fuse.py) and that kernel's split kernel alone, on the 24 suite shapes. Measures only.
#
#   OUT=out bash scripts/round10b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r10b"
KX_DECODE_BEFORE=.abrepo/decode_before_fuse.py OUT="$OUT/r10b" timeout 280 python3 scripts/kernel_explore_gpu.py \
  --parts decode-combine > "$OUT/r10b/explore.txt" 2>&1
tar czf "$OUT/round10b.tgz" -C "$OUT" r10b
grep -E "^decode .*min|repeated|failed" "$OUT/r10b/explore.txt" | tail -n 14
