#!/usr/bin/env bash
# Round 12, part 2 (about 6 minutes): after the matmul plan (wide and narrow tiles in one product) and decode's
# combine as a programmatic dependent (both keep the bits). On GPU 0 the GPU invariance tests of matmul, attention,
# the mode and the models. Then, if they passed, the entries those changes move, measured on every GPU of the host,
# each GPU in its own process, RUNS rounds (default 2), measure-only, for `perf refresh --from-results` to merge with
# other hosts' files: matmul (triton) at N 14336 and 1024 / 8192 tokens (where the plan is now mixed), decode attention
# (triton), and the invariant models' generations. $OUT/r12b/<host>-gpu<i>-run<j>.json, packed into $OUT/round12b.tgz.
# The first run of each GPU also measures matmul with cuBLAS at those points (a separate file, not for the refresh).
# With PARTS, those kernel_explore_gpu.py parts on GPU 0 first.
#
#   HOST=a GPU=H200 RUNS=2 PERF_COMMIT=<hash> [PARTS=decode-l2] OUT=out bash scripts/round12b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
HOST=${HOST:?set HOST to a name for this host}
unset TRITON_INTERPRET
dir="$OUT/r12b"
mkdir -p "$dir"
gpus=$(nvidia-smi -L | wc -l)
if [ -n "${PARTS:-}" ]; then  # kernel_explore_gpu.py parts on GPU 0 first
  CUDA_VISIBLE_DEVICES=0 OUT="$dir" timeout 200 python3 scripts/kernel_explore_gpu.py --parts "$PARTS" \
    > "$dir/explore.txt" 2>&1
fi
CUDA_VISIBLE_DEVICES=0 timeout 200 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "matmul or attention or batch_invariant_mode or (test_model_invariance and not generate)" -p no:cacheprovider -q \
  --gpu "$GPU" > "$dir/invariance.log" 2>&1
invariance=$?
echo "$HOST invariance rc $invariance" > "$dir/runs.txt"
MATMUL="test_kernels and matmul and n14336 and (tok1024 or tok8192)"
measure() {  # gpu index, run number
  CUDA_VISIBLE_DEVICES=$1 timeout 240 python3 -m pytest perf/suite/test_decode.py perf/suite/test_kernels.py \
    perf/suite/test_model_invariance.py -q -p no:cacheprovider --gpu "$GPU" --perf-measure-only \
    -k "($MATMUL and triton) or (test_decode and attention and triton) or (test_model_generate and not torch)" \
    --perf-json "$dir/$HOST-gpu$1-run$2.json" > "$dir/$HOST-gpu$1-run$2.log" 2>&1
  echo "$HOST gpu $1 run $2: rc $?" >> "$dir/runs.txt"
}
lane() {  # all runs of one GPU, one after another; cuBLAS at the matmul points once
  CUDA_VISIBLE_DEVICES=$1 timeout 60 python3 -m pytest perf/suite/test_kernels.py -q -p no:cacheprovider --gpu "$GPU" \
    --perf-measure-only -k "$MATMUL and cuBLAS" --perf-json "$dir/$HOST-gpu$1-cublas.json" > "$dir/$HOST-gpu$1-cublas.log" 2>&1
  for run in $(seq 1 "${RUNS:-2}"); do measure "$1" "$run"; done
}
if [ "$invariance" = 0 ]; then
  for i in $(seq 0 $((gpus - 1))); do lane "$i" & done
  wait
fi
tar czf "$OUT/round12b.tgz" -C "$OUT" r12b
grep -E "^decode .*min|failed" "$dir/explore.txt" 2>/dev/null | cut -c1-300
grep -E "passed|failed|FAILED|Error" "$dir/invariance.log" | tail -n 4
cat "$dir/runs.txt"; grep -h -E "passed|failed" "$dir"/*-run*.log "$dir"/*-cublas.log | sort | uniq -c
