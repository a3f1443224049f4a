#!/usr/bin/env bash
# Round 9, part 4 on four H200s (about 4 minutes): the whole suite with -n 4 against baselines/H200.json (entries
# measured on one-, two- and four-GPU hosts): its wall time and its verdicts, the false alarms among them.
#
#   OUT=out bash scripts/round9d_gpu.sh          (TAG=r10e: the folder and archive name, for a later round)
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
TAG=${TAG:-r9d}
mkdir -p "$OUT/$TAG"
start=$(date +%s)
timeout 420 python3 -m pytest perf/ -n 4 --gpu H200 -p no:cacheprovider -q --perf-json "$OUT/$TAG/suite.json" \
  > "$OUT/$TAG/suite.log" 2>&1
echo "suite rc $? in $(( $(date +%s) - start )) s" > "$OUT/$TAG/suite.txt"
tar czf "$OUT/$TAG.tgz" -C "$OUT" "$TAG"
grep -E "^verdicts|passed|failed" "$OUT/$TAG/suite.log" | tail -n 4
grep -E "regression|improvement" "$OUT/$TAG/suite.log" | grep -vE "^verdicts|^FAILED" | tail -n 20
cat "$OUT/$TAG/suite.txt"
