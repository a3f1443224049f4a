#!/usr/bin/env bash
# Round 8, part 4 on one H200 (about 5 minutes of wall time): prefill attention with the unmasked key blocks against the
# kernel before that change (carry .abrepo: KX_PREFILL_BEFORE=.abrepo/attention_before_split.py, bits compared), the
# GPU invariance tests of attention, the mode and the models, then (only if they pass) a 3-run refresh of the prefill
# attention entries and the invariant model generations. Packed into $OUT/round8d.tgz with the refreshed baseline.
#
#   OUT=out bash scripts/round8d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8d"
chmod u+w baselines/*.json
KX_PREFILL_BEFORE=.abrepo/attention_before_split.py OUT="$OUT/r8d" timeout 200 \
  python3 scripts/kernel_explore_gpu.py --parts prefill > "$OUT/r8d/prefill.txt" 2>&1
timeout 200 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mode or test_model_invariance" -p no:cacheprovider -q --gpu H200 > "$OUT/r8d/invariance.log" 2>&1
invariance=$?
echo "invariance rc $invariance" > "$OUT/r8d/refresh.txt"
if [ "$invariance" = 0 ]; then
  start=$(date +%s)
  timeout -s INT 220 python3 -m perf refresh --gpu H200 --runs 3 -p no:cacheprovider \
    perf/suite/test_kernels.py perf/suite/test_model_invariance.py \
    -k "(attention and triton) or (test_model_generate and invariant)" > "$OUT/r8d/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r8d/refresh.txt"
  cp baselines/H200.json "$OUT/r8d/H200.json"
fi
tar czf "$OUT/round8d.tgz" -C "$OUT" r8d
grep -E "^prefill|failed" "$OUT/r8d/prefill.txt" | tail -n 12
grep -E "passed|failed|FAILED|Error" "$OUT/r8d/invariance.log" | tail -n 6
cat "$OUT/r8d/refresh.txt"; tail -n 14 "$OUT/r8d/refresh.log" 2>/dev/null
