#!/bin/bash
# devrun.sh: the GPU machine's side of a check. That machine has no Go, no
# oneDNN and no FFmpeg: gpu/devpack.sh packs here, into a carry folder
# (CARRY, default .carry), the test binaries (xz), oneDNN's libraries, the
# photos and the fixtures. This builds libiegpu.so with nvcc (once per
# machine), then runs the steps named. Logs go to $OUT.
# Usage (repo root): CARRY=.carry bash gpu/devrun.sh [test|photos|faces|gfpgan|bench|torch|rest]...
# IE_MODELS is where the ncnn weights are (default $CARRY/models); TESTS
# narrows the test step's -test.run; EXTRA is passed to nvcc (-Xptxas -v).
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/iegpu /tmp/ie
C=$(realpath "${CARRY:-.carry}")
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/gpu.txt"
if [ ! -f /tmp/iegpu/libiegpu.so ]; then
	( time make -j"$(nproc)" -C gpu/csrc OUT=/tmp/iegpu ARCHS="-gencode=arch=compute_90a,code=sm_90a" EXTRA="$EXTRA" ) \
		> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
for t in gpu main; do
	[ -f "$C/$t.test.xz" ] && xz -dc "$C/$t.test.xz" > /tmp/ie/$t.test && chmod +x /tmp/ie/$t.test
done
if [ -f "$C/dnnl.tar.xz" ] && [ ! -f /tmp/dnnl/.done ]; then
	mkdir -p /tmp/dnnl && tar xJf "$C/dnnl.tar.xz" -C /tmp/dnnl && touch /tmp/dnnl/.done
fi
export LD_LIBRARY_PATH=/tmp/dnnl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export IEGPU_LIB=/tmp/iegpu/libiegpu.so IE_SHARED=$C/shared IE_MODELS=${IE_MODELS:-$C/models} IE_PHOTOS=$C/photos
for step in "$@"; do
case $step in
test) (cd gpu && /tmp/ie/gpu.test -test.v -test.run "${TESTS:-TestFixtures|TestBatchAndPlan|TestMissingLibrary}" 2>&1 | tee "$OUT/test.log") ;;
photos) (cd gpu && /tmp/ie/gpu.test -test.v -test.run 'TestGPUMatchesCPUOnPhotos' 2>&1 | tee "$OUT/photos.log") ;;
faces) (cd gpu && /tmp/ie/gpu.test -test.v -test.run 'TestFaceEnhanceGPU' 2>&1 | tee "$OUT/faces.log") ;;
gfpgan) (cd gpu && /tmp/ie/gpu.test -test.v -test.run 'GFPGAN' -test.bench 'GFPGAN' -test.benchtime 5x 2>&1 | tee "$OUT/gfpgan.log") ;;
bench) (cd gpu && /tmp/ie/gpu.test -test.run XXX -test.v -test.bench Forward -test.benchtime 10x 2>&1 | tee "$OUT/bench.log") ;;
torch)
	M=$IE_MODELS; B=$C/shared/bench/torch_ref.py
	for a in "x4plus realesrgan-x4plus 256x256" "x4plus realesrgan-x4plus 480x640" \
	         "general_v3 realesrgan-x4fast 480x640" "anime_video realesr-animevideov3-x4 480x640"; do
		set -- $a
		python3 $B time --model $1 --param $M/$2.param --bin $M/$2.bin --size $3 --dtype fp16 --iters 20
	done 2>&1 | tee "$OUT/torch.log" ;;
rest) # the service as serve builds it, on the GPU, over loopback
	USE_GPU=TRUE GPU_LIBRARY=$IEGPU_LIB ENGINES_DIR=$IE_MODELS IE_BENCH_IMAGE=$C/photos/astronaut.png \
		/tmp/ie/main.test -test.run '^$' -test.bench RESTLatency -test.benchtime 1x -test.v 2>&1 | tee "$OUT/rest.log" ;;
ncu) # one launch of each kernel variant on general_v3's 64->64 layer at 256x256 (the tuning launches)
	(cd gpu && ncu -k regex:conv3x3 --launch-skip 48 --launch-count 48 --section SpeedOfLight --section WarpStateStats \
	   --section Occupancy --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
	   /tmp/ie/gpu.test -test.run XXX -test.bench 'Forward/general_v3' -test.benchtime 1x > "$OUT/ncu.txt" 2>&1) ;;
esac
done
