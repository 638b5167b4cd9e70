// conv_wgp_16x32.cu: variant 14, the pipelined wgmma convolution on 16x32 pixels,
// the weights resident.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(14, 4, false, 2)
