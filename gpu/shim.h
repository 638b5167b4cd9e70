// shim.h: the GPU runtime's C library, reached through dlopen so that the Go
// binary starts (and falls back to the CPU) on machines without it.
#ifndef IE_GPU_SHIM_H
#define IE_GPU_SHIM_H

#include <stddef.h>

#include "csrc/iegpu.h"

// ie_open loads the library at path and resolves every entry point; it
// returns 0, or -1 with the reason in err.
int ie_open(const char *path, char *err, size_t errlen);

void ie_last_error(char *buf, size_t len);
int ie_api_version(void);
int ie_device_count(int *count);
int ie_context_create(int device, iegpu_context **out);
int ie_context_destroy(iegpu_context *ctx);
int ie_context_info(iegpu_context *ctx, char *name, size_t name_len, size_t *total, size_t *free_b,
                    int *driver, int *runtime, int *major, int *minor);
int ie_engine_create(iegpu_context *ctx, const iegpu_network *net, iegpu_engine **out);
int ie_engine_destroy(iegpu_engine *eng);
int ie_engine_reserve(iegpu_engine *eng, int n, int h, int w);
int ie_engine_workspace(iegpu_engine *eng, int n, int h, int w, size_t *bytes);
int ie_engine_memory(iegpu_engine *eng, size_t *weight_bytes, size_t *activation_bytes);
int ie_engine_run(iegpu_engine *eng, const float *in, int n, int h, int w, float *out);
int ie_engine_run_rgba8(iegpu_engine *eng, const float *in, int n, int h, int w, unsigned char *out);
int ie_engine_time(iegpu_engine *eng, int n, int h, int w, int iters, float *ms);
int ie_engine_tune(iegpu_engine *eng, int n, int h, int w);
int ie_engine_plan(iegpu_engine *eng, char *buf, size_t len, size_t *needed);
int ie_engine_set_plan(iegpu_engine *eng, const char *plan);

// GFPGAN's primitives (csrc/gfpgan.cu), as ie_dev_* (the CPU shim has its own ie_add, ie_free...).
int ie_dev_malloc(iegpu_context *ctx, size_t bytes, void **out);
int ie_dev_free(iegpu_context *ctx, void *p);
int ie_dev_upload(iegpu_context *ctx, void *dst, const void *src, size_t bytes);
int ie_dev_download(iegpu_context *ctx, void *dst, const void *src, size_t bytes);
int ie_dev_sync(iegpu_context *ctx);
int ie_dev_conv2d_workspace(iegpu_context *ctx, const iegpu_conv_op *op, size_t *bytes);
int ie_dev_conv2d(iegpu_context *ctx, const iegpu_conv_op *op);
int ie_dev_linear(iegpu_context *ctx, const float *w, const float *b, const float *x, int in, int out, float *y);
int ie_dev_modulate(iegpu_context *ctx, const float *w, int out, int in, int kk, const float *s, int demod, float gain,
                float *factors, float *dst);
int ie_dev_up2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y);
int ie_dev_down2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y);
int ie_dev_add(iegpu_context *ctx, const float *a, const float *b, size_t n, float *y);
int ie_dev_affine(iegpu_context *ctx, const float *x, size_t n, float a, float b, float *y);

#endif
