#!/usr/bin/env bash
# Round 11, part 4 (about 5 minutes on one H200): the whole suite against baselines/H200.json as round 11 left it
# (decode and mean entries merged from two hosts), on a host whose GPUs fed none of its entries, with -n <GPUs> when
# there are several. Nothing is injected: every regression is a false alarm. Packed into $OUT/r11d.tgz.
#
#   OUT=out bash scripts/round11d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r11d"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpus=$(wc -l < "$dir/gpus.txt")
workers=()
[ "$gpus" -gt 1 ] && workers=(-n "$gpus")
start=$(date +%s)
timeout 560 python3 -m pytest perf/ "${workers[@]}" --gpu H200 -p no:cacheprovider -q > "$dir/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
tar czf "$OUT/r11d.tgz" -C "$OUT" r11d
cat "$dir/gpus.txt"
grep -E "^verdicts|passed|failed" "$dir/suite.log" | tail -n 3
grep -E "regression|improvement|unreliable" "$dir/suite.log" | grep -vE "^verdicts|^FAILED|beyond noise" | tail -n 16 | cut -c1-160
