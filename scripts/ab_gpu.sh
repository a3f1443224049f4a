#!/usr/bin/env bash
# `python -m perf ab` on a GPU: the self-test and a real pair of commits, from a git bundle of the repository.
#   phase 1 (selftest)  HEAD against HEAD over 32 benchmarks of the gemm, kernel, decode and sweep families, a 2%
#                       slowdown of real work injected into the ten of INJECT (chosen before any data was seen);
#                       every other benchmark is a chance for a false alarm
#   phase 2 (pair)      a commit that gives large M the medium-M tile of the Triton matmul (kernels/matmul.py),
#                       then `perf ab HEAD~1 HEAD` over the matmul kernel at N = K = 4096 (cuBLAS rows unchanged)
# With two or more GPUs visible the phases run at once, on GPU 0 and GPU 1. The machine gets the working tree
# without .git: the repository comes as .abrepo/repo.bundle (git bundle create .abrepo/repo.bundle --all) and is
# cloned into /tmp. Everything lands in $OUT; the last lines are a table (scripts/ab_gpu_summary.py).
# Run from the repository root:  OUT=out bash scripts/ab_gpu.sh     (PHASES=pair or selftest runs one phase on GPU
# AB_GPU, default 0;
# ROUNDS=N overrides perf ab's default;
# SELECT, INJECT and PAIR_SELECT override the selections, e.g. for a dry run on the CPU device)
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-out}; mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
HERE=$(pwd)
if ! git --version > "$OUT/git_version.txt" 2>&1; then
  echo "ab_gpu: git is not installed on this machine: perf ab needs it to check out revisions; nothing was run"
  exit 3
fi
echo "ab_gpu: $(cat "$OUT/git_version.txt")"
BUNDLE=${BUNDLE:-.abrepo/repo.bundle}
if [ ! -f "$BUNDLE" ]; then
  echo "ab_gpu: $BUNDLE is missing (make it with: git bundle create .abrepo/repo.bundle --all)"; exit 3
fi
GPUS=$(python3 -c "import torch; print(torch.cuda.device_count())")
nvidia-smi --query-gpu=index,name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv > "$OUT/nvidia_smi.csv" 2>&1
ROUNDS_ARG=()
[ -n "${ROUNDS:-}" ] && ROUNDS_ARG=(--rounds "$ROUNDS")

GEMM="pythia-1b:qkv:bf16:b4:s2048:t1 pythia-1b:attn_score:bf16:b4:s2048:t1 pythia-1b:attn_over_value:bf16:b4:s2048:t1 \
pythia-1b:out_proj:bf16:b4:s2048:t1 pythia-1b:mlp_up:bf16:b4:s2048:t1 pythia-1b:mlp_down:bf16:b4:s2048:t1 \
pythia-1b:logits:bf16:b4:s2048:t1 gpt3-2.7b:mlp_up:bf16:b4:s2048:t1"
KERNEL="rms_norm:triton:bf16:h4096:tok4096 rms_norm:triton:bf16:h4096:tok8192 log_softmax:triton:bf16:h4096:tok4096 \
log_softmax:triton:bf16:h4096:tok8192 mean:torch:bf16:h4096:tok8192 matmul:triton:bf16:k4096:n4096:tok2048 \
matmul:triton:bf16:k4096:n4096:tok4096 matmul:cuBLAS:bf16:k4096:n4096:tok4096"
DECODE="attention:torch:bf16:gqa-h32-kv8-d128:b8:L16384 attention:torch:bf16:gqa-h32-kv8-d128:b64:L4096 \
attention:torch:bf16:gqa-h32-kv8-d128:b64:L16384 attention:torch:bf16:gqa-h32-kv8-d128:b8:L4096 \
attention:torch:bf16:mha-h32-kv32-d128:b1:L16384 gemm:llama-2-7b:logits:bf16:m8:batch \
gemm:llama-2-7b:logits:bf16:m256:batch gemm:llama-2-7b:mlp_down:bf16:m128:batch"
SWEEP="fig10a:mlp_up:bf16:x2048 fig10a:mlp_up:bf16:x4096 fig10b:mlp_down:bf16:x2048 fig10b:mlp_down:bf16:x4096 \
fig9:attn_over_value:bf16:x2048:a32 fig9:attn_over_value:bf16:x4096:a32 fig9:attn_over_value:bf16:x12288:a12 \
fig9:attn_over_value:bf16:x2016:a12"
INJECT=${INJECT:-"gemm/pythia-1b:qkv:bf16:b4:s2048:t1 gemm/pythia-1b:mlp_down:bf16:b4:s2048:t1 \
gemm/gpt3-2.7b:mlp_up:bf16:b4:s2048:t1 kernel/matmul:triton:bf16:k4096:n4096:tok4096 \
kernel/rms_norm:triton:bf16:h4096:tok8192 kernel/log_softmax:triton:bf16:h4096:tok8192 \
decode/attention:torch:bf16:gqa-h32-kv8-d128:b64:L4096 decode/gemm:llama-2-7b:logits:bf16:m256:batch \
sweep/fig10a:mlp_up:bf16:x4096 sweep/fig9:attn_over_value:bf16:x2048:a32"}
SELECT=${SELECT:-$(echo $GEMM $KERNEL $DECODE $SWEEP | sed 's/ / or /g')}
INJECT_ARGS=()
for key in $INJECT; do INJECT_ARGS+=(--perf-inject-slowdown "$key=0.02"); done

