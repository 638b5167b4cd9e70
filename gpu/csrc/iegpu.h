/* iegpu.h: the C API of the Image Enhancer GPU runtime (libiegpu.so).
 *
 * Opaque handles, status codes, no aborts (as ggml does it): every function
 * returns an iegpu_status, and iegpu_last_error gives the detail of the last
 * failure on the calling thread. The library runs Real-ESRGAN's two
 * architectures (RRDBNet, SRVGGNetCompact) with fp16 storage (NHWC) and fp32
 * accumulation on tensor cores, and offers the fp32 primitives that GFPGAN's
 * steps are made of; it knows nothing of files or tiling: the
 * caller hands it weights and tiles, and saves or restores its tuned plan. */
#ifndef IEGPU_H
#define IEGPU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IEGPU_API_VERSION 1

#if defined(__GNUC__)
#define IEGPU_EXPORT __attribute__((visibility("default")))
#else
#define IEGPU_EXPORT
#endif

typedef enum {
	IEGPU_OK = 0,
	IEGPU_ERR_INVALID = 1,     /* bad argument or unsupported network shape */
	IEGPU_ERR_NO_DEVICE = 2,   /* no CUDA device, or the index is out of range */
	IEGPU_ERR_DRIVER = 3,      /* driver missing or older than the runtime */
	IEGPU_ERR_OOM = 4,         /* device memory exhausted: use a smaller tile */
	IEGPU_ERR_CUDA = 5,        /* any other CUDA failure */
	IEGPU_ERR_PLAN = 6         /* a plan that does not fit this engine */
} iegpu_status;

typedef enum {
	IEGPU_ARCH_RRDB = 1,  /* RRDBNet: convs = first, body (15 per RRDB), body, up1, up2, hr, last */
	IEGPU_ARCH_SRVGG = 2  /* SRVGGNetCompact: convs in order, prelu[i] after conv i (all but the last) */
} iegpu_arch;

typedef struct {
	int out, in, k;       /* k must be 3 */
	const float *weight;  /* out*in*k*k floats, PyTorch OIHW */
	const float *bias;    /* out floats, or NULL */
} iegpu_conv;

typedef struct {
	int arch;                   /* iegpu_arch */
	int scale;                  /* RRDB: 4, 2 or 1; SRVGG: upscale */
	int num_feat, num_grow;     /* num_grow: RRDB only */
	int num_convs;
	const iegpu_conv *convs;
	const float *const *prelu;  /* SRVGG: num_convs-1 arrays of num_feat slopes */
} iegpu_network;

typedef struct iegpu_context iegpu_context;
typedef struct iegpu_engine iegpu_engine;

/* iegpu_last_error copies the last failure's message on this thread into buf. */
IEGPU_EXPORT void iegpu_last_error(char *buf, size_t len);
IEGPU_EXPORT int iegpu_api_version(void);

/* Devices and contexts. */
IEGPU_EXPORT int iegpu_device_count(int *count);
IEGPU_EXPORT int iegpu_context_create(int device, iegpu_context **out);
IEGPU_EXPORT int iegpu_context_destroy(iegpu_context *ctx);
IEGPU_EXPORT int iegpu_context_info(iegpu_context *ctx, char *name, size_t name_len,
                       size_t *total_bytes, size_t *free_bytes,
                       int *driver_version, int *runtime_version, int *cc_major, int *cc_minor);

/* Engines: a network compiled for one context. The description is copied. */
IEGPU_EXPORT int iegpu_engine_create(iegpu_context *ctx, const iegpu_network *net, iegpu_engine **out);
IEGPU_EXPORT int iegpu_engine_destroy(iegpu_engine *eng);
/* iegpu_engine_reserve allocates the activations for n tiles of h x w input
 * pixels (done by the runs too, growing as needed); IEGPU_ERR_OOM leaves the
 * engine usable at its former size. */
IEGPU_EXPORT int iegpu_engine_reserve(iegpu_engine *eng, int n, int h, int w);
/* iegpu_engine_workspace estimates the device bytes a run of that shape needs. */
IEGPU_EXPORT int iegpu_engine_workspace(iegpu_engine *eng, int n, int h, int w, size_t *bytes);
/* iegpu_engine_memory reports the device bytes held: weights and activations. */
IEGPU_EXPORT int iegpu_engine_memory(iegpu_engine *eng, size_t *weight_bytes, size_t *activation_bytes);

/* Runs: in is n x 3 x h x w float32 NCHW in [0,1]; out receives
 * n x 3 x (h*s) x (w*s) float32 NCHW, unclamped. Host pointers, synchronous. */
IEGPU_EXPORT int iegpu_engine_run(iegpu_engine *eng, const float *in, int n, int h, int w, float *out);
/* The same, out receiving n opaque RGBA8 images of (h*s) x (w*s) pixels:
 * each value v quantised as 0 for v <= 0 or NaN, 255 for v >= 1, else
 * v*255 (float32) rounded half to even. A quarter of the bytes to copy. */
