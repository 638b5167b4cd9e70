#!/bin/bash
# devpack.sh: packs into a carry folder (CARRY, default .carry; git-ignored,
# named in the device call's carry) what gpu/devrun.sh needs on the GPU
# machine, from a checkout with `make media models` done and ../shared
# beside it. Each call's carry is at most 64 MiB, so pick the items:
#   gputest  the gpu package's tests, oneDNN linked (TestGPUMatchesCPUOnPhotos)
#            unless TAGS=noonednn
#   maintest the main package's tests without oneDNN and FFmpeg (BenchmarkRESTLatency)
#   dnnl     oneDNN's libraries, for gputest
#   photos   skimage's astronaut, coffee and chelsea
#   sr gfpgan bench   ../shared/fixtures/sr, ../shared/fixtures/gfpgan, ../shared/bench
#   mtcnn    the face detector's weights (engines/mtcnn)
#   NAME     engines/NAME.param and .bin (realesrgan-x4plus, realesrgan-x4fast, ...)
# Usage: CARRY=.carry-x bash gpu/devpack.sh gputest dnnl photos realesrgan-x4fast
set -e
C=${CARRY:-.carry}
mkdir -p "$C"
for item in "$@"; do
case $item in
gputest) CGO_ENABLED=1 go test -c -tags "$TAGS" -ldflags='-s -w' -o /tmp/devpack-gpu.test ./gpu
	xz -T0 -9 -c /tmp/devpack-gpu.test > "$C/gpu.test.xz" ;;
maintest) CGO_ENABLED=1 go test -c -tags 'noonednn nolibav' -ldflags='-s -w' -o /tmp/devpack-main.test .
	xz -T0 -9 -c /tmp/devpack-main.test > "$C/main.test.xz" ;;
dnnl) rm -rf /tmp/devpack-dnnl && mkdir -p /tmp/devpack-dnnl
	ldd /tmp/devpack-gpu.test | awk '$3 ~ /^\// {print $3}' | grep -E 'dnnl|gomp|OpenCL' | xargs -I{} cp -L {} /tmp/devpack-dnnl/
	tar cf - -C /tmp/devpack-dnnl . | xz -T0 -9 > "$C/dnnl.tar.xz" ;;
photos) mkdir -p "$C/photos"
	cp /usr/lib/python3/dist-packages/skimage/data/{astronaut,coffee,chelsea}.png "$C/photos/" ;;
sr|gfpgan|bench) mkdir -p "$C/shared/fixtures"
	if [ $item = bench ]; then cp -r ../shared/bench "$C/shared/"; else cp -r ../shared/fixtures/$item "$C/shared/fixtures/"; fi
	chmod -R u+w "$C/shared" ;;
mtcnn) mkdir -p "$C/models" && cp -r engines/mtcnn "$C/models/" ;;
*) mkdir -p "$C/models" && cp engines/$item.param engines/$item.bin "$C/models/" ;;
esac
done
du -sh "$C"
