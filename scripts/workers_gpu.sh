#!/usr/bin/env bash
# One pytest-xdist worker per GPU, on a machine of four H200s: the whole suite with -n 4, then with -n 2, each
# against baselines/H200.json (taken in runs without workers), each with its wall time; a short table last: wall
# time per run, verdict counts, false regressions (nothing is injected: every regression is false) and the
# per-GPU median change. About 4-5 minutes of wall time; `timeout -s INT` stops a slow run and its controller
# still writes the results it has.
#
#   PYTHONPATH=. OUT=/tmp/out bash scripts/workers_gpu.sh
# (GPU, WORKERS and ARGS change the target, the runs and add pytest options; LIMIT_4, LIMIT_2 and LIMIT_N the time
# limits (-n 4, -n 2, others); a worker count given twice runs twice, as n4 and n4.2: a check of this script on the CPU
# device is `GPU=cpu WORKERS="2 1" ARGS="--model pythia-70m -k test_gemm" OUT=/tmp/w bash scripts/workers_gpu.sh`.)
set -u
GPU=${GPU:-H200}
WORKERS=${WORKERS:-4 2}
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:-.}
unset TRITON_INTERPRET
nvidia-smi -L > "$OUT/gpus.txt" 2>&1
: > "$OUT/walls.txt"

run() {  # name, workers, time limit (s)
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  timeout -s INT "$3" python3 -m pytest perf/ -p no:cacheprovider -q --gpu "$GPU" -n "$2" ${ARGS:-} \
    --perf-json "$OUT/$1.json" > "$OUT/$1.log" 2>&1
  local rc=$?
  end=$(date +%s.%N)
  echo "$1 $2 $rc $(python3 -c "print(round($end - $start, 1))")" >> "$OUT/walls.txt"
  tail -n 3 "$OUT/$1.log"
}

declare -A seen=()
for n in $WORKERS; do  # a repeated worker count gets runs n4, n4.2, n4.3, ...
  case $n in 4) limit=${LIMIT_4:-140} ;; 2) limit=${LIMIT_2:-200} ;; *) limit=${LIMIT_N:-300} ;; esac
  seen[$n]=$(( ${seen[$n]:-0} + 1 ))
  name="n$n"; [ "${seen[$n]}" -gt 1 ] && name="n$n.${seen[$n]}"
  run "$name" "$n" "$limit"
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
from pathlib import Path

from perf.report import per_gpu
from perf.report.text_table import format_table

out = Path(sys.argv[1])
REFERENCE_S = 250.0  # the whole timing suite on one H200, before workers (measured by hand)
rows, tables = [], []
for line in (out / "walls.txt").read_text().split("\n"):
    if not line.strip():
        continue
    name, n, rc, wall = line.split()
    path = out / f"{name}.json"
    records = json.loads(path.read_text())["results"] if path.exists() else []
    counts = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    false = sorted(r["key"] for r in records if r["verdict"] == "regression")
    workers = sorted({(r.get("placement") or {}).get("worker") for r in records} - {None})
    log = out / f"{name}.log"
    failed = [l.split()[1].split("::")[-1] for l in log.read_text().splitlines() if l.startswith("FAILED ")] \
        if log.exists() else []
    rows.append((name, n, rc, wall, f"{REFERENCE_S / float(wall):.2f}x", str(len(records)), str(len(workers)),
                 ", ".join(f"{v} {c}" for v, c in sorted(counts.items())), str(len(false))))
    if failed:
        tables.append(f"{name}: failed items: " + ", ".join(failed))
    if false:
        tables.append(f"{name}: false regressions: " + ", ".join(false))
    by_gpu = per_gpu.rows(records)
    if by_gpu:
        medians = [float(r[5].rstrip("%")) for r in by_gpu if r[5] != "-"]
        spread = f"{max(medians) - min(medians):.2f} percentage points" if medians else "nothing compared"
        tables.append(f"{name}: per GPU (spread of the GPUs' median changes: {spread})")
        tables += format_table(per_gpu.HEADER, by_gpu, numbers_right=True)
print("\n".join(tables))
print()
print("\n".join(format_table(("run", "-n", "exit", "wall s", f"vs {REFERENCE_S:.0f} s", "results", "workers",
                              "verdicts", "false regressions"), rows, numbers_right=True)))
EOF

# Results files over 16 MB do not come back from the machine: keep them compressed.
files=$(cd "$OUT" && ls n*.json 2>/dev/null)  # n4.json, n4.2.json, ...
[ -n "$files" ] && tar czf "$OUT/results.tgz" -C "$OUT" $files && (cd "$OUT" && rm -f $files)
