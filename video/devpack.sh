#!/bin/bash
# devpack.sh: packs what video/devrun.sh needs on the GPU machine into
# .carry-av (and x4plus's weights into .carry-x4), from a checkout with
# `make media models` done. Both folders are git-ignored carry folders.
set -e
C=.carry-av
mkdir -p $C/engines $C/media .carry-x4/engines /tmp/devpack-libs
CGO_ENABLED=1 go test -c -tags noonednn -ldflags='-s -w' -o /tmp/devpack-video.test ./video
# libav* and their dependencies, less what every machine has newer (kept
# from an earlier run: xz -9e takes minutes).
[ -f $C/libav.tar.xz ] || {
rm -f /tmp/devpack-libs/*
ldd /tmp/devpack-video.test | awk '$3 ~ /^\// {print $3}' |
	grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt)\.so' |
	xargs -I{} cp -L {} /tmp/devpack-libs/
tar cf - -C /tmp/devpack-libs . | xz -T0 -9e > $C/libav.tar.xz
}
xz -T0 -9 -c /tmp/devpack-video.test > $C/video.test.xz
cp engines/realesr-animevideov3-x4.* $C/engines/
cp engines/realesrgan-x4plus.* .carry-x4/engines/
for f in usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4 \
	usr/share/games/renpy/demo/game/oa4_launch.webm; do
	mkdir -p $C/media/$(dirname $f) && cp .testmedia/$f $C/media/$f
done
du -sh $C .carry-x4
