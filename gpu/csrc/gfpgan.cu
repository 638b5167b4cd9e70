// gfpgan.cu: the primitives GFPGAN runs on, driven step by step from Go
// (gpu/gfpgan.go): device memory, an fp32 implicit-GEMM convolution with
// GFPGAN's epilogues fused, the linear layers, weight modulation, bilinear
// resizing and element-wise sums. Tensors are float32 NCHW planes of one
// image; every operation is enqueued on the context's stream.
//
// fp32 throughout (no tensor cores): GFPGAN's decoder computes its weights
// per image, and fp32 keeps the output within ~1e-5 of PyTorch's.
#include "common.cuh"

namespace {

int launch_status(const char *what) {
	cudaError_t e = cudaGetLastError();
	return e ? cuda_status(e, what) : IEGPU_OK;
}

// The convolution is an implicit GEMM: M = output channels, N = pixels,
// K = k·k·in, tap-major (row t·in+i of the weights, laid out [K][out] by
// iegpu_modulate). A block computes BM×BN outputs, each thread TM×TN of
// them (BM 128 for layers of 128 outputs or more, else 64); BK rows of K
// are staged in shared memory per step, the next step's prefetched in
// registers. When in is a multiple of BK a step stays within one tap, so
// each thread finds its input pixel once per step (FAST).
constexpr int BN = 128, BK = 16, THREADS = 256;
constexpr int TN = 8;  // (BM/TM)·(BN/TN) = 16·16 = THREADS

struct Epi {
	const float *bias, *noise, *add, *scale, *shift;
	float gain, noise_weight;
	int lrelu, sft_c0;
};

// epilogue finishes output (o, p) of a plane of hw pixels from its sum acc:
// gain·acc + noise_weight·noise[p] + bias[o], leaky ReLU, + add, then the
// SFT on channels from sft_c0.
__device__ __forceinline__ float epilogue(const Epi &e, float acc, int o, int p, int hw) {
	float v = e.gain * acc;
	if (e.noise) v += e.noise_weight * e.noise[p];
	if (e.bias) v += e.bias[o];
	if (e.lrelu) v = v < 0.f ? 0.2f * v : v;
	if (e.add) v += e.add[(size_t)o * hw + p];
	if (e.scale && o >= e.sft_c0) {
		size_t i = (size_t)(o - e.sft_c0) * hw + p;
		v = v * e.scale[i] + e.shift[i];
	}
	return v;
}

// conv_kernel: blockIdx.x picks BN pixels, blockIdx.y BM output channels,
// blockIdx.z a range of K (split-K: raw sums go to work[z], and
// reduce_kernel applies the epilogue).
template <int KS, bool FAST, int BM>
__global__ void __launch_bounds__(THREADS) conv_kernel(const float *__restrict__ x, const float *__restrict__ wt,
                                                       int cin, int cout, int h, int w, int kper, Epi e,
                                                       float *__restrict__ y, float *__restrict__ work) {
	constexpr int PAD = KS / 2, TM = BM / 16;
	constexpr int AN = BK * BM / THREADS, AS = THREADS / BM;  // A loads per thread, their row step
	__shared__ __align__(16) float As[2][BK][BM];
	__shared__ __align__(16) float Bs[2][BK][BN];
	const int tid = threadIdx.x;
	const int hw = h * w, ktot = cin * KS * KS;
	const int p0 = blockIdx.x * BN, o0 = blockIdx.y * BM;
	const int kbeg = blockIdx.z * kper, kend = min(ktot, kbeg + kper);

	// This thread's loads: B column bp (one pixel), rows bk + 2j; A column
	// ao, rows ak + AS·j.
	const int bp = tid % BN, bk = tid / BN;
	const int ao = tid % BM, ak = tid / BM;
	const int pix = p0 + bp;
	const bool pin = pix < hw;
	const int py = pin ? pix / w : 0, px = pin ? pix % w : 0;
	const bool oin = o0 + ao < cout;

	float ra[AN], rb[BK / 2];
	auto load = [&](int k0) {
#pragma unroll
		for (int j = 0; j < AN; j++) {
			int k = k0 + ak + AS * j;
			ra[j] = (oin && k < kend) ? wt[(size_t)k * cout + o0 + ao] : 0.f;
		}
		if constexpr (FAST) {  // k0..k0+BK−1 are channels ci0.. of tap t, all below kend
			int t = k0 / cin, ci0 = k0 - t * cin;
			int yy = py + t / KS - PAD, xx = px + t % KS - PAD;
			bool ok = pin && yy >= 0 && yy < h && xx >= 0 && xx < w;
			const float *src = x + (size_t)(ci0 + bk) * hw + (ok ? yy * w + xx : 0);
#pragma unroll
			for (int j = 0; j < BK / 2; j++) rb[j] = ok ? src[(size_t)2 * j * hw] : 0.f;
		} else {
#pragma unroll
			for (int j = 0; j < BK / 2; j++) {
				int k = k0 + bk + 2 * j;
				float v = 0.f;
				if (pin && k < kend) {
					int t = k / cin, ci = k - t * cin;
					int yy = py + t / KS - PAD, xx = px + t % KS - PAD;
					if (yy >= 0 && yy < h && xx >= 0 && xx < w) v = x[(size_t)ci * hw + yy * w + xx];
				}
				rb[j] = v;
			}
		}
	};
	auto store = [&](int buf) {
#pragma unroll
		for (int j = 0; j < AN; j++) As[buf][ak + AS * j][ao] = ra[j];
#pragma unroll
		for (int j = 0; j < BK / 2; j++) Bs[buf][bk + 2 * j][bp] = rb[j];
	};

	// Outputs o0+to·TM+i, and pixels p0+tp·4+j and p0+64+tp·4+j.
	const int to = tid / 16, tp = tid % 16;
	float acc[TM][TN] = {};
	int buf = 0;
	load(kbeg);
	store(0);
	__syncthreads();
	for (int k0 = kbeg; k0 < kend; k0 += BK) {
		bool more = k0 + BK < kend;
		if (more) load(k0 + BK);
#pragma unroll
		for (int kk = 0; kk < BK; kk++) {
			float av[TM];
#pragma unroll
			for (int q = 0; q < TM / 4; q++) {
				float4 a = *reinterpret_cast<const float4 *>(&As[buf][kk][to * TM + 4 * q]);
				av[4 * q] = a.x, av[4 * q + 1] = a.y, av[4 * q + 2] = a.z, av[4 * q + 3] = a.w;
			}
			float4 b0 = *reinterpret_cast<const float4 *>(&Bs[buf][kk][tp * 4]);
			float4 b1 = *reinterpret_cast<const float4 *>(&Bs[buf][kk][64 + tp * 4]);
			float bv[TN] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
			for (int i = 0; i < TM; i++)
#pragma unroll
				for (int j = 0; j < TN; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
		}
		if (more) {
			store(buf ^ 1);
			__syncthreads();
			buf ^= 1;
		}
	}

	float *dst = work ? work + (size_t)blockIdx.z * cout * hw : y;
#pragma unroll
	for (int i = 0; i < TM; i++) {
		int o = o0 + to * TM + i;
		if (o >= cout) continue;
#pragma unroll
		for (int j = 0; j < TN; j++) {
			int p = p0 + (j < 4 ? tp * 4 + j : 64 + tp * 4 + j - 4);
			if (p >= hw) continue;
			dst[(size_t)o * hw + p] = work ? acc[i][j] : epilogue(e, acc[i][j], o, p, hw);
		}
	}
}

// reduce_kernel sums the split-K partials in order and applies the epilogue.
__global__ void reduce_kernel(const float *__restrict__ work, int splits, int cout, int hw, Epi e,
                              float *__restrict__ y) {
	size_t n = (size_t)cout * hw;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		float s = 0.f;
		for (int z = 0; z < splits; z++) s += work[z * n + i];
		y[i] = epilogue(e, s, (int)(i / hw), (int)(i % hw), hw);
	}
}

// conv_bm is the block's output channels for op.
int conv_bm(const iegpu_conv_op *op) { return op->out >= 128 ? 128 : 64; }

// conv_splits is the split-K factor: enough blocks to fill the GPU twice,
// each split keeping at least 16 steps of K.
int conv_splits(const iegpu_context *ctx, const iegpu_conv_op *op) {
	int hw = op->h * op->w;
	int bm = conv_bm(op);
	long blocks = (long)((hw + BN - 1) / BN) * ((op->out + bm - 1) / bm);
	int steps = (op->in * op->k * op->k + BK - 1) / BK;
	int sms = ctx->prop.multiProcessorCount > 0 ? ctx->prop.multiProcessorCount : 1;
	int s = 1;
	while (blocks * s < 2L * sms && steps / (2 * s) >= 16 && s < 32) s *= 2;
	return s;
}

// check_conv checks op's shape, and its pointers when ptrs.
int check_conv(const iegpu_context *ctx, const iegpu_conv_op *op, bool ptrs) {
	if (!ctx || !op) return set_error(IEGPU_ERR_INVALID, "conv2d: nil argument");
	bool bad_ptrs = !op->x || !op->weight || !op->y || ((op->sft_scale == nullptr) != (op->sft_shift == nullptr));
	if ((op->k != 1 && op->k != 3) || op->in <= 0 || op->out <= 0 || op->h <= 0 || op->w <= 0 || (ptrs && bad_ptrs))
		return set_error(IEGPU_ERR_INVALID, "conv2d: bad arguments (" + std::to_string(op->in) + "->" +
		                                        std::to_string(op->out) + ", k " + std::to_string(op->k) + ", " +
		                                        std::to_string(op->h) + "x" + std::to_string(op->w) + ")");
	return IEGPU_OK;
}

__global__ void linear_kernel(const float *__restrict__ wt, const float *__restrict__ b,
                              const float *__restrict__ x, int in, int out, float *__restrict__ y) {
	// One warp per output row.
	int o = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
	if (o >= out) return;
	const float *r = wt + (size_t)o * in;
	float s = 0.f;
	for (int i = lane; i < in; i += 32) s = fmaf(r[i], x[i], s);
	for (int d = 16; d > 0; d /= 2) s += __shfl_xor_sync(0xffffffffu, s, d);
	if (lane == 0) y[o] = s + (b ? b[o] : 0.f);
}

// demod_kernel: f[o] = gain / sqrt(Σ (W[o]·s)² + 1e-8), or gain; one block per o.
__global__ void demod_kernel(const float *__restrict__ w, const float *__restrict__ s, int in, int kk, int demod,
                             float gain, float *__restrict__ f) {
	int o = blockIdx.x;
	if (!demod) {
		if (threadIdx.x == 0) f[o] = gain;
		return;
	}
	const float *r = w + (size_t)o * in * kk;
	float sum = 0.f;
	for (int i = threadIdx.x; i < in * kk; i += blockDim.x) {
		float v = r[i] * (s ? s[i / kk] : 1.f);
		sum = fmaf(v, v, sum);
	}
	__shared__ float part[32];
	for (int d = 16; d > 0; d /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, d);
	if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = sum;
	__syncthreads();
	if (threadIdx.x < 32) {
		sum = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.f;
		for (int d = 16; d > 0; d /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, d);
		if (threadIdx.x == 0) f[o] = gain * rsqrtf(sum + 1e-8f);
	}
}

// modulate_kernel writes dst[t·in+i][o] = w[o][i·kk+t]·s[i]·f[o],
// transposing 32×32 tiles through shared memory so both sides are
// coalesced.
__global__ void modulate_kernel(const float *__restrict__ w, const float *__restrict__ s,
                                const float *__restrict__ f, int in, int out, int kk, float *__restrict__ dst) {
	__shared__ float t[32][33];
	int K = in * kk;
	int k0 = blockIdx.x * 32, o0 = blockIdx.y * 32;
	for (int r = threadIdx.y; r < 32; r += blockDim.y) {
		int o = o0 + r, k = k0 + threadIdx.x;
		if (o < out && k < K) t[r][threadIdx.x] = w[(size_t)o * K + k] * (s ? s[k / kk] : 1.f) * f[o];
	}
	__syncthreads();
	for (int r = threadIdx.y; r < 32; r += blockDim.y) {
		int k = k0 + r, o = o0 + threadIdx.x;
		if (o < out && k < K) dst[((size_t)(k % kk) * in + k / kk) * out + o] = t[threadIdx.x][r];
	}
}

// up2_kernel is F.interpolate(scale 2, bilinear, align_corners=False) of c
// planes of h×w: the source coordinate (d+0.5)/2−0.5, clamped at 0, its
// neighbour clamped at the edge.
__global__ void up2_kernel(const float *__restrict__ x, int c, int h, int w, float *__restrict__ y) {
	size_t n = (size_t)c * 4 * h * w;
	int W = 2 * w, H = 2 * h;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		int X = (int)(i % W), Y = (int)(i / W % H);
		size_t ch = i / ((size_t)W * H);
		float sy = fmaxf((Y + 0.5f) / 2 - 0.5f, 0.f), sx = fmaxf((X + 0.5f) / 2 - 0.5f, 0.f);
		int y0 = (int)sy, x0 = (int)sx;
		int y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
		float ly = sy - y0, lx = sx - x0;
		const float *p = x + ch * h * w;
		float a = p[y0 * w + x0], b = p[y0 * w + x1], e = p[y1 * w + x0], f = p[y1 * w + x1];
		y[i] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * e + lx * f);
	}
}

