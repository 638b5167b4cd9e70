#!/bin/bash
# devrun.sh: the GPU machine's side of the video benchmark. That machine has
# no FFmpeg libraries and no Go: video/devpack.sh packs here, into .carry-av,
# the test binary, Debian's libav* with the closure of their dependencies,
# the clip and the compact weights (x4plus's, 33 MB, go in .carry-x4, a second
# call on the same warm machine: both do not fit one call's 64 MiB).
# Usage (repo root, on the device): bash video/devrun.sh MODEL... ; logs to $OUT;
# CSRC names another copy of gpu/csrc to build the library from; ENCODERS
# the encoders to try (default libx264; h264_nvenc falls back to libx264 on
# GPUs without NVENC, such as the H100); PRESETS the libx264 presets (default
# veryfast).
set -o pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/eng
if [ ! -f /tmp/av/.done ]; then
	mkdir -p /tmp/av && tar xJf .carry-av/libav.tar.xz -C /tmp/av && ldconfig -n /tmp/av && touch /tmp/av/.done || exit 1
	xz -dc .carry-av/video.test.xz > /tmp/av/video.test && chmod +x /tmp/av/video.test && cp -r .carry-av/media /tmp/media || exit 1
fi
for d in .carry-av/engines .carry-x4/engines; do [ -d $d ] && cp $d/* /tmp/eng/; done
if [ ! -f /tmp/iegpu/libiegpu.so ]; then
	make -C "${CSRC:-gpu/csrc}" OUT=/tmp/iegpu ARCHS="-gencode=arch=compute_90a,code=sm_90a" > "$OUT/build.log" 2>&1 || exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
nproc | tee -a "$OUT/gpu.txt"
export LD_LIBRARY_PATH=/tmp/av IEGPU_LIB=/tmp/iegpu/libiegpu.so IE_ENGINES=/tmp/eng IE_TESTMEDIA=/tmp/media
cd video
for model in "$@"; do
	for enc in ${ENCODERS:-libx264}; do
	for preset in ${PRESETS:-veryfast}; do
		for clip in 480p oa4_launch.webm; do
			echo "== $model $enc $preset $clip"
			IE_DEVICE=gpu IE_BENCH_CLIP=$clip IE_BENCH_MODEL=$model IE_ENCODER=$enc IE_X264_PRESET=$preset \
				/tmp/av/video.test -test.run XXX -test.bench Process -test.benchtime 1x 2>&1
		done
	done
	done
done | tee -a "$OUT/video.log"
