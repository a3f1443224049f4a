#!/usr/bin/env bash
# Round 8, part 6 on one GPU (about 5 minutes): prefill attention with the unmasked key blocks only from
# WHOLE_BLOCKS_FROM blocks of keys, against the kernel before the unmasked blocks (carry .abrepo:
# .abrepo/attention_before_split.py, bits compared) from 64 to 8192 tokens; the GPU invariance tests of attention, the
# mode and the models; then, if they pass, a 3-run refresh of the prefill attention entries on the GPU named by GPU
# (H200 or H100-SXM). Packed into $OUT/round8f.tgz with the refreshed baseline.
#
#   GPU=H200 OUT=out bash scripts/round8f_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8f"
chmod u+w baselines/*.json
KX_PREFILL_BEFORE=.abrepo/attention_before_split.py OUT="$OUT/r8f" timeout 200 \
  python3 scripts/kernel_explore_gpu.py --parts prefill > "$OUT/r8f/prefill.txt" 2>&1
timeout 200 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mode or (test_model_invariance and not generate)" -p no:cacheprovider -q --gpu "$GPU" \
  > "$OUT/r8f/invariance.log" 2>&1
invariance=$?
echo "invariance rc $invariance" > "$OUT/r8f/refresh.txt"
if [ "$invariance" = 0 ]; then
  start=$(date +%s)
  timeout -s INT 200 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider perf/suite/test_kernels.py \
    -k "attention and triton" > "$OUT/r8f/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r8f/refresh.txt"
  cp "baselines/$GPU.json" "$OUT/r8f/$GPU.json"
fi
tar czf "$OUT/round8f.tgz" -C "$OUT" r8f
grep -E "^prefill b|failed" "$OUT/r8f/prefill.txt" | tail -n 12
grep -E "passed|failed|FAILED|Error" "$OUT/r8f/invariance.log" | tail -n 6
cat "$OUT/r8f/refresh.txt"; tail -n 12 "$OUT/r8f/refresh.log" 2>/dev/null
