#!/usr/bin/env bash
# Round 9 on one GPU (about 7 minutes), as run at commit fd211f4 (the fused combine, since reverted; its part was
# decode-fused, now decode-before with KX_DECODE_BEFORE): decode attention with the combine fused into the split
# kernel, against the kernel with a separate combine launch (carry .abrepo: .abrepo/decode_before_fuse.py; bits compared) and split
# rules with more splits, on the 24 suite shapes, each shape's default also called 50 more times against its first
# call's bits; on an H100 also the large-M matmul tiles (`--parts matmul-large`). Then the GPU invariance tests of
# attention, the mode and the models, and, if they pass, a 3-run refresh of the decode attention (triton) entries on
# the GPU named by GPU (H200 or H100-SXM). Packed into $OUT/round9.tgz with the refreshed baseline.
#
#   GPU=H200 OUT=out bash scripts/round9_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r9"
chmod u+w baselines/*.json
parts=decode-before
[ "$GPU" = H100-SXM ] && parts=decode-before,matmul-large
KX_DECODE_BEFORE=.abrepo/decode_before_fuse.py OUT="$OUT/r9" timeout 230 python3 scripts/kernel_explore_gpu.py --parts "$parts" > "$OUT/r9/explore.txt" 2>&1
timeout 150 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mode or (test_model_invariance and not generate)" -p no:cacheprovider -q --gpu "$GPU" \
  > "$OUT/r9/invariance.log" 2>&1
invariance=$?
echo "invariance rc $invariance" > "$OUT/r9/refresh.txt"
if [ "$invariance" = 0 ]; then
  start=$(date +%s)
  timeout -s INT 200 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider perf/suite/test_decode.py \
    -k "attention and triton" > "$OUT/r9/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r9/refresh.txt"
  cp "baselines/$GPU.json" "$OUT/r9/$GPU.json"
fi
tar czf "$OUT/round9.tgz" -C "$OUT" r9
grep -E "^decode |^tiles n.*:m(1024|2048) |failed" "$OUT/r9/explore.txt" | tail -n 36
grep -E "passed|failed|FAILED|Error" "$OUT/r9/invariance.log" | tail -n 6
cat "$OUT/r9/refresh.txt"; tail -n 8 "$OUT/r9/refresh.log" 2>/dev/null
