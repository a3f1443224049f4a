#!/usr/bin/env bash
# One device call: environment, timer check, baseline refresh of the whole suite, then a second run of the
# unchanged suite against those baselines. Everything lands in $OUT; the last lines are a short table.
#   PHASES="env timer refresh rerun" OUT=out bash scripts/gpu_session.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"
PHASES=${PHASES:-"env timer refresh rerun"}
BL="$OUT/bl"
has() { [[ " $PHASES " == *" $1 "* ]]; }

if has env; then
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
  python3 -c "import torch, triton; from perf import gpus; s = gpus.detect(); print(torch.__version__, triton.__version__, torch.version.cuda, repr(torch.cuda.get_device_name(0)), s.key, s.sms, s.l2_mib, s.memory_gib)"
fi
if has timer; then
  timeout 120 python3 scripts/check_timer.py --json "$OUT/timer.json" 2>&1 | tee "$OUT/timer.log"
fi
if has refresh; then
  # Baselines come from this run: refresh writes $BL/<GPU>.json atomically.
  timeout ${REFRESH_S:-330} python3 -m perf refresh --baseline-dir "$BL" --perf-json "$OUT/run1.json" \
     --perf-max-time 1.0 -p no:cacheprovider ${REFRESH_ARGS:-} > "$OUT/run1.log" 2>&1
  echo "refresh rc=$?"; grep -E "passed|failed|error" "$OUT/run1.log" | tail -3
fi
if has rerun; then
  timeout ${RERUN_S:-240} python3 -m pytest perf/ -m timing --baseline-dir "$BL" --perf-json "$OUT/run2.json" \
     --perf-max-time 1.0 -p no:cacheprovider -q ${RERUN_ARGS:-} > "$OUT/run2.log" 2>&1
  echo "rerun rc=$?"; grep -E "^verdicts|passed|failed" "$OUT/run2.log" | tail -3
fi
if has inject; then
  timeout ${INJECT_S:-120} python3 -m pytest perf/suite/test_gemm.py --baseline-dir "$BL" --perf-json "$OUT/inject.json" \
     --perf-threshold 0.03 --perf-inject-slowdown "gemm/gpt3-2.7b:mlp_up:*=0.05" -p no:cacheprovider -q \
     > "$OUT/inject.log" 2>&1
  echo "inject rc=$?"; grep -E "regression|^verdicts|passed|failed" "$OUT/inject.log" | tail -6
fi
python3 scripts/summarize_runs.py "$OUT" || true