clone() {  # clone NAME: the bundle's HEAD in /tmp, its path printed
  local dir; dir=$(mktemp -d "/tmp/ab-$1-XXXX")
  git clone -q "$HERE/$BUNDLE" "$dir/repo" > "$OUT/clone-$1.log" 2>&1 || { echo "ab_gpu: clone failed: $(tail -1 "$OUT/clone-$1.log")" >&2; return 1; }
  echo "$dir/repo"
}

selftest() {
  local repo; repo=$(clone selftest) || return 1
  local t0=$SECONDS
  (cd "$repo" && PYTHONPATH="$repo" CUDA_VISIBLE_DEVICES=$1 python3 -m perf ab HEAD HEAD "${ROUNDS_ARG[@]}" \
    -k "$SELECT" "${INJECT_ARGS[@]}" --perf-json "$OUT/selftest.json" --perf-report "$OUT/selftest-report") \
    > "$OUT/selftest.log" 2>&1
  echo "selftest on GPU $1: exit $? in $((SECONDS - t0)) s"
}

pair() {
  local repo; repo=$(clone pair) || return 1
  local file="$repo/kernels/matmul.py"
  grep -q '    return BY_NAME\["128x256x64-w8-s3"\]' "$file" || { echo "pair: the large-M tile line is not in $file"; return 1; }
  sed -i 's/    return BY_NAME\["128x256x64-w8-s3"\]/    return BY_NAME["64x128x64-w4-s4"]/' "$file"
  git -C "$repo" -c user.name=perf -c user.email=perf@example.com commit -qam \
    "matmul: large M takes the medium-M tile 64x128x64 (a slower tile on purpose)"
  git -C "$repo" show --stat HEAD > "$OUT/pair_commit.txt"
  local t0=$SECONDS
  (cd "$repo" && PYTHONPATH="$repo" CUDA_VISIBLE_DEVICES=$1 python3 -m perf ab HEAD~1 HEAD "${ROUNDS_ARG[@]}" \
    -k "${PAIR_SELECT:-matmul and n4096}" --perf-json "$OUT/pair.json" --perf-report "$OUT/pair-report") > "$OUT/pair.log" 2>&1
  echo "pair on GPU $1: exit $? in $((SECONDS - t0)) s"
}

case "${PHASES:-selftest pair}" in
  pair) pair "${AB_GPU:-0}" ;;
  selftest) selftest "${AB_GPU:-0}" ;;
  *) if [ "$GPUS" -ge 2 ]; then selftest 0 & pair 1 & wait; else selftest 0; pair 0; fi ;;
esac
tail -n 25 "$OUT/selftest.log" "$OUT/pair.log" > "$OUT/tails.txt" 2>&1
PYTHONPATH="$HERE" python3 "$HERE/scripts/ab_gpu_summary.py" "$OUT/selftest.json" "$OUT/pair.json" "$INJECT"
