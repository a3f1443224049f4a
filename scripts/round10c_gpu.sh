#!/usr/bin/env bash
# Round 10, part 3 on one GPU (about 5 minutes): the combine kept (32 splits per step, one warp). With EXPLORE=1
# first the decode-combine part of kernel_explore_gpu.py (carry .abrepo: .abrepo/decode_before_fuse.py, the
# split-by-split combine; PARTS to run other parts too, e.g. decode-combine,mean-flush). Then the GPU invariance tests of attention, the mode and the models, and, if they pass, a
# 3-run refresh of the decode attention (triton) entries on the GPU named by GPU (H200 or H100-SXM), and the model
# generations compared with that baseline (their decode steps use the kernel). Packed into $OUT/round10c.tgz.
#
#   GPU=H100-SXM EXPLORE=1 OUT=out bash scripts/round10c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r10c"
chmod u+w baselines/*.json
if [ "${EXPLORE:-0}" = 1 ]; then
  KX_DECODE_BEFORE=.abrepo/decode_before_fuse.py OUT="$OUT/r10c" timeout 200 python3 scripts/kernel_explore_gpu.py \
    --parts "${PARTS:-decode-combine}" > "$OUT/r10c/explore.txt" 2>&1
fi
timeout 130 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mode or (test_model_invariance and not generate)" -p no:cacheprovider -q --gpu "$GPU" \
  > "$OUT/r10c/invariance.log" 2>&1
invariance=$?
echo "invariance rc $invariance" > "$OUT/r10c/refresh.txt"
if [ "$invariance" = 0 ]; then
  start=$(date +%s)
  timeout -s INT 180 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider perf/suite/test_decode.py \
    -k "attention and triton" > "$OUT/r10c/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r10c/refresh.txt"
  cp "baselines/$GPU.json" "$OUT/r10c/$GPU.json"
  timeout 80 python3 -m pytest perf/suite/test_model_invariance.py -k generate -p no:cacheprovider -q --gpu "$GPU" \
    > "$OUT/r10c/generate.log" 2>&1
  echo "generations against the baseline: rc $?" >> "$OUT/r10c/refresh.txt"
fi
tar czf "$OUT/round10c.tgz" -C "$OUT" r10c
grep -E "^decode .*min|^mean-flush|repeated|failed" "$OUT/r10c/explore.txt" 2>/dev/null | tail -n 16
grep -E "passed|failed|FAILED|Error" "$OUT/r10c/invariance.log" | tail -n 6
cat "$OUT/r10c/refresh.txt"; tail -n 27 "$OUT/r10c/refresh.log" 2>/dev/null | cut -c1-110
grep -E "generate|passed|failed" "$OUT/r10c/generate.log" 2>/dev/null | tail -n 6
