// shim.h is the C side of package cpu: a few opaque handles over the oneDNN
// v2 C API (engine and stream, convolution and PReLU primitives with their
// weights already reordered) and the layout loops that oneDNN has no
// primitive for. Every function returns 0 or a dnnl_status_t / IE_E* code;
// none aborts.
#ifndef IE_CPU_SHIM_H
#define IE_CPU_SHIM_H

#include <stddef.h>

#define IE_EINVAL 1001  // a bad argument from Go
#define IE_ENOMEM 1002  // malloc failed

// Data types of activations.
#define IE_F32 0
#define IE_BF16 1

// Post-op kinds, applied in order after the convolution and its bias.
#define IE_POST_LRELU 1   // leaky ReLU, slope alpha
#define IE_POST_LINEAR 2  // alpha*x
#define IE_POST_SUM 3     // += the previous contents of dst
#define IE_POST_ADD 4     // += src1, a tensor shaped like dst

typedef struct ie_ctx ie_ctx;
typedef struct ie_conv ie_conv;

int ie_ctx_create(ie_ctx **out, int threads);
void ie_ctx_destroy(ie_ctx *c);

// ie_conv_desc describes one K×K stride-1 "same" convolution on one image.
// Activations are in nChw{block}c (block 16, 8, 4, or 1 for nchw), or in
// nhwc when nhwc is set.
typedef struct {
	int ic, oc, h, w, k;
	int block, nhwc;
	int src_dt, dst_dt;  // IE_F32 or IE_BF16
	int npost;
	int post[4];
	float alpha[4];
} ie_conv_desc;

// ie_conv_create compiles a convolution; weight is OIHW f32, or NULL for
// one whose weights ie_conv_set_weights gives before each run, and bias oc
// values or NULL. Both are copied.
int ie_conv_create(ie_ctx *c, ie_conv **out, const ie_conv_desc *d,
		const float *weight, const float *bias);
// ie_conv_impl names the implementation oneDNN chose.
const char *ie_conv_impl(ie_conv *v);
// ie_conv_run runs it; src1 is the IE_POST_ADD operand or NULL.
int ie_conv_run(ie_ctx *c, ie_conv *v, void *src, void *dst, void *src1);
void ie_conv_destroy(ie_conv *v);
// ie_conv_set_weights replaces the weights (OIHW f32, reordered into the
// primitive's layout): GFPGAN's modulated convolutions change per image.
int ie_conv_set_weights(ie_ctx *c, ie_conv *v, const float *weight);

// ie_prelu_inplace applies a per-channel PReLU to a blocked c×h×w tensor:
// a plain loop, since oneDNN 2.6's PReLU primitive is slow on blocked
// layouts with per-channel slopes.
void ie_prelu_inplace(void *x, int c, int h, int w, int block, int dt, const float *slope);

// ie_alloc returns zeroed 64-byte-aligned memory, or NULL.
void *ie_alloc(size_t bytes);
void ie_free(void *p);

// ie_pack_input pixel-unshuffles one 3×h×w f32 NCHW image by r (1, 2 or 4)
// into a blocked tensor of 3·r² channels (padded to the block) of dt.
void ie_pack_input(const float *in, int h, int w, int r, void *dst, int block, int dt);
// ie_upsample2 is nearest 2× upsampling of a blocked c×h×w tensor.
void ie_upsample2(const void *src, void *dst, int c, int h, int w, int block, int dt);
// ie_unpack_output pixel-shuffles a blocked 3·r²×h×w tensor of dt into
// 3×(h·r)×(w·r) f32 NCHW, adding the nearest-upsampled 3×h×w image in when
// in is not NULL.
void ie_unpack_output(const void *src, int h, int w, int r, int block, int dt,
		float *out, const float *in);
// ie_spread copies a dense nhwc tensor of cs channels into channels c0.. of
// n nhwc tensors dst[i] of cd[i] channels, in one pass.
void ie_spread(const void *src, int cs, void *const *dst, const int *cd, int n, int c0, size_t pixels, int dt);
// The loops below take nhwc tensors of C channels as block = C.

// ie_copy copies bytes (a whole tensor), in parallel.
void ie_copy(void *dst, const void *src, size_t bytes);

// GFPGAN's loops, on f32 nhwc tensors of c channels and px pixels.

// ie_gfp_pack turns one 3×px f32 NCHW image in [0,1] into nhwc in [-1,1].
void ie_gfp_pack(const float *in, size_t px, float *dst);
// ie_gfp_unpack writes a 3-channel nhwc tensor as NCHW.
void ie_gfp_unpack(const float *src, size_t px, float *out);
// ie_up2_bilinear is bilinear 2× upsampling (align_corners false); dst is
// of type dt, for a convolution that reads it directly.
void ie_up2_bilinear(const float *src, void *dst, int c, int h, int w, int dt);
// ie_down2_mean is bilinear ½ downsampling: the mean of each 2×2 cell.
void ie_down2_mean(const float *src, float *dst, int c, int h, int w);
// ie_add is dst = a + b over n values.
void ie_add(float *dst, const float *a, const float *b, size_t n);
// ie_style_act finishes a StyleConv in one pass: v = lrelu(x + nw·noise +
// bias), noise one value a pixel, then, when scale is not NULL, the SFT
// v[c0:] = v[c0:]·scale + shift (scale and shift of c−c0 channels); v goes
// to out, of type dt (out may be x when dt is f32).
void ie_style_act(float *x, int c, size_t px, const float *noise, float nw, const float *bias,
		int c0, const float *scale, const float *shift, void *out, int dt);
// ie_modulate writes a modulated convolution's weights to dst: s =
// mw·latent + mb (in values, into s), W' = w·s per input channel,
// demodulated per output channel when demod, times gain.
void ie_modulate(const float *w, int out, int in, int kk, const float *mw, const float *mb,
		const float *latent, int nstyle, int demod, float gain, float *s, float *dst);
// ie_to_bf16 converts n values.
void ie_to_bf16(const float *src, void *dst, size_t n);

#endif