// down2_kernel is the mean of each 2×2 cell (bilinear, scale ½).
__global__ void down2_kernel(const float *__restrict__ x, int c, int h, int w, float *__restrict__ y) {
	int oh = h / 2, ow = w / 2;
	size_t n = (size_t)c * oh * ow;
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		int X = (int)(i % ow), Y = (int)(i / ow % oh);
		size_t ch = i / ((size_t)ow * oh);
		const float *p = x + ch * h * w + (size_t)(2 * Y) * w + 2 * X;
		y[i] = (p[0] + p[1] + p[w] + p[w + 1]) / 4;
	}
}

__global__ void add_kernel(const float *__restrict__ a, const float *__restrict__ b, size_t n, float *__restrict__ y) {
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		y[i] = a[i] + b[i];
}

__global__ void affine_kernel(const float *__restrict__ x, size_t n, float a, float b, float *__restrict__ y) {
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		y[i] = a * x[i] + b;
}

// grid1 is a grid-stride launch size for n elements.
unsigned grid1(size_t n) {
	size_t b = (n + 255) / 256;
	return (unsigned)(b < 65535 * 4 ? (b ? b : 1) : 65535 * 4);
}

}  // namespace

extern "C" int iegpu_malloc(iegpu_context *ctx, size_t bytes, void **out) {
	if (!ctx || !out) return set_error(IEGPU_ERR_INVALID, "malloc: nil argument");
	*out = nullptr;
	CU(cudaSetDevice(ctx->device));
	cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
	if (e) {
		cudaGetLastError();  // an allocation failure is not sticky; clear it
		*out = nullptr;
		return cuda_status(e, "cudaMalloc");
	}
	return IEGPU_OK;
}

