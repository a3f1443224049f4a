#!/usr/bin/env bash
# Round 7, part 2 on one H200 (about 4 minutes of wall time): decode attention with TMA loads against pointer loads
# on the suite's 24 decode shapes (kernel_explore_gpu.py --parts decode-tma), then the GPU invariance tests of the
# suite (perf/suite/test_invariance.py and the model test) on the new matmul buckets. Packed into $OUT/round7b.tgz.
#
#   OUT=out bash scripts/round7b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r7b"
OUT="$OUT/r7b" timeout 240 python3 scripts/kernel_explore_gpu.py --parts decode-tma > "$OUT/r7b/decode.txt" 2>&1
timeout 200 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py -k "invariant or invariance" \
  -p no:cacheprovider -q --gpu H200 -s --perf-json "$OUT/r7b/invariance.json" > "$OUT/r7b/invariance.log" 2>&1
tar czf "$OUT/round7b.tgz" -C "$OUT" r7b
grep -E "^decode|failed|bits" "$OUT/r7b/decode.txt" | tail -n 14
grep -E "passed|failed|FAILED|Error" "$OUT/r7b/invariance.log" | tail -n 8
