// conv_wgp_16x32_stream.cu: variant 16, the pipelined wgmma convolution on 16x32 pixels,
// the weights streamed beside each halo.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(16, 4, true, 2)
