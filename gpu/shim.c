// shim.c: dlopen/dlsym of libiegpu.so, and one forwarding function per entry
// point (cgo cannot call through C function pointers).
#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>

static struct {
	void (*last_error)(char *, size_t);
	int (*api_version)(void);
	int (*device_count)(int *);
	int (*context_create)(int, iegpu_context **);
	int (*context_destroy)(iegpu_context *);
	int (*context_info)(iegpu_context *, char *, size_t, size_t *, size_t *, int *, int *, int *, int *);
	int (*engine_create)(iegpu_context *, const iegpu_network *, iegpu_engine **);
	int (*engine_destroy)(iegpu_engine *);
	int (*engine_reserve)(iegpu_engine *, int, int, int);
	int (*engine_workspace)(iegpu_engine *, int, int, int, size_t *);
	int (*engine_memory)(iegpu_engine *, size_t *, size_t *);
	int (*engine_run)(iegpu_engine *, const float *, int, int, int, float *);
	int (*engine_run_rgba8)(iegpu_engine *, const float *, int, int, int, unsigned char *);
	int (*engine_time)(iegpu_engine *, int, int, int, int, float *);
	int (*engine_tune)(iegpu_engine *, int, int, int);
	int (*engine_plan)(iegpu_engine *, char *, size_t, size_t *);
	int (*engine_set_plan)(iegpu_engine *, const char *);
	int (*malloc)(iegpu_context *, size_t, void **);
	int (*free)(iegpu_context *, void *);
	int (*upload)(iegpu_context *, void *, const void *, size_t);
	int (*download)(iegpu_context *, void *, const void *, size_t);
	int (*sync)(iegpu_context *);
	int (*conv2d_workspace)(iegpu_context *, const iegpu_conv_op *, size_t *);
	int (*conv2d)(iegpu_context *, const iegpu_conv_op *);
	int (*linear)(iegpu_context *, const float *, const float *, const float *, int, int, float *);
	int (*modulate)(iegpu_context *, const float *, int, int, int, const float *, int, float, float *, float *);
	int (*up2)(iegpu_context *, const float *, int, int, int, float *);
	int (*down2)(iegpu_context *, const float *, int, int, int, float *);
	int (*add)(iegpu_context *, const float *, const float *, size_t, float *);
	int (*affine)(iegpu_context *, const float *, size_t, float, float, float *);
} fn;

static void *lib;

