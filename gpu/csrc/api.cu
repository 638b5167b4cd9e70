// api.cu: errors, devices, contexts and the engines' lifetime.
#include <cstdio>
#include <cstring>

#include "common.cuh"

int build_graph(iegpu_engine *e, const iegpu_network *net);

static thread_local std::string last_error;

int set_error(int st, const std::string &msg) {
	last_error = msg;
	return st;
}

int cuda_status(cudaError_t e, const char *what) {
	int st = IEGPU_ERR_CUDA;
	switch (e) {
	case cudaErrorMemoryAllocation: st = IEGPU_ERR_OOM; break;
	case cudaErrorNoDevice:
	case cudaErrorInvalidDevice: st = IEGPU_ERR_NO_DEVICE; break;
	case cudaErrorInsufficientDriver:
	case cudaErrorNotPermitted: st = IEGPU_ERR_DRIVER; break;
	default: break;
	}
	return set_error(st, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

extern "C" void iegpu_last_error(char *buf, size_t len) {
	if (!buf || len == 0) return;
	size_t k = last_error.size() < len - 1 ? last_error.size() : len - 1;
	memcpy(buf, last_error.data(), k);
	buf[k] = 0;
}

extern "C" int iegpu_api_version(void) { return IEGPU_API_VERSION; }

extern "C" int iegpu_device_count(int *count) {
	if (!count) return set_error(IEGPU_ERR_INVALID, "nil count");
	*count = 0;
	CU(cudaGetDeviceCount(count));
	return IEGPU_OK;
}

extern "C" int iegpu_context_create(int device, iegpu_context **out) {
	if (!out) return set_error(IEGPU_ERR_INVALID, "nil out");
	*out = nullptr;
	int n = 0;
	CU(cudaGetDeviceCount(&n));
	if (device < 0 || device >= n)
		return set_error(IEGPU_ERR_NO_DEVICE, "device " + std::to_string(device) + " not present (" +
		                                          std::to_string(n) + " CUDA devices)");
	CU(cudaSetDevice(device));
	iegpu_context *c = new (std::nothrow) iegpu_context();
	if (!c) return set_error(IEGPU_ERR_OOM, "host allocation");
	c->device = device;
	cudaError_t ce = cudaGetDeviceProperties(&c->prop, device);
	if (!ce) ce = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
	if (ce) {
		delete c;
		return cuda_status(ce, "creating the context");
	}
	if (c->prop.major < 8) {
		cudaStreamDestroy(c->stream);
		delete c;
		return set_error(IEGPU_ERR_NO_DEVICE, "compute capability 8.0 or newer needed (tensor-core mma.sync)");
	}
	*out = c;
	return IEGPU_OK;
}

extern "C" int iegpu_context_destroy(iegpu_context *c) {
	if (!c) return IEGPU_OK;
	cudaSetDevice(c->device);
	cudaStreamDestroy(c->stream);
	delete c;
	return IEGPU_OK;
}

extern "C" int iegpu_context_info(iegpu_context *c, char *name, size_t name_len, size_t *total, size_t *free_b,
                                  int *driver, int *runtime, int *major, int *minor) {
	if (!c) return set_error(IEGPU_ERR_INVALID, "no context");
	CU(cudaSetDevice(c->device));
	if (name && name_len) {
		snprintf(name, name_len, "%s", c->prop.name);
	}
	size_t f = 0, t = 0;
	CU(cudaMemGetInfo(&f, &t));
	if (total) *total = t;
	if (free_b) *free_b = f;
	int d = 0, r = 0;
	cudaDriverGetVersion(&d);
	cudaRuntimeGetVersion(&r);
	if (driver) *driver = d;
	if (runtime) *runtime = r;
	if (major) *major = c->prop.major;
	if (minor) *minor = c->prop.minor;
	return IEGPU_OK;
}

extern "C" int iegpu_engine_create(iegpu_context *c, const iegpu_network *net, iegpu_engine **out) {
	if (!c || !out) return set_error(IEGPU_ERR_INVALID, "nil argument");
	*out = nullptr;
	CU(cudaSetDevice(c->device));
	int st = conv_prepare();
	if (st) return st;
	iegpu_engine *e = new (std::nothrow) iegpu_engine();
	if (!e) return set_error(IEGPU_ERR_OOM, "host allocation");
	e->ctx = c;
	if ((st = build_graph(e, net))) {
		iegpu_engine_destroy(e);
		return st;
	}
	*out = e;
	return IEGPU_OK;
}

extern "C" int iegpu_engine_destroy(iegpu_engine *e) {
	if (!e) return IEGPU_OK;
	cudaSetDevice(e->ctx->device);
	cudaStreamSynchronize(e->ctx->stream);
	release_activations(e);
	cudaFree(e->d_w);
	cudaFree(e->d_b);
	cudaFree(e->d_s);
	delete e;
	return IEGPU_OK;
}
