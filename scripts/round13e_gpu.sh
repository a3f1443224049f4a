#!/usr/bin/env bash
# Round 13, part 5 (about 1-2 minutes on one GPU): decode attention MHA b1 L1024, where section 59's whole-suite run
# read ours 10.6% under its entry while the same run's pair read it at the entry: three measure-only runs of the two
# benchmarks (ours and SDPA), each in its own process, then the pair of that shape in three more processes ($RUNS:
# how many of each). Everything is packed into $OUT/r13e.tgz.
#
#   GPU=H200 OUT=out bash scripts/round13e_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r13e"
mkdir -p "$dir"
shape="attention and mha and b1 and L1024"
runs=${RUNS:-3}
for run in $(seq 1 "$runs"); do
  timeout 100 python3 -m pytest perf/suite/test_decode.py --gpu "$GPU" -p no:cacheprovider -q --perf-measure-only \
    -k "$shape" --perf-json "$dir/bench$run.json" > "$dir/bench$run.log" 2>&1
  timeout 100 python3 -m pytest perf/suite/test_pairs.py --gpu "$GPU" -p no:cacheprovider -q --perf-pairs \
    -k "$shape" --perf-json "$dir/pair$run.json" > "$dir/pair$run.log" 2>&1
done
python3 - "$dir" "$runs" <<'PY' | tee "$dir/summary.txt"
import json, sys
from pathlib import Path
d = Path(sys.argv[1])
for run in range(1, int(sys.argv[2]) + 1):
    records = json.loads((d / f"bench{run}.json").read_text())["results"]
    bench = {r["id"].split(":")[1]: r for r in records}
    (pair,) = json.loads((d / f"pair{run}.json").read_text())["perf_pairs"]
    print(f"run {run}: benchmarks ours {bench['triton']['summary']['median_ms'] * 1e3:.2f} us "
          f"({bench['triton']['method']}), SDPA {bench['torch']['summary']['median_ms'] * 1e3:.2f} us "
          f"({bench['torch']['method']}) | pair ({pair['method']}) ours "
          + ", ".join(f"{r['ours_ms'] * 1e3:.2f}" for r in pair["rounds"]) + " us, SDPA "
          + ", ".join(f"{r['reference_ms'] * 1e3:.2f}" for r in pair["rounds"]) + f" us, ratio {pair['ratio']:.3f}")
PY
tar czf "$OUT/r13e.tgz" -C "$OUT" r13e
