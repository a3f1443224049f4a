#!/usr/bin/env bash
# Round 10, part 4 (about 3 minutes): the decode and prefill attention (triton) entries measured on every GPU of
# this host, each GPU in its own process (`--perf-measure-only --perf-json`), RUNS rounds (default 2), for
# `perf refresh --from-results` to merge with other hosts' files; with FLUSH=1 also the row kernels after a dirty
# and a clean L2 flush (kernel_explore_gpu.py --parts mean-flush) on GPU 0 first. Writes $OUT/r10d/<host>-gpu<i>-
# run<j>.json and packs $OUT/round10d.tgz.
#
#   HOST=b GPU=H200 OUT=out bash scripts/round10d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
HOST=${HOST:?set HOST to a name for this host}
unset TRITON_INTERPRET
mkdir -p "$OUT/r10d"
gpus=$(nvidia-smi -L | wc -l)
measure() {  # gpu index, run number
  CUDA_VISIBLE_DEVICES=$1 timeout 150 python3 -m pytest perf/suite/test_decode.py -k "attention and triton" -q \
    -p no:cacheprovider --gpu "$GPU" --perf-measure-only --perf-json "$OUT/r10d/$HOST-gpu$1-run$2.json" \
    > "$OUT/r10d/$HOST-gpu$1-run$2.log" 2>&1
  echo "$HOST gpu $1 run $2: rc $?" >> "$OUT/r10d/runs.txt"
}
lane() {  # all runs of one GPU, one after another
  if [ "$1" = 0 ] && [ "${FLUSH:-0}" = 1 ]; then
    CUDA_VISIBLE_DEVICES=0 OUT="$OUT/r10d" timeout 150 python3 scripts/kernel_explore_gpu.py --parts mean-flush \
      > "$OUT/r10d/explore.txt" 2>&1
  fi
  for run in $(seq 1 "${RUNS:-2}"); do measure "$1" "$run"; done
}
for i in $(seq 0 $((gpus - 1))); do lane "$i" & done
wait
tar czf "$OUT/round10d.tgz" -C "$OUT" r10d
grep -E "^mean-flush|failed" "$OUT/r10d/explore.txt" 2>/dev/null
cat "$OUT/r10d/runs.txt"; grep -h -E "passed|failed" "$OUT"/r10d/*.log | sort | uniq -c
