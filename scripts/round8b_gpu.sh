#!/usr/bin/env bash
# Round 8, part 2 on one H200 (about 7 minutes of wall time): the matmul policy's large-M wave rule at the M values it
# predicts for (kernel_explore_gpu.py --parts matmul-waves, bits against the M = 4096 tile), the GPU invariance tests
# of matmul (every M where the config changes) and of the mode, then a 3-run refresh of the entries the rule changes
# (matmul:triton n14336 at 1024 tokens, the invariant model generations). Packed into $OUT/round8b.tgz with the
# refreshed baseline.
#
#   OUT=out bash scripts/round8b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r8b"
chmod u+w baselines/*.json
OUT="$OUT/r8b" timeout 150 python3 scripts/kernel_explore_gpu.py --parts matmul-waves > "$OUT/r8b/waves.txt" 2>&1
timeout 150 python3 -m pytest perf/suite/test_invariance.py -k "matmul or mode" \
  -p no:cacheprovider -q --gpu H200 > "$OUT/r8b/invariance.log" 2>&1
start=$(date +%s)
timeout -s INT 230 python3 -m perf refresh --gpu H200 --runs 3 -p no:cacheprovider \
  perf/suite/test_kernels.py perf/suite/test_model_invariance.py \
  -k "(matmul and triton and n14336 and tok1024) or (test_model_generate and invariant)" > "$OUT/r8b/refresh.log" 2>&1
echo "refresh rc $? in $(( $(date +%s) - start )) s" > "$OUT/r8b/refresh.txt"
cp baselines/H200.json "$OUT/r8b/H200.json"
tar czf "$OUT/round8b.tgz" -C "$OUT" r8b
grep -E "^tiles|failed" "$OUT/r8b/waves.txt" | tail -n 36
grep -E "passed|failed|FAILED|Error" "$OUT/r8b/invariance.log" | tail -n 6
cat "$OUT/r8b/refresh.txt"; tail -n 12 "$OUT/r8b/refresh.log"
