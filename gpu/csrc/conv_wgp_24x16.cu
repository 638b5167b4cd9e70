// conv_wgp_24x16.cu: variant 19, the pipelined wgmma convolution on 24x16 pixels,
// 3 warpgroups a block, the weights resident.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(19, 2, false, 3)
