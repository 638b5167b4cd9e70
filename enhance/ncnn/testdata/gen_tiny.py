#!/usr/bin/env python3
"""Writes tiny_srvgg.param/.bin: an SRVGGNetCompact in ncnn form as
realesr-animevideov3 is converted (num_feat 3, one middle conv, upscale 2),
small enough to seed the fuzzers. Conv_0 and Conv_4 store fp16 weights
(Conv_0 has 81, an odd count, so it ends with 2 bytes of padding); Conv_2
stores fp32. Weight i of conv c is ((i + c) % 7 - 3) / 8, bias j is
(j - 1) / 4, PReLU slope j is 0.1·(j+1) (all exact in fp16 and fp32)."""
import struct

convs = [("Conv_0", 3, 3, True), ("Conv_2", 3, 3, False), ("Conv_4", 12, 3, True)]
lines = ["Input            input.1   0 1 data",
         "Split            split0    1 2 data in_0 in_1"]
binary = b""
prev = "in_1"
for c, (name, out, cin, fp16) in enumerate(convs):
    n = out * cin * 9
    lines.append("Convolution      %s    1 1 %s c%d 0=%d 1=3 4=1 5=1 6=%d" % (name, prev, c, out, n))
    w = [((i + c) % 7 - 3) / 8 for i in range(n)]
    if fp16:
        raw = struct.pack("<I", 0x01306B47) + struct.pack("<%de" % n, *w)
        raw += b"\0" * (-len(raw) % 4)
    else:
        raw = struct.pack("<I", 0) + struct.pack("<%df" % n, *w)
    binary += raw + struct.pack("<%df" % out, *[(j - 1) / 4 for j in range(out)])
    prev = "c%d" % c
    if c < len(convs) - 1:
        lines.append("PReLU            PRelu_%d   1 1 %s p%d 0=3" % (c, prev, c))
        binary += struct.pack("<3f", 0.1, 0.2, 0.3)
        prev = "p%d" % c
lines += ["PixelShuffle     ps        1 1 %s up 0=2" % prev,
          "Interp           resize    1 1 in_0 near 0=1 1=2.000000e+00 2=2.000000e+00",
          "BinaryOp         add       2 1 up near output"]
open("tiny_srvgg.param", "w").write("7767517\n%d %d\n%s\n" % (len(lines), 11, "\n".join(lines)))
open("tiny_srvgg.bin", "wb").write(binary)
