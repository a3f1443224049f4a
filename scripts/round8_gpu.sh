#!/usr/bin/env bash
# Round 8, part 1 on one H200 (about 3 minutes of wall time): mean with persistent pipelined rows and matmul tiles at
# M = 768-2048 (kernel_explore_gpu.py --parts mean,matmul-large); then the GPU invariance tests of attention and
# decode attention. Packed into $OUT/round8.tgz. The call of docs/perf-notes.md section 29 also ran a part
# decode-programs (decode attention walking several splits per program, commit 25aff8e); it measured no gain, and
# the option and the part were removed.
#
#   OUT=out bash scripts/round8_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8"
OUT="$OUT/r8" timeout 400 python3 scripts/kernel_explore_gpu.py --parts mean,matmul-large \
  > "$OUT/r8/explore.txt" 2>&1
timeout 120 python3 -m pytest perf/suite/test_invariance.py -k "attention or decode" \
  -p no:cacheprovider -q --gpu H200 > "$OUT/r8/invariance.log" 2>&1
tar czf "$OUT/round8.tgz" -C "$OUT" r8
grep -E "^\[|^mean|failed|tiles n.*m(768|1024|2048)" "$OUT/r8/explore.txt" | tail -n 30
grep -E "passed|failed|FAILED|Error" "$OUT/r8/invariance.log" | tail -n 6