extern "C" int iegpu_free(iegpu_context *ctx, void *p) {
	if (!ctx) return set_error(IEGPU_ERR_INVALID, "free: nil context");
	if (!p) return IEGPU_OK;
	CU(cudaSetDevice(ctx->device));
	CU(cudaFree(p));
	return IEGPU_OK;
}

extern "C" int iegpu_upload(iegpu_context *ctx, void *dst, const void *src, size_t bytes) {
	if (!ctx || (bytes && (!dst || !src))) return set_error(IEGPU_ERR_INVALID, "upload: nil argument");
	if (!bytes) return IEGPU_OK;
	CU(cudaSetDevice(ctx->device));
	CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
	CU(cudaStreamSynchronize(ctx->stream));
	return IEGPU_OK;
}

extern "C" int iegpu_download(iegpu_context *ctx, void *dst, const void *src, size_t bytes) {
	if (!ctx || (bytes && (!dst || !src))) return set_error(IEGPU_ERR_INVALID, "download: nil argument");
	if (!bytes) return IEGPU_OK;
	CU(cudaSetDevice(ctx->device));
	CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
	CU(cudaStreamSynchronize(ctx->stream));
	return IEGPU_OK;
}

extern "C" int iegpu_sync(iegpu_context *ctx) {
	if (!ctx) return set_error(IEGPU_ERR_INVALID, "sync: nil context");
	CU(cudaStreamSynchronize(ctx->stream));
	return IEGPU_OK;
}

