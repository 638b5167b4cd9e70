// conv_wgp_16x16.cu: variant 13, the pipelined wgmma convolution on 16x16 pixels,
// the weights resident.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(13, 2, false, 2)
