#!/usr/bin/env bash
# Round 12, part 3 (about 7-9 minutes on one GPU): the whole suite against baselines/$GPU.json as round 12 left it
# (the matmul plan's and decode PDL's entries refreshed on another host), on a host whose GPUs fed none of the
# refreshed entries, with -n <GPUs> when there are several. Nothing is injected: every regression is a false alarm.
# The results file and the log are packed into $OUT/r12c.tgz.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round12c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r12c"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid --format=csv,noheader > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
workers=()
[ "$gpus" -gt 1 ] && workers=(-n "$gpus")
start=$(date +%s)
timeout 570 python3 -m pytest perf/ "${workers[@]}" --gpu "$GPU" -p no:cacheprovider -q --perf-json "$dir/suite.json" \
  > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/r12c.tgz" -C "$OUT" r12c
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 3
grep -E "regression|improvement|unreliable" "$dir/suite.log" | grep -vE "^verdicts|^FAILED|beyond noise" | tail -n 16 | cut -c1-160
