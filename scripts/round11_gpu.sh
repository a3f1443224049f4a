#!/usr/bin/env bash
# Round 11, part 1 on one GPU (about 4 minutes): how the kernels stream, with the same arithmetic. Decode attention's
# split kernel in split-first grid order and with its key and value loads marked evict_first
# (kernel_explore_gpu.py --parts decode-stream, the 24 suite shapes against SDPA), and the row kernels with their loads
# of x marked evict_first or evict_last (--parts rows-evict, on the suite's timer). Measures only. (As run, at
# 8f83d8d, rows-evict also timed rms_norm and log_softmax through a policy shared by the row kernels, since removed:
# only mean kept evict_first. The part now times mean's policies, and decode-stream the batch-first order instead.)
#
#   OUT=out bash scripts/round11_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r11"
OUT="$OUT/r11" timeout 400 python3 scripts/kernel_explore_gpu.py --parts "${PARTS:-rows-evict,decode-stream}" \
  > "$OUT/r11/explore.txt" 2>&1
tar czf "$OUT/round11.tgz" -C "$OUT" r11
grep -E "^decode .*min|^rows-evict|failed|Error|error" "$OUT/r11/explore.txt" | tail -n 14 | cut -c1-400
