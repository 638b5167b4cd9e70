// pack.cu: the network input, float32 NCHW, to fp16 NHWC with the channels
// padded for the first convolution's K steps, and RRDBNet's pixel unshuffle
// (scale 2 and 1) folded in: channel c*r*r + i*r + j of LR pixel (y, x) is
// input channel c at (y*r + i, x*r + j), as F.pixel_unshuffle orders it.
// And the way out for callers that want 8-bit images: the float32 NCHW
// output to opaque RGBA, quantised as the Go pipeline does.
#include "common.cuh"

namespace {

__global__ void pack_input_kernel(const float *in, half *out, int cpad, int r, int n, int h, int w) {
	int lh = h / r, lw = w / r;
	size_t total = (size_t)n * lh * lw * cpad;
	for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
	     idx += (size_t)gridDim.x * blockDim.x) {
		int c = idx % cpad;
		size_t p = idx / cpad;
		int x = p % lw, y = (p / lw) % lh, img = p / ((size_t)lw * lh);
		float v = 0.f;
		int rr = r * r;
		if (c < 3 * rr) {
			int ic = c / rr, i = (c % rr) / r, j = c % r;
			v = in[(((size_t)img * 3 + ic) * h + y * r + i) * w + x * r + j];
		}
		out[idx] = __float2half_rn(v);
	}
}

// q8 is the Go pipeline's quantisation (enhance's q8): 0 below 0 and for
// NaN, 255 from 1 up, else v*255 (a float32 product) rounded half to even.
__device__ __forceinline__ unsigned char q8(float v) {
	if (!(v > 0.f)) return 0;
	if (v >= 1.f) return 255;
	return (unsigned char)__float2int_rn(__fmul_rn(v, 255.f));
}

__global__ void rgba8_kernel(const float *out, uchar4 *rgba, int n, size_t plane) {
	size_t total = (size_t)n * plane;
	for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
	     idx += (size_t)gridDim.x * blockDim.x) {
		size_t img = idx / plane, p = idx % plane;
		const float *o = out + img * 3 * plane + p;
		rgba[idx] = make_uchar4(q8(o[0]), q8(o[plane]), q8(o[2 * plane]), 255);
	}
}

}  // namespace

int launch_pack_input(const float *in, half *out, int cpad, int unshuffle, int n, int h, int w, cudaStream_t s) {
	size_t total = (size_t)n * (h / unshuffle) * (w / unshuffle) * cpad;
	if (total == 0) return IEGPU_OK;
	int blocks = (int)((total + 255) / 256);
	if (blocks > 65535) blocks = 65535;
	pack_input_kernel<<<blocks, 256, 0, s>>>(in, out, cpad, unshuffle, n, h, w);
	CU(cudaGetLastError());
	return IEGPU_OK;
}

int launch_rgba8(const float *out, unsigned char *rgba, int n, int h, int w, cudaStream_t s) {
	size_t plane = (size_t)h * w, total = (size_t)n * plane;
	if (total == 0) return IEGPU_OK;
	int blocks = (int)((total + 255) / 256);
	if (blocks > 65535) blocks = 65535;
	rgba8_kernel<<<blocks, 256, 0, s>>>(out, reinterpret_cast<uchar4 *>(rgba), n, plane);
	CU(cudaGetLastError());
	return IEGPU_OK;
}
