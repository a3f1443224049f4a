#!/usr/bin/env bash
# Round 12, part 1 on one GPU (about 5 minutes): measures only.
# - matmul-mixed: at M 768-8192, the large-M product in one tile (128x256, 128x128) against wide and narrow tiles in
#   one product (columns [0, N1) wide, the rest narrow, two launches), against cuBLAS; outputs compared whole.
# - decode-pdl: decode attention with the combine launched as the split kernel's programmatic dependent (the module's
#   default) against the plain launch order, on the 24 suite shapes against SDPA, bits compared.
# - the GPU invariance tests of attention, the mode and the models (the combine now waits on griddepcontrol).
#
#   OUT=out GPU=H100-SXM bash scripts/round12_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the suite name of the device, e.g. H200}
unset TRITON_INTERPRET
mkdir -p "$OUT/r12"
timeout 150 python3 -m pytest perf/suite/test_invariance.py perf/suite/test_model_invariance.py \
  -k "attention or batch_invariant_mode or (test_model_invariance and not generate)" -p no:cacheprovider -q \
  --gpu "$GPU" > "$OUT/r12/invariance.log" 2>&1
OUT="$OUT/r12" timeout 330 python3 scripts/kernel_explore_gpu.py --parts "${PARTS:-decode-pdl,matmul-mixed}" \
  > "$OUT/r12/explore.txt" 2>&1
tar czf "$OUT/round12.tgz" -C "$OUT" r12
tail -n 1 "$OUT/r12/invariance.log"
grep -E "^decode .*min|^mixed|failed|Error|error" "$OUT/r12/explore.txt" | tail -n 30 | cut -c1-300
