#!/usr/bin/env bash
# A multi-run baseline on a machine of one GPU, inside one device call: RUNS measure-only runs of the whole
# timing suite one after another (each its own pytest process, LIMIT seconds at most; odd runs take the test
# files in reverse order so that a run cut short by its limit leaves a different part unmeasured), the
# throttled or noisy benchmarks re-measured once, all merged by `python -m perf refresh --from-results` into
# $OUT/bl/<GPU>.json. The results files come back compressed (runs.tgz); the last lines are a table.
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT/empty" "$OUT/bl"
RUNS=${RUNS:-2}; LIMIT=${LIMIT:-255}
nvidia-smi --query-gpu=index,name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,power.limit --format=csv
FILES=(perf/suite/test_decode.py perf/suite/test_gemm.py perf/suite/test_kernels.py perf/suite/test_sweeps.py)
for i in $(seq 0 $(( RUNS - 1 ))); do
  order=("${FILES[@]}"); if [ $(( i % 2 )) = 1 ]; then order=(); for (( j=${#FILES[@]}-1; j>=0; j-- )); do order+=("${FILES[$j]}"); done; fi
  start=$(date +%s)
  timeout -s INT "$LIMIT" python3 -m pytest "${order[@]}" -p no:cacheprovider -q -m timing --perf-measure-only \
    --baseline-dir "$OUT/empty" --perf-json "$OUT/run$i.json" > "$OUT/run$i.log" 2>&1
  echo "run $i: exit $? in $(( $(date +%s) - start )) s: $(tail -1 "$OUT/run$i.log")"
done
python3 - "$OUT" > "$OUT/bad_nodeids.txt" <<'PY'
import json, sys
from pathlib import Path
from perf.verdict import baselines
runs = [json.loads(p.read_text())["results"] for p in sorted(Path(sys.argv[1]).glob("run?.json"))]
bad = baselines.bad_keys(runs, "gpu")
print("\n".join(sorted({r["nodeid"] for run in runs for r in run if r["key"] in bad})))
PY
if [ -s "$OUT/bad_nodeids.txt" ]; then
  echo "re-measuring $(wc -l < "$OUT/bad_nodeids.txt") throttled or noisy benchmarks"
  timeout -s INT 40 python3 -m pytest $(cat "$OUT/bad_nodeids.txt") -p no:cacheprovider -q --perf-measure-only \
    --baseline-dir "$OUT/empty" --perf-json "$OUT/run9.json" > "$OUT/run9.log" 2>&1
fi
python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for p in sorted(out.glob("run?.json")):  # measured against an empty folder: point the runs at $OUT/bl
    doc = json.loads(p.read_text()); doc["baseline_file"] = str(out / "bl" / f"{doc['gpu']}.json")
    p.write_text(json.dumps(doc))
PY
python3 -m perf refresh --from-results "$OUT"/run?.json > "$OUT/refresh.log" 2>&1; echo "refresh exit $?"
grep -E "^perf: refreshed|quality flags" "$OUT/refresh.log"
python3 scripts/verdict_summary.py refresh "$OUT"/run?.json
tar czf /tmp/runs.tgz -C "$OUT" $(cd "$OUT" && ls run*.json run*.log refresh.log) && rm -f "$OUT"/run* && mv /tmp/runs.tgz "$OUT/"