extern "C" int iegpu_conv2d_workspace(iegpu_context *ctx, const iegpu_conv_op *op, size_t *bytes) {
	if (!bytes) return set_error(IEGPU_ERR_INVALID, "conv2d_workspace: nil bytes");
	*bytes = 0;
	if (int st = check_conv(ctx, op, false)) return st;
	int s = conv_splits(ctx, op);
	if (s > 1) *bytes = (size_t)s * op->out * op->h * op->w * sizeof(float);
	return IEGPU_OK;
}

extern "C" int iegpu_conv2d(iegpu_context *ctx, const iegpu_conv_op *op) {
	if (int st = check_conv(ctx, op, true)) return st;
	int hw = op->h * op->w, ktot = op->in * op->k * op->k;
	int s = conv_splits(ctx, op);
	if (s > 1 && (!op->work || op->work_bytes < (size_t)s * op->out * hw * sizeof(float))) s = 1;
	int kper = ((ktot + s - 1) / s + BK - 1) / BK * BK;
	s = (ktot + kper - 1) / kper;
	Epi e{op->bias, op->noise, op->add, op->sft_scale, op->sft_shift, op->gain, op->noise_weight, op->lrelu,
	      op->sft_c0};
	int bm = conv_bm(op);
	dim3 grid((hw + BN - 1) / BN, (op->out + bm - 1) / bm, s);
	float *work = s > 1 ? op->work : nullptr;
	bool fast = op->in % BK == 0;
	decltype(&conv_kernel<3, true, 64>) kernel;
	if (bm == 128)
		kernel = op->k == 3 ? (fast ? conv_kernel<3, true, 128> : conv_kernel<3, false, 128>)
		                    : (fast ? conv_kernel<1, true, 128> : conv_kernel<1, false, 128>);
	else
		kernel = op->k == 3 ? (fast ? conv_kernel<3, true, 64> : conv_kernel<3, false, 64>)
		                    : (fast ? conv_kernel<1, true, 64> : conv_kernel<1, false, 64>);
	kernel<<<grid, THREADS, 0, ctx->stream>>>(op->x, op->weight, op->in, op->out, op->h, op->w, kper, e, op->y, work);
	if (s > 1) reduce_kernel<<<grid1((size_t)op->out * hw), 256, 0, ctx->stream>>>(work, s, op->out, hw, e, op->y);
	return launch_status("conv2d");
}

