#!/usr/bin/env bash
# Round 13, part 2 on one GPU (about 2 minutes; with PAIRS=1 first scripts/round13_gpu.sh, about 4 more): decode
# attention under other split rules (kernel_explore_gpu.py --parts decode-splits: the longest split 256 or 512 tokens,
# 32 splits wanted), against SDPA on the 24 suite shapes, bits against the module's rule; the table per shape last.
#
#   OUT=out GPU=H100-SXM [PAIRS=1 PERF_COMMIT=<hash>] bash scripts/round13b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the suite name of the device, e.g. H200}
unset TRITON_INTERPRET
[ "${PAIRS:-0}" = 1 ] && bash scripts/round13_gpu.sh
mkdir -p "$OUT/r13b"
OUT="$OUT/r13b" timeout 300 python3 scripts/kernel_explore_gpu.py --parts "${PARTS:-decode-splits}" \
  > "$OUT/r13b/explore.txt" 2>&1
python3 scripts/decode_rule_table.py "$OUT/r13b/kernel_explore.json" > "$OUT/r13b/rules.txt" 2>&1
tar czf "$OUT/r13b.tgz" -C "$OUT" r13b
grep -E "^decode .*min|failed|Error|error" "$OUT/r13b/explore.txt" | tail -n 12 | cut -c1-200
cat "$OUT/r13b/rules.txt"
