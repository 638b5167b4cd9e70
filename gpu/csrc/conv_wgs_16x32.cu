// conv_wgs_16x32.cu: variant 18, the wgmma convolution with the GEMM turned
// around (M = 64 output channels, N = 8x32 pixels a warpgroup) on 16x32 pixels.
#include "conv_hopper.cuh"

IEGPU_WGS_VARIANT(18, 32, 14)
