#!/usr/bin/env bash
# Round 11, part 2 (about 5 minutes on four H200s, 3 on one GPU): after decode's split-first grid and mean's
# evict_first loads (both keep the bits). With PARTS, those kernel_explore_gpu.py parts on GPU 0 first. Then on GPU 0
# the GPU invariance tests of attention, mean, the mode and the models. With SUITE=1 the whole suite with -n <GPUs>
# against baselines/$GPU.json (its verdicts, before any entry changes). Then, if the invariance tests passed, the
# changed entries (decode attention and mean, triton) measured on every GPU of the host, each GPU in its own process,
# RUNS rounds (default 2), measure-only, for `perf refresh --from-results` to merge with other hosts' files:
# $OUT/r11b/<host>-gpu<i>-run<j>.json, packed into $OUT/round11b.tgz.
#
#   HOST=a GPU=H200 SUITE=1 RUNS=1 OUT=out bash scripts/round11b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
HOST=${HOST:?set HOST to a name for this host}
unset TRITON_INTERPRET
dir="$OUT/r11b"
mkdir -p "$dir"
gpus=$(nvidia-smi -L | wc -l)
if [ -n "${PARTS:-}" ]; then
  CUDA_VISIBLE_DEVICES=0 OUT="$dir" timeout 300 python3 scripts/kernel_explore_gpu.py --parts "$PARTS" \
    > "$dir/explore.txt" 2>&1
fi
CUDA_VISIBLE_DEVICES=0 timeout 150 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or mean or batch_invariant_mode or (test_model_invariance and not generate)" -p no:cacheprovider -q \
  --gpu "$GPU" > "$dir/invariance.log" 2>&1
invariance=$?
echo "$HOST invariance rc $invariance" > "$dir/runs.txt"
if [ "${SUITE:-0}" = 1 ]; then
  start=$(date +%s)
  timeout 300 python3 -m pytest perf/ -n "$gpus" --gpu "$GPU" -p no:cacheprovider -q > "$dir/suite.log" 2>&1
  echo "$HOST suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/runs.txt"
fi
measure() {  # gpu index, run number
  CUDA_VISIBLE_DEVICES=$1 timeout 150 python3 -m pytest perf/suite/test_decode.py perf/suite/test_kernels.py -q \
    -k "(test_decode and attention and triton) or (test_kernels and mean and triton)" -p no:cacheprovider \
    --gpu "$GPU" --perf-measure-only --perf-json "$dir/$HOST-gpu$1-run$2.json" > "$dir/$HOST-gpu$1-run$2.log" 2>&1
  echo "$HOST gpu $1 run $2: rc $?" >> "$dir/runs.txt"
}
lane() {  # all runs of one GPU, one after another
  for run in $(seq 1 "${RUNS:-2}"); do measure "$1" "$run"; done
}
if [ "$invariance" = 0 ]; then
  for i in $(seq 0 $((gpus - 1))); do lane "$i" & done
  wait
fi
tar czf "$OUT/round11b.tgz" -C "$OUT" r11b
grep -E "^decode .*min|^rows-evict|failed" "$dir/explore.txt" 2>/dev/null | cut -c1-300
grep -E "passed|failed|FAILED|Error" "$dir/invariance.log" | tail -n 4
grep -E "^verdicts|passed|failed" "$dir/suite.log" 2>/dev/null | tail -n 3
grep -E "regression|improvement" "$dir/suite.log" 2>/dev/null | grep -vE "^verdicts|^FAILED" | tail -n 24 | cut -c1-160
cat "$dir/runs.txt"; grep -h -E "passed|failed" "$dir"/*-run*.log | sort | uniq -c
