#!/usr/bin/env bash
# Round 15, part 1 (about 3-4 minutes on one H100):
#  a) the profiler timer against the host's lead: scripts/profiler_host_lead_gpu.py on nine decode and kernel
#     benchmarks (docs/perf-notes.md section 67);
#  b) the fresh-process re-measure of decode MHA b64 L32k (2 x 17 GB of caches) on an 80 GB GPU, which ran out of
#     memory in section 66: 10% of real work injected, so it is suspected, re-measured in a fresh process and
#     confirmed; the record's measurements say where each ran.
# Results in $OUT/r15/.
#
#   PERF_COMMIT=<hash> OUT=out bash scripts/round15_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r15"
mkdir -p "$dir"
nvidia-smi -L > "$dir/gpus.txt"
gpu=$(python3 -c "from perf import gpus; print(gpus.detect().key)")
key='decode/attention:triton:bf16:mha-h32-kv32-d128:b64:L32768'
start=$(date +%s)
timeout 200 python3 -m pytest perf/suite/test_decode.py -k "triton and mha-h32-kv32-d128 and b64 and L32768" \
  --gpu "$gpu" -p no:cacheprovider --perf-inject-slowdown "$key=0.10" --perf-json "$dir/remeasure.json" \
  > "$dir/remeasure.log" 2>&1
echo "remeasure rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
start=$(date +%s)
timeout 300 python3 scripts/profiler_host_lead_gpu.py "$dir/host_lead.json" > "$dir/host_lead.log" 2>&1
echo "host lead rc $? in $(( $(date +%s) - start )) s" >> "$dir/gpus.txt"
cat "$dir/gpus.txt"
python3 - "$dir/remeasure.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["results"][0]
except Exception as exc:
    print("remeasure: no record", exc); sys.exit()
print("remeasure:", r["verdict"], r.get("reason", "")[:150])
for m in r.get("measurements", []):
    print("  ", m["where"], round(1e3 * m["median_ms"], 1), "us", f"{100 * m['change']:+.1f}%", m["verdict"])
PY
grep -E "passed|failed|error" "$dir/remeasure.log" | tail -n 3
tail -n 12 "$dir/host_lead.log"
