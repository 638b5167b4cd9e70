// conv.cuh: what the 3x3 convolution's kernels share (conv.cu on mma.sync
// for every GPU, conv_hopper.cu on wgmma for Hopper): the launch arguments,
// the asynchronous copies and the fused epilogue.
#pragma once
#include "common.cuh"

namespace conv {

struct ConvArgs {
	const half *in;
	int in_cs, in_h, in_w, ups;
	int out_h, out_w, npix;
	int cin_pad, ktot;
	const half *wgt;
	const float *bias, *slope;
	int act, cout;
	half *out;
	int out_cs;
	float s1, s2;
	const half *res1, *res2;
	int res1_cs, res2_cs;
	int mode;
	float *fout;
	const float *base;
	int r;
	int pdl;    // host side: launch with programmatic stream serialization (Hopper's variants)
	int split;  // Hopper's variants: the last rounds' tiles split by chunks (conv_hopper.cuh, Sched)
	// Hopper's variants: a tile split between two blocks passes its partial
	// sums through slot blockIdx.y*gridDim.x + blockIdx.x (kPartFloats
	// floats each) and its flag.
	float *part;
	unsigned *flags;
};

// kPartFloats is the most accumulator floats a block of Hopper's variants
// holds (threads x floats a thread).
constexpr int kPartFloats = 32768;

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
	return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid) {
	int n = valid ? 16 : 0;  // 0 bytes read: the 16 destination bytes are zero-filled
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// tile_coords gives a tile (numbered along rows, then down, then by image)
// as its image and top-left output pixel.
__device__ __forceinline__ void tile_coords(int tile, int tiles_x, int tiles_y, int th, int tw, int &img, int &y0,
                                            int &x0) {
	int tx = tile % tiles_x, rest = tile / tiles_x, ty = rest % tiles_y;
	img = rest / tiles_y;
	y0 = ty * th;
	x0 = tx * tw;
}

// tile_origin gives tile k of this block, blockIdx.x + k*gridDim.x.
__device__ __forceinline__ void tile_origin(int k, int tiles_x, int tiles_y, int th, int tw, int &img, int &y0,
                                            int &x0) {
	tile_coords(blockIdx.x + k * gridDim.x, tiles_x, tiles_y, th, tw, img, y0, x0);
}

// input_at is where the 8 input channels from ch of output-grid pixel
// (iy, ix) lie, nearest 2x upsampling folded in (the source is (iy/2, ix/2)),
// img_base being the image's first pixel. ok is false outside the image,
// where the convolution reads zeros (a.in comes back, never read).
__device__ __forceinline__ const half *input_at(const ConvArgs &a, size_t img_base, int iy, int ix, int ch, bool &ok) {
	ok = iy >= 0 && iy < a.out_h && ix >= 0 && ix < a.out_w;
	if (!ok) return a.in;
	int sy = a.ups ? iy >> 1 : iy, sx = a.ups ? ix >> 1 : ix;
	return a.in + (img_base + (size_t)sy * a.in_w + sx) * a.in_cs + ch;
}

// load_halo copies input channels 32c .. 32c+31 of the (TH+2) x PW patch
// around the tile at (img, y0, x0), zeros outside the image: patch pixel
// prow's 16-byte group cg (8 channels) goes to shared-memory address
// dst(prow, cg), the kernel's layout.
template <int TH, int PW, int THREADS, typename Dst>
__device__ __forceinline__ void load_halo(const ConvArgs &a, int img, int y0, int x0, int c, Dst dst) {
	const size_t img_base = (size_t)img * a.in_h * a.in_w;
	for (int q = threadIdx.x; q < (TH + 2) * PW * 4; q += THREADS) {
		int prow = q >> 2, cg = q & 3;
		int py = prow / PW, px = prow - py * PW;
		bool ok;
		const half *src = input_at(a, img_base, y0 - 1 + py, x0 - 1 + px, (c << 5) + cg * 8, ok);
		cp_async16(dst(prow, cg), src, ok);
	}
}

// weight_at is where output channel co's weights of tap t for input
// channels 32c + 8cg .. +7 lie (OHWI, cin padded to cin_pad).
__device__ __forceinline__ const half *weight_at(const ConvArgs &a, int co, int t, int c, int cg) {
	return a.wgt + (size_t)co * a.ktot + t * a.cin_pad + (c << 5) + cg * 8;
}

__device__ __forceinline__ float epilogue_val(const ConvArgs &a, float v, int pix, int ch) {
	v += a.bias[ch];
	if (a.act == ACT_LRELU) v = v > 0.f ? v : 0.2f * v;
	else if (a.act == ACT_PRELU) v = v > 0.f ? v : a.slope[ch] * v;
	if (a.res1) v = v * a.s1 + __half2float(a.res1[(size_t)pix * a.res1_cs + ch]);
	if (a.res2) v = v * a.s2 + __half2float(a.res2[(size_t)pix * a.res2_cs + ch]);
	return v;
}

__device__ __forceinline__ void store_out(const ConvArgs &a, int pix, int ch, float v0, float v1) {
	if (pix >= a.npix) return;
	if (a.mode == OUT_NHWC) {
		if (ch + 1 < a.cout) {
			float x0 = epilogue_val(a, v0, pix, ch), x1 = epilogue_val(a, v1, pix, ch + 1);
			*reinterpret_cast<__half2 *>(a.out + (size_t)pix * a.out_cs + ch) = __floats2half2_rn(x0, x1);
		} else if (ch < a.cout) {
			a.out[(size_t)pix * a.out_cs + ch] = __float2half_rn(epilogue_val(a, v0, pix, ch));
		}
		return;
	}
	int ox = pix % a.out_w, t = pix / a.out_w, oy = t % a.out_h, img = t / a.out_h;
	for (int j = 0; j < 2; j++) {
		int c = ch + j;
		if (c >= a.cout) break;
		float v = epilogue_val(a, j ? v1 : v0, pix, c);
		if (a.mode == OUT_NCHW_F32) {
			a.fout[(((size_t)img * a.cout + c) * a.out_h + oy) * a.out_w + ox] = v;
		} else {  // pixel shuffle by r, plus the nearest-upsampled input
			int rr = a.r * a.r, oc = c / rr, i = (c % rr) / a.r, jj = c % a.r;
			int H = a.out_h * a.r, W = a.out_w * a.r;
			v += a.base[(((size_t)img * 3 + oc) * a.out_h + oy) * a.out_w + ox];
			a.fout[(((size_t)img * 3 + oc) * H + oy * a.r + i) * W + ox * a.r + jj] = v;
		}
	}
}

// The largest dynamic shared memory a block may ask for (sm_80 and sm_90).
constexpr int kMaxSmem = 227 * 1024;

}  // namespace conv

// Hopper's variants (conv_hopper.cu). hopper_variant says whether variant v
// is one of them; launch_hopper runs it (an error where it cannot run).
bool hopper_variant(int v);
int hopper_prepare();
int launch_hopper(int v, const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
