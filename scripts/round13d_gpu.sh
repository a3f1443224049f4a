#!/usr/bin/env bash
# Round 13, part 4 (about 2 minutes on one GPU): Nsight Compute on decode attention at GQA b64 L4096, ours (the split
# kernel and the combine) against SDPA's kernel, where the device allows performance counters: speed of light,
# occupancy, warp stall reasons, memory workload. The reports' text goes to $OUT/r13d.
#
#   OUT=out bash scripts/round13d_gpu.sh
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to a folder for the results}
unset TRITON_INTERPRET
dir="$OUT/r13d"
mkdir -p "$dir"
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
echo "ncu: ${NCU:-none}" | tee "$dir/ncu.txt"
python3 scripts/decode_profile_gpu.py --calls 1 >> "$dir/ncu.txt" 2>&1
if [ -n "$NCU" ]; then
  timeout 240 "$NCU" --target-processes all -k "regex:_decode_split|_decode_combine|cudnn|flash|sdpa" -s 3 -c 3 \
    --section SpeedOfLight --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis \
    --section LaunchStats --section SchedulerStats \
    python3 scripts/decode_profile_gpu.py --calls 2 > "$dir/ncu_report.txt" 2>&1
  echo "ncu rc $?" >> "$dir/ncu.txt"
fi
cat "$dir/ncu.txt"
grep -E "^  [_a-z].*\(|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Block Limit|Registers Per|Shared Memory Config|Dynamic Shared|Static Shared|Warp Cycles Per Issued|Stall|ERR|Error|No kernels" "$dir/ncu_report.txt" 2>/dev/null | head -n 80 | cut -c1-160
