#!/bin/bash
# devrun.sh: the GPU machine's side of a check: build libiegpu.so with nvcc,
# run the Go test binary built here (go test -c -o .carry/gpu.test ./gpu),
# benchmark it and PyTorch side by side. Logs go to $OUT.
# Usage (repo root): bash gpu/devrun.sh [test|bench|torch]...
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/iegpu
C=$PWD/.carry
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
( time make -C gpu/csrc OUT=/tmp/iegpu ARCHS="-gencode=arch=compute_90a,code=sm_90a" EXTRA="-Xptxas -v" ) 2>&1 | tee "$OUT/build.log" || exit 1
export IEGPU_LIB=/tmp/iegpu/libiegpu.so IE_SHARED=$C/shared IE_MODELS=$C/models
for step in "$@"; do
case $step in
test) (cd gpu && $C/gpu.test -test.v -test.run 'Test' 2>&1 | tee "$OUT/test.log") ;;
bench) (cd gpu && $C/gpu.test -test.run XXX -test.v -test.bench Forward -test.benchtime 10x 2>&1 | tee "$OUT/bench.log") ;;
ncu) # one launch of each kernel variant on general_v3's 64->64 layer at 256x256 (the tuning launches)
  (cd gpu && ncu -k regex:conv3x3 --launch-skip 48 --launch-count 48 --section SpeedOfLight --section WarpStateStats \
     --section Occupancy --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
     $C/gpu.test -test.run XXX -test.bench 'Forward/general_v3' -test.benchtime 1x > "$OUT/ncu.txt" 2>&1) ;;
torch)
  M=$C/models; B=$C/shared/bench/torch_ref.py
  for a in "x4plus realesrgan-x4plus 256x256" "x4plus realesrgan-x4plus 480x640" \
           "general_v3 realesrgan-x4fast 480x640" "anime_video realesr-animevideov3-x4 480x640"; do
    set -- $a
    python3 $B time --model $1 --param $M/$2.param --bin $M/$2.bin --size $3 --dtype fp16 --iters 20
  done 2>&1 | tee "$OUT/torch.log" ;;
esac
done