extern "C" int iegpu_linear(iegpu_context *ctx, const float *w, const float *b, const float *x, int in, int out,
                            float *y) {
	if (!ctx || !w || !x || !y || in <= 0 || out <= 0) return set_error(IEGPU_ERR_INVALID, "linear: bad arguments");
	linear_kernel<<<(out + 7) / 8, 256, 0, ctx->stream>>>(w, b, x, in, out, y);
	return launch_status("linear");
}

extern "C" int iegpu_modulate(iegpu_context *ctx, const float *w, int out, int in, int kk, const float *s, int demod,
                              float gain, float *factors, float *dst) {
	if (!ctx || !w || !factors || !dst || out <= 0 || in <= 0 || kk <= 0)
		return set_error(IEGPU_ERR_INVALID, "modulate: bad arguments");
	demod_kernel<<<out, 256, 0, ctx->stream>>>(w, s, in, kk, demod, gain, factors);
	dim3 grid((in * kk + 31) / 32, (out + 31) / 32);
	modulate_kernel<<<grid, dim3(32, 8), 0, ctx->stream>>>(w, s, factors, in, out, kk, dst);
	return launch_status("modulate");
}

extern "C" int iegpu_up2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y) {
	if (!ctx || !x || !y || c <= 0 || h <= 0 || w <= 0) return set_error(IEGPU_ERR_INVALID, "up2: bad arguments");
	up2_kernel<<<grid1((size_t)c * 4 * h * w), 256, 0, ctx->stream>>>(x, c, h, w, y);
	return launch_status("up2");
}

extern "C" int iegpu_down2(iegpu_context *ctx, const float *x, int c, int h, int w, float *y) {
	if (!ctx || !x || !y || c <= 0 || h < 2 || w < 2 || h % 2 || w % 2)
		return set_error(IEGPU_ERR_INVALID, "down2: bad arguments");
	down2_kernel<<<grid1((size_t)c * h * w / 4), 256, 0, ctx->stream>>>(x, c, h, w, y);
	return launch_status("down2");
}

extern "C" int iegpu_add(iegpu_context *ctx, const float *a, const float *b, size_t n, float *y) {
	if (!ctx || !a || !b || !y) return set_error(IEGPU_ERR_INVALID, "add: nil argument");
	if (!n) return IEGPU_OK;
	add_kernel<<<grid1(n), 256, 0, ctx->stream>>>(a, b, n, y);
	return launch_status("add");
}

extern "C" int iegpu_affine(iegpu_context *ctx, const float *x, size_t n, float a, float b, float *y) {
	if (!ctx || !x || !y) return set_error(IEGPU_ERR_INVALID, "affine: nil argument");
	if (!n) return IEGPU_OK;
	affine_kernel<<<grid1(n), 256, 0, ctx->stream>>>(x, n, a, b, y);
	return launch_status("affine");
}
