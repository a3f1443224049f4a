#!/usr/bin/env bash
# Round 15, part 7 (about 3 minutes on two GPUs): is a short decode call faster while the sibling GPU works?
# Decode attention (triton and SDPA) at batch 1, MHA and GQA, measure-only, on GPU 1:
#   alone     nothing else runs on the host's GPUs
#   loaded    GPU 0 runs bf16 GEMMs back to back (8192 x 8192 x 8192, about 700 W) the whole time
#   workers   the same selection over both GPUs with -n 2 (the two workers measure at once)
# Prints decode MHA b1 L1k and L4k (triton) in each, with the split kernel's share. Results in $OUT/r15g/.
#
#   GPU=H200 PERF_COMMIT=<hash> OUT=out bash scripts/round15g_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
GPU=${GPU:?set GPU to the baseline name: H200 or H100-SXM}
unset TRITON_INTERPRET
dir="$OUT/r15g"
mkdir -p "$dir"
nvidia-smi --query-gpu=name,uuid,power.limit --format=csv,noheader > "$dir/gpus.txt"
select="attention and b1"
run() {  # name, then extra pytest arguments
  local name=$1; shift
  timeout 200 python3 -m pytest perf/suite/test_decode.py -k "$select" --gpu "$GPU" -p no:cacheprovider -q \
    --perf-measure-only --perf-json "$dir/$name.json" "$@" > "$dir/$name.log" 2>&1 || echo "$name rc $?" >> "$dir/gpus.txt"
}
CUDA_VISIBLE_DEVICES=1 run alone
CUDA_VISIBLE_DEVICES=0 timeout 150 python3 -c "
import time, torch
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16); b = torch.randn_like(a)
end = time.time() + 120
while time.time() < end:
    for _ in range(20): a @ b
    torch.cuda.synchronize()
" &
load=$!
sleep 5
CUDA_VISIBLE_DEVICES=1 run loaded
kill $load 2>/dev/null; wait $load 2>/dev/null
run workers -n 2
cat "$dir/gpus.txt"
python3 - "$dir" <<'PY'
import json, sys
for name in ("alone", "loaded", "workers"):
    try:
        rows = json.load(open(f"{sys.argv[1]}/{name}.json"))["results"]
    except Exception as exc:
        print(name, "no results", exc); continue
    for r in rows:
        if r["key"].endswith(("triton:bf16:mha-h32-kv32-d128:b1:L1024", "triton:bf16:mha-h32-kv32-d128:b1:L4096",
                              "torch:bf16:mha-h32-kv32-d128:b1:L1024")):
            km = r.get("kernel_ms") or {}
            split = next((v for k, v in km.items() if "split" in k or "fort" in k), None)
            print(f"{name:<8} GPU {r['placement'].get('gpu_index')} {r['key'][17:]:<46} "
                  f"{1e3 * r['summary']['median_ms']:7.2f} us  first kernel {1e3 * split if split else float('nan'):6.2f}")
PY