IEGPU_EXPORT int iegpu_engine_run_rgba8(iegpu_engine *eng, const float *in, int n, int h, int w, unsigned char *out);
/* iegpu_engine_time runs iters forwards on device buffers of that shape and
 * returns the median milliseconds (CUDA events around each replay). */
IEGPU_EXPORT int iegpu_engine_time(iegpu_engine *eng, int n, int h, int w, int iters, float *ms);

/* Plans: tuning picks a kernel variant per layer by timing them on a tile of
 * n x h x w; the plan is a short text the caller stores and hands back later. */
IEGPU_EXPORT int iegpu_engine_tune(iegpu_engine *eng, int n, int h, int w);
IEGPU_EXPORT int iegpu_engine_plan(iegpu_engine *eng, char *buf, size_t len, size_t *needed);
IEGPU_EXPORT int iegpu_engine_set_plan(iegpu_engine *eng, const char *plan);

/* GFPGAN's primitives (gfpgan.cu), driven step by step by the caller: device
 * memory and operations on float32 NCHW planes of one image in it. Each
 * operation is enqueued on the context's stream; upload and download wait
 * for it. Pointers are device pointers unless said otherwise. */
IEGPU_EXPORT int iegpu_malloc(iegpu_context *ctx, size_t bytes, void **out);
IEGPU_EXPORT int iegpu_free(iegpu_context *ctx, void *p);
/* Host to device and back (host src/dst), synchronous. */
IEGPU_EXPORT int iegpu_upload(iegpu_context *ctx, void *dst, const void *src, size_t bytes);
IEGPU_EXPORT int iegpu_download(iegpu_context *ctx, void *dst, const void *src, size_t bytes);
IEGPU_EXPORT int iegpu_sync(iegpu_context *ctx);

/* A k x k convolution (k 1 or 3, stride 1, zero padding k/2) with its
 * epilogue fused, for output channel o and pixel p:
 *   v = gain*conv + noise_weight*noise[p] + bias[o]; if lrelu: leaky ReLU 0.2;
 *   v += add[o][p]; if o >= sft_c0: v = v*sft_scale[o-sft_c0][p] + sft_shift[o-sft_c0][p]
 * where each absent (NULL) term is left out. */
typedef struct {
	int in, out, k, h, w;
	const float *x;       /* in x h x w */
	const float *weight;  /* (k*k*in) x out, row t*in+i for tap t of input i, as iegpu_modulate writes it */
	const float *bias;    /* out, or NULL */
	float gain;
	const float *noise;   /* h x w, or NULL */
	float noise_weight;
	int lrelu;
	const float *add;     /* out x h x w, or NULL */
	int sft_c0;
	const float *sft_scale, *sft_shift;  /* (out-sft_c0) x h x w, or NULL */
	float *y;             /* out x h x w, apart from every input */
	float *work;          /* iegpu_conv2d_workspace bytes (NULL when 0) */
	size_t work_bytes;
} iegpu_conv_op;
/* iegpu_conv2d_workspace gives the scratch bytes op's shape needs (split K). */
IEGPU_EXPORT int iegpu_conv2d_workspace(iegpu_context *ctx, const iegpu_conv_op *op, size_t *bytes);
IEGPU_EXPORT int iegpu_conv2d(iegpu_context *ctx, const iegpu_conv_op *op);
/* y = w x + b: w out x in row-major, b may be NULL. */
IEGPU_EXPORT int iegpu_linear(iegpu_context *ctx, const float *w, const float *b, const float *x, int in, int out,
                              float *y);
/* iegpu_modulate turns w (PyTorch out x in x kk) into a convolution's
 * weights (kk*in) x out: dst[t*in+i][o] = w[o][i][t]*s[i]*f[o], where s (in
 * values) may be NULL for 1 and f[o] = gain/sqrt(sum_{i,t} (w[o][i][t]*s[i])^2 + 1e-8)
 * if demod, else gain; factors receives f (out floats). */
IEGPU_EXPORT int iegpu_modulate(iegpu_context *ctx, const float *w, int out, int in, int kk, const float *s,
                                int demod, float gain, float *factors, float *dst);
/* Bilinear resizing of c planes of h x w (align_corners=False): up2 doubles
 * the sides, down2 halves them (the mean of each 2x2 cell). */
IEGPU_EXPORT int iegpu_up2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y);
IEGPU_EXPORT int iegpu_down2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y);
/* y = a + b and y = a*x + b, element-wise over n floats. */
IEGPU_EXPORT int iegpu_add(iegpu_context *ctx, const float *a, const float *b, size_t n, float *y);
IEGPU_EXPORT int iegpu_affine(iegpu_context *ctx, const float *x, size_t n, float a, float b, float *y);

#ifdef __cplusplus
}
#endif
#endif
