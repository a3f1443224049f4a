#!/usr/bin/env bash
# Round 15, part 2 (about 3 minutes on one H200):
#  a) decode attention's power and SM clock against SDPA's, called back to back (scripts/decode_power_gpu.py);
#  b) decode attention (triton) at batch 1 in three measure-only processes: plain pytest, one xdist worker (-n 1),
#     plain again, for decode MHA b1 L1k, which read 9.9-10.0 us only inside whole-suite runs with workers.
# Results in $OUT/r15b/ (docs/perf-notes.md section 68).
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round15b_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r15b"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
nvidia-smi -q -d POWER | grep -iE "power limit|max power" | head -n 4 >> "$dir/gpus.txt"
gpu=$(python3 -c "from perf import gpus; print(gpus.detect().key)")
start=$(date +%s)
timeout 200 python3 scripts/decode_power_gpu.py "$dir/power.json" > "$dir/power.log" 2>&1
echo "power rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
for name in plain worker plain2; do
  extra=(); [ "$name" = worker ] && extra=(-n 1)
  timeout 120 python3 -m pytest perf/suite/test_decode.py -k "attention and triton and b1" --gpu "$gpu" \
    -p no:cacheprovider -q --perf-measure-only "${extra[@]}" --perf-json "$dir/$name.json" > "$dir/$name.log" 2>&1
  python3 - "$dir/$name.json" "$name" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
print(sys.argv[2], " ".join(f"{r['key'].split(':')[-3][:3]}{r['key'].split(':')[-1]}={1e3 * r['summary']['median_ms']:.2f}"
                            for r in rows))
PY
done
cat "$dir/gpus.txt"
tail -n 18 "$dir/power.log"
