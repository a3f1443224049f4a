#!/usr/bin/env bash
# Round 13 (about 5-7 minutes on one GPU): issue 13's kernel targets timed side by side (--perf-pairs: ours and the
# reference in alternation, ABBA rounds), twice:
#   1. first thing in a fresh process (a cool GPU): matmul at every M of both shapes, the 24 decode attention shapes,
#      rms_norm / log_softmax / mean from 1024 tokens;
#   2. the matmul N 14336 benchmarks as the suite times them (each provider apart), then the same shape's pairs in
#      that process, on a GPU the benchmarks before have heated.
# Each part's results file and log, and the kernel tables of both, are packed into $OUT/r13.tgz.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round13_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r13"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit,clocks.max.sm --format=csv,noheader > "$dir/gpus.txt"
common=(--gpu "$GPU" -p no:cacheprovider -q --perf-pairs)
rows="((rms_norm or log_softmax or mean) and (tok1024 or tok2048 or tok4096 or tok8192))"
start=$(date +%s)
timeout 330 python3 -m pytest perf/suite/test_pairs.py "${common[@]}" -k "matmul or gqa or mha or $rows" \
  --perf-json "$dir/cool.json" > "$dir/cool.log" 2>&1
echo "cool pairs rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
start=$(date +%s)
timeout 200 python3 -m pytest perf/suite/test_kernels.py perf/suite/test_pairs.py "${common[@]}" --perf-measure-only \
  -k "matmul and n14336" --perf-json "$dir/hot.json" > "$dir/hot.log" 2>&1
echo "hot run rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
for part in cool hot; do
  python3 scripts/kernel_speed_table.py "$dir/$part.json" > "$dir/$part-table.txt" 2>&1
done
tar czf "$OUT/r13.tgz" -C "$OUT" r13
cat "$dir/gpus.txt"
for part in cool hot; do echo "== $part"; cut -c1-400 "$dir/$part-table.txt" | grep -v "^results above"; done
grep -E "passed|failed|error" "$dir/cool.log" "$dir/hot.log" | tail -n 4
