// conv_wgp_32x16.cu: variant 20, the pipelined wgmma convolution on 32x16 pixels,
// 4 warpgroups a block, the weights resident.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(20, 2, false, 4)
