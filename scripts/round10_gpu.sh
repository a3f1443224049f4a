#!/usr/bin/env bash
# Round 10 on one GPU (about 9 minutes): decode attention whose combine reads all splits at once, against the
# split-by-split combine (carry .abrepo: .abrepo/decode_before_fuse.py; bits compared; its split kernel also timed
# alone), on the 24 suite shapes; the row kernels after a dirty and a clean L2 flush (`--parts mean-flush`). Then the
# GPU invariance tests of attention, the mode and the models, and, if they pass and the new combine's median ratio
# to SDPA is not below the old one's, a 3-run refresh of the decode attention (triton) entries on the GPU named by
# GPU (H200 or H100-SXM); then the model generations compared with that baseline (their decode steps use the
# kernel). Packed into $OUT/round10.tgz with the refreshed baseline.
#
#   GPU=H200 OUT=out bash scripts/round10_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r10"
chmod u+w baselines/*.json
KX_DECODE_BEFORE=.abrepo/decode_before_fuse.py OUT="$OUT/r10" timeout 220 python3 scripts/kernel_explore_gpu.py \
  --parts decode-combine,mean-flush > "$OUT/r10/explore.txt" 2>&1
timeout 130 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mode or (test_model_invariance and not generate)" -p no:cacheprovider -q --gpu "$GPU" \
  > "$OUT/r10/invariance.log" 2>&1
invariance=$?
better=$(python3 - "$OUT/r10/kernel_explore.json" <<'PY'
import json, statistics, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["part"] == "decode" and r.get("ratio")]
now = statistics.median(r["ratio"] for r in rows if r["variant"] == "r128-1024-x16-n64-w4-stNone")
before = statistics.median(r["ratio"] for r in rows if r["variant"] == "before")
print(1 if now >= before else 0)
PY
)
echo "invariance rc $invariance, new combine not slower: $better" > "$OUT/r10/refresh.txt"
if [ "$invariance" = 0 ] && [ "$better" = 1 ]; then
  start=$(date +%s)
  timeout -s INT 180 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider perf/suite/test_decode.py \
    -k "attention and triton" > "$OUT/r10/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" >> "$OUT/r10/refresh.txt"
  cp "baselines/$GPU.json" "$OUT/r10/$GPU.json"
  timeout 80 python3 -m pytest perf/suite/test_model_invariance.py -k generate -p no:cacheprovider -q --gpu "$GPU" \
    > "$OUT/r10/generate.log" 2>&1
  echo "generations against the baseline: rc $?" >> "$OUT/r10/refresh.txt"
fi
tar czf "$OUT/round10.tgz" -C "$OUT" r10
grep -E "^decode .*(min|combine)|^mean-flush|repeated|failed" "$OUT/r10/explore.txt" | tail -n 40
grep -E "passed|failed|FAILED|Error" "$OUT/r10/invariance.log" | tail -n 6
cat "$OUT/r10/refresh.txt"; tail -n 8 "$OUT/r10/refresh.log" 2>/dev/null; grep -E "generate|passed|failed" "$OUT/r10/generate.log" 2>/dev/null | tail -n 8
