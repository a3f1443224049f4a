#!/usr/bin/env bash
# Round 9, part 2 on one GPU (about 5 minutes): the model generations timed by the device's work, by events and by
# the wall clock in one process (scripts/host_bound_gpu.py, 3 rounds); then, on the GPU named by GPU (H200 or
# H100-SXM), a 3-run refresh of the four generation entries, now timed by the device's work; with MATMUL=1 also the
# large-M matmul tiles (`kernel_explore_gpu.py --parts matmul-large`). With COMPARE=1 instead of the refresh: the
# generations compared with the baseline file as it is (verdicts), as a second host of the GPU kind would run them.
# HOST_BOUND=0 skips the three-way timing; DETECT=1 then runs `perf detect` with 5% injected into two generations.
# Packed into $OUT/round9b.tgz with the refreshed baseline.
#
#   GPU=H200 OUT=out bash scripts/round9b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
mkdir -p "$OUT/r9b"
chmod u+w baselines/*.json
if [ "${HOST_BOUND:-1}" = 1 ]; then
  OUT="$OUT/r9b" timeout 200 python3 scripts/host_bound_gpu.py --rounds 3 > "$OUT/r9b/host_bound.txt" 2>&1
fi
if [ "${COMPARE:-0}" = 1 ]; then
  timeout 200 python3 -m pytest perf/suite/test_model_invariance.py -k generate -p no:cacheprovider -q --gpu "$GPU" \
    --perf-json "$OUT/r9b/compare.json" > "$OUT/r9b/compare.log" 2>&1
  echo "compare rc $?" > "$OUT/r9b/refresh.txt"
else
  start=$(date +%s)
  timeout -s INT 260 python3 -m perf refresh --gpu "$GPU" --runs 3 -p no:cacheprovider \
    perf/suite/test_model_invariance.py -k generate > "$OUT/r9b/refresh.log" 2>&1
  echo "refresh rc $? in $(( $(date +%s) - start )) s" > "$OUT/r9b/refresh.txt"
  cp "baselines/$GPU.json" "$OUT/r9b/$GPU.json"
fi
if [ "${DETECT:-0}" = 1 ]; then  # 5% of real work injected into two of the four generations, against the baseline
  timeout 200 python3 -m perf detect --inject 0.05 'model/generate:llama:invariant*' 'model/generate:gpt2:torch*' \
    --json "$OUT/r9b/detect.json" -p no:cacheprovider -k generate --gpu "$GPU" > "$OUT/r9b/detect.log" 2>&1
  echo "detect rc $?" >> "$OUT/r9b/refresh.txt"
fi
if [ "${MATMUL:-0}" = 1 ]; then
  OUT="$OUT/r9b" timeout 150 python3 scripts/kernel_explore_gpu.py --parts matmul-large > "$OUT/r9b/explore.txt" 2>&1
fi
tar czf "$OUT/round9b.tgz" -C "$OUT" r9b
tail -n 7 "$OUT/r9b/host_bound.txt" 2>/dev/null
tail -n 12 "$OUT/r9b/detect.log" 2>/dev/null
grep -E "^tiles n.*:m(1024|2048) |failed" "$OUT/r9b/explore.txt" 2>/dev/null | tail -n 8
cat "$OUT/r9b/refresh.txt"; tail -n 10 "$OUT/r9b/refresh.log" "$OUT/r9b/compare.log" 2>/dev/null
