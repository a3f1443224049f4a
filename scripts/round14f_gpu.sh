#!/usr/bin/env bash
# Round 14, part 6 (about 2 minutes on one GPU): decode attention (triton) MHA b1 L1k read 9.9-10.0 us inside two
# whole-suite runs with workers (docs/perf-notes.md sections 59 and 65) and 11.15-11.20 us alone (section 62). Three
# measure-only pytest processes: the benchmark alone; after the benchmark that ran before it on its worker in section
# 65 (GQA b64 L1k triton), in one process; and every decode attention benchmark in one process. Prints its median and
# method in each; results in $OUT/r14f/.
#
#   GPU=H200 OUT=out bash scripts/round14f_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r14f"
mkdir -p "$dir"
target="attention:triton:bf16:mha-h32-kv32-d128:b1:L1024"
declare -A select=(
  [alone]="triton and mha-h32-kv32-d128 and b1 and L1024"
  [after_gqa_b64]="triton and ((mha-h32-kv32-d128 and b1 and L1024) or (gqa-h32-kv8-d128 and b64 and L1024))"
  [all_attention]="attention"
)
for name in alone after_gqa_b64 all_attention; do
  timeout 200 python3 -m pytest perf/suite/test_decode.py -k "${select[$name]}" --gpu "$GPU" -p no:cacheprovider -q \
    --perf-measure-only --perf-json "$dir/$name.json" > "$dir/$name.log" 2>&1
  python3 - "$dir/$name.json" "$name" "$target" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
order = [r["key"] for r in rows]
r = next(r for r in rows if r["key"].endswith(sys.argv[3]))
print(f"{sys.argv[2]:<14} {1e3 * r['summary']['median_ms']:.2f} us ({r['method']}), {len(rows)} benchmarks, "
      f"position {order.index(r['key']) + 1}; before it: {order[order.index(r['key']) - 1][17:] if order.index(r['key']) else '-'}")
PY
done