int ie_open(const char *path, char *err, size_t errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
	if (lib) {  // one library per process: the entry points are process-wide
		dlclose(h);
		if (h == lib) return 0;
		snprintf(err, errlen, "%s: another libiegpu.so is already loaded", path);
		return -1;
	}
#define SYM(name)                                                             \
	*(void **)(&fn.name) = dlsym(h, "iegpu_" #name);                          \
	if (!fn.name) {                                                           \
		snprintf(err, errlen, "%s: missing symbol iegpu_" #name, path);       \
		dlclose(h);                                                           \
		return -1;                                                            \
	}
	SYM(last_error) SYM(api_version) SYM(device_count) SYM(context_create) SYM(context_destroy)
	SYM(context_info) SYM(engine_create) SYM(engine_destroy) SYM(engine_reserve) SYM(engine_workspace)
	SYM(engine_memory) SYM(engine_run) SYM(engine_run_rgba8) SYM(engine_time) SYM(engine_tune) SYM(engine_plan) SYM(engine_set_plan)
	SYM(malloc) SYM(free) SYM(upload) SYM(download) SYM(sync) SYM(conv2d_workspace) SYM(conv2d) SYM(linear)
	SYM(modulate) SYM(up2) SYM(down2) SYM(add) SYM(affine)
#undef SYM
	if (fn.api_version() != IEGPU_API_VERSION) {
		snprintf(err, errlen, "%s: API version %d, want %d", path, fn.api_version(), IEGPU_API_VERSION);
		dlclose(h);
		return -1;
	}
	lib = h;
	return 0;
}

void ie_last_error(char *buf, size_t len) { fn.last_error(buf, len); }
int ie_api_version(void) { return fn.api_version(); }
int ie_device_count(int *count) { return fn.device_count(count); }
int ie_context_create(int device, iegpu_context **out) { return fn.context_create(device, out); }
int ie_context_destroy(iegpu_context *ctx) { return fn.context_destroy(ctx); }
int ie_context_info(iegpu_context *ctx, char *name, size_t name_len, size_t *total, size_t *free_b, int *driver,
                    int *runtime, int *major, int *minor) {
	return fn.context_info(ctx, name, name_len, total, free_b, driver, runtime, major, minor);
}
int ie_engine_create(iegpu_context *ctx, const iegpu_network *net, iegpu_engine **out) {
	return fn.engine_create(ctx, net, out);
}
int ie_engine_destroy(iegpu_engine *eng) { return fn.engine_destroy(eng); }
int ie_engine_reserve(iegpu_engine *eng, int n, int h, int w) { return fn.engine_reserve(eng, n, h, w); }
int ie_engine_workspace(iegpu_engine *eng, int n, int h, int w, size_t *bytes) {
	return fn.engine_workspace(eng, n, h, w, bytes);
}
int ie_engine_memory(iegpu_engine *eng, size_t *wb, size_t *ab) { return fn.engine_memory(eng, wb, ab); }
int ie_engine_run(iegpu_engine *eng, const float *in, int n, int h, int w, float *out) {
	return fn.engine_run(eng, in, n, h, w, out);
}

int ie_engine_run_rgba8(iegpu_engine *eng, const float *in, int n, int h, int w, unsigned char *out) {
	return fn.engine_run_rgba8(eng, in, n, h, w, out);
}
int ie_engine_time(iegpu_engine *eng, int n, int h, int w, int iters, float *ms) {
	return fn.engine_time(eng, n, h, w, iters, ms);
}
int ie_engine_tune(iegpu_engine *eng, int n, int h, int w) { return fn.engine_tune(eng, n, h, w); }
int ie_engine_plan(iegpu_engine *eng, char *buf, size_t len, size_t *needed) {
	return fn.engine_plan(eng, buf, len, needed);
}
int ie_engine_set_plan(iegpu_engine *eng, const char *plan) { return fn.engine_set_plan(eng, plan); }
int ie_dev_malloc(iegpu_context *ctx, size_t bytes, void **out) { return fn.malloc(ctx, bytes, out); }
int ie_dev_free(iegpu_context *ctx, void *p) { return fn.free(ctx, p); }
int ie_dev_upload(iegpu_context *ctx, void *dst, const void *src, size_t bytes) { return fn.upload(ctx, dst, src, bytes); }
int ie_dev_download(iegpu_context *ctx, void *dst, const void *src, size_t bytes) {
	return fn.download(ctx, dst, src, bytes);
}
int ie_dev_sync(iegpu_context *ctx) { return fn.sync(ctx); }
int ie_dev_conv2d_workspace(iegpu_context *ctx, const iegpu_conv_op *op, size_t *bytes) {
	return fn.conv2d_workspace(ctx, op, bytes);
}
int ie_dev_conv2d(iegpu_context *ctx, const iegpu_conv_op *op) { return fn.conv2d(ctx, op); }
int ie_dev_linear(iegpu_context *ctx, const float *w, const float *b, const float *x, int in, int out, float *y) {
	return fn.linear(ctx, w, b, x, in, out, y);
}
int ie_dev_modulate(iegpu_context *ctx, const float *w, int out, int in, int kk, const float *s, int demod, float gain,
                float *factors, float *dst) {
	return fn.modulate(ctx, w, out, in, kk, s, demod, gain, factors, dst);
}
int ie_dev_up2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y) { return fn.up2(ctx, x, c, h, w, y); }
int ie_dev_down2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y) { return fn.down2(ctx, x, c, h, w, y); }
int ie_dev_add(iegpu_context *ctx, const float *a, const float *b, size_t n, float *y) { return fn.add(ctx, a, b, n, y); }
int ie_dev_affine(iegpu_context *ctx, const float *x, size_t n, float a, float b, float *y) {
	return fn.affine(ctx, x, n, a, b, y);
}
