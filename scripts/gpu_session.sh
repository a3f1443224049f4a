#!/usr/bin/env bash
# GPU session in one device call: pick phases with PHASES. Everything lands in $OUT; the last lines are a table.
#   env      device, driver, versions, what detection reads
#   timer    scripts/check_timer.py: a ~10 us kernel against the profiler and an amortized graph
#   refresh  python -m perf refresh, one process per suite module (a crashed module cannot take the others down)
#   rerun    the unchanged suite against the fresh baselines (back-to-back noise)
#   inject   a 5% slowdown injected into one GEMM, threshold 3%: only that one must be flagged
#   invariance  perf/suite/test_invariance.py (our kernels bitwise; audit of the vendor operators)
#   tune     scripts/tune_kernels.py --quick;  decodecheck  scripts/decode_attention_check.py
#   advise   python -m perf advise ... --measure
# Example: OUT=out PHASES="env timer refresh" bash scripts/gpu_session.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"
PHASES=${PHASES:-"env timer refresh rerun"}
MODULES=${MODULES:-"test_gemm test_kernels test_decode test_sweeps"}
BL=${BL:-"$OUT/bl"}
has() { [[ " $PHASES " == *" $1 "* ]]; }
per_module() {  # per_module NAME TIMEOUT ARGS...: one pytest process per suite module, logs in $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  : > "$OUT/$name.log"
  for m in $MODULES; do
    timeout "$limit" python3 -m pytest "perf/suite/$m.py" -p no:cacheprovider -q --perf-json "$OUT/$name-$m.json" \
      --baseline-dir "$BL" "$@" >> "$OUT/$name.log" 2>&1
    echo "$name $m rc=$? $(tail -1 "$OUT/$name.log")"
  done
}

if has env; then
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
  python3 -c "import torch, triton; from perf import gpus; s = gpus.detect(); print(torch.__version__, triton.__version__, torch.version.cuda, repr(torch.cuda.get_device_name(0)), s.key, s.sms, s.l2_mib, s.memory_gib)"
fi
has refresh && per_module refresh "${REFRESH_S:-200}" --perf-refresh -m timing --perf-max-time 1.0
has timer && timeout 180 python3 scripts/check_timer.py --json "$OUT/timer.json" 2>&1 | grep -v Warn | tee "$OUT/timer.log"
has rerun && per_module rerun "${RERUN_S:-150}" -m timing --perf-max-time 1.0
if has inject; then
  timeout 150 python3 -m pytest perf/suite/test_gemm.py --baseline-dir "$BL" --perf-json "$OUT/inject.json" \
     --perf-threshold 0.03 --perf-inject-slowdown "gemm/gpt3-2.7b:mlp_up:*=0.05" -p no:cacheprovider -q \
     > "$OUT/inject.log" 2>&1
  echo "inject rc=$?"; grep -E "regression|^verdicts|passed|failed" "$OUT/inject.log" | tail -6
fi
has invariance && timeout 240 python3 -m pytest perf/suite/test_invariance.py -q -s -p no:cacheprovider \
  --perf-json "$OUT/invariance.json" > "$OUT/invariance.log" 2>&1; has invariance && tail -40 "$OUT/invariance.log"
has tune && OUT=$OUT timeout 240 python3 scripts/tune_kernels.py --quick > "$OUT/tune.log" 2>&1; has tune && tail -40 "$OUT/tune.log"
has decodecheck && timeout 300 python3 scripts/decode_attention_check.py --json "$OUT/decode_check.json" \
  > "$OUT/decode_check.log" 2>&1; has decodecheck && tail -30 "$OUT/decode_check.log"
if has advise; then
  timeout 120 python3 -m perf advise gpt3-2.7b --gpu "${ADVISE_GPU:-H200}" --measure > "$OUT/advise.log" 2>&1
  timeout 120 python3 -m perf advise llama-2-7b --gpu "${ADVISE_GPU:-H200}" --measure --show 6 >> "$OUT/advise.log" 2>&1
  tail -30 "$OUT/advise.log"
fi
python3 scripts/summarize_runs.py "$OUT" || true
# The device tool returns at most 8 files: pack everything but the baselines into one archive.
tar czf /tmp/session.tgz -C "$OUT" --exclude=./bl . && find "$OUT" -maxdepth 1 -type f -delete && mv /tmp/session.tgz "$OUT/"
