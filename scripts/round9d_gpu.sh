#!/usr/bin/env bash
# Round 9, part 4 on four H200s (about 4 minutes): the whole suite with -n 4 against baselines/H200.json (entries
# measured on one-, two- and four-GPU hosts): its wall time and its verdicts, the false alarms among them.
#
#   OUT=out bash scripts/round9d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
mkdir -p "$OUT/r9d"
start=$(date +%s)
timeout 420 python3 -m pytest perf/ -n 4 --gpu H200 -p no:cacheprovider -q --perf-json "$OUT/r9d/suite.json" \
  > "$OUT/r9d/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" > "$OUT/r9d/suite.txt"
tar czf "$OUT/round9d.tgz" -C "$OUT" r9d
grep -E "^verdicts|passed|failed" "$OUT/r9d/suite.log" | tail -n 4
grep -E "regression|improvement" "$OUT/r9d/suite.log" | grep -vE "^verdicts|^FAILED" | tail -n 20
cat "$OUT/r9d/suite.txt"
