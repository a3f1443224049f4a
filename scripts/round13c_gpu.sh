#!/usr/bin/env bash
# Round 13, part 3 (about 6-8 minutes on two GPUs): the whole suite with the side-by-side pairs (--perf-pairs), with
# -n <GPUs>, against baselines/$GPU.json on a host whose GPUs fed none of its entries. Nothing is injected: every
# regression is a false alarm. The kernel targets are decided by the pairs; the kernel table is printed from the
# results file. The results file, the log and the table are packed into $OUT/r13c.tgz.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round13c_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r13c"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit --format=csv,noheader > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
workers=()
[ "$gpus" -gt 1 ] && workers=(-n "$gpus")
start=$(date +%s)
timeout 560 python3 -m pytest perf/ "${workers[@]}" --gpu "$GPU" -p no:cacheprovider -q --perf-pairs \
  --perf-json "$dir/suite.json" > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
python3 scripts/kernel_speed_table.py "$dir/suite.json" > "$dir/table.txt" 2>&1
tar czf "$OUT/r13c.tgz" -C "$OUT" r13c
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 3
grep -E "regression|improvement|unreliable" "$dir/suite.log" | grep -vE "^verdicts|^FAILED|beyond noise" | tail -n 12 | cut -c1-160
grep -A8 "^kernel targets" "$dir/suite.log"
grep -E "^side by side: (decode|matmul)" "$dir/table.txt" | cut -c1-400
