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
	int (*engine_time)(iegpu_engine *, int, int, int, int, float *);
	int (*engine_tune)(iegpu_engine *, int, int, int);
	int (*engine_plan)(iegpu_engine *, char *, size_t, size_t *);
	int (*engine_set_plan)(iegpu_engine *, const char *);
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
	SYM(engine_memory) SYM(engine_run) SYM(engine_time) SYM(engine_tune) SYM(engine_plan) SYM(engine_set_plan)
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
int ie_engine_time(iegpu_engine *eng, int n, int h, int w, int iters, float *ms) {
	return fn.engine_time(eng, n, h, w, iters, ms);
}
int ie_engine_tune(iegpu_engine *eng, int n, int h, int w) { return fn.engine_tune(eng, n, h, w); }
int ie_engine_plan(iegpu_engine *eng, char *buf, size_t len, size_t *needed) {
	return fn.engine_plan(eng, buf, len, needed);
}
int ie_engine_set_plan(iegpu_engine *eng, const char *plan) { return fn.engine_set_plan(eng, plan); }
