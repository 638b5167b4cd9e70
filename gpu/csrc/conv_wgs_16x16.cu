// conv_wgs_16x16.cu: variant 17, the wgmma convolution with the GEMM turned
// around (M = 64 output channels, N = 8x16 pixels a warpgroup) on 16x16 pixels.
#include "conv_hopper.cuh"

IEGPU_WGS_VARIANT(17, 16, 13)
