// conv_wgp_16x16_stream.cu: variant 15, the pipelined wgmma convolution on 16x16 pixels,
// the weights streamed beside each halo.
#include "conv_hopper.cuh"

IEGPU_WGP_VARIANT(15, 2, true, 2)
