// conv.cu: the 3x3 convolution, an implicit GEMM on tensor cores
// (mma.sync m16n8k16, fp16 operands, fp32 accumulators) with its epilogue
// fused: bias, leaky ReLU or PReLU, up to two scaled residuals, and the
// output written straight into a channel slice of an NHWC buffer (the dense
// blocks' concatenation) or, for the last layer, as float32 NCHW with the
// pixel shuffle and the nearest-upsampled input folded in.
//
// GEMM view: M = output pixels (n*H*W), N = output channels, K = 9 taps x
// Cin. A K step is 32 input channels of one tap; nearest 2x upsampling of
// the input is folded into the A loads (source pixel = (y>>1, x>>1)).
#include "conv.cuh"

using namespace conv;

namespace {

__device__ __forceinline__ void ldmatrix_x4(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3, uint32_t addr) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
	             : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
	             : "r"(addr));
}

__device__ __forceinline__ void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
	asm volatile(
	    "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
	    "{%0,%1,%2,%3};\n"
	    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
	    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A row of a stage is 32 halves = four 16-byte chunks; chunks are XOR-swizzled
// so that ldmatrix's eight rows fall in distinct banks.
__device__ __forceinline__ int swz(int row, int chunk) { return row * 32 + ((chunk ^ ((row >> 1) & 3)) << 3); }

template <int BM, int BN, int WM, int WN, int STAGES>
__global__ void __launch_bounds__(WM *WN * 32) conv3x3_kernel(const ConvArgs a) {
	constexpr int THREADS = WM * WN * 32;
	constexpr int TM = BM / WM, TN = BN / WN;  // warp tile
	constexpr int MT = TM / 16, NT = TN / 8;
	constexpr int A_CHUNKS = BM * 4 / THREADS;
	constexpr int B_CHUNKS = (BN * 4 + THREADS - 1) / THREADS;
	static_assert(NT % 2 == 0, "B fragments load in pairs");
	static_assert(BM * 4 % THREADS == 0, "A chunks split evenly");

	extern __shared__ __align__(128) half smem[];
	half *sA = smem;                       // STAGES x BM x 32
	half *sB = smem + STAGES * BM * 32;    // STAGES x BN x 32

	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int wm = warp % WM, wn = warp / WM;
	const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
	const int cchunks = a.cin_pad >> 5;
	const int numK = 9 * cchunks;

	// The pixels this thread loads for A, decoded once.
	int a_oy[A_CHUNKS], a_ox[A_CHUNKS], a_base[A_CHUNKS];
	#pragma unroll
	for (int i = 0; i < A_CHUNKS; i++) {
		int q = tid + i * THREADS, row = q >> 2, pix = m0 + row;
		if (pix < a.npix) {
			int ox = pix % a.out_w, t = pix / a.out_w, oy = t % a.out_h, img = t / a.out_h;
			a_oy[i] = oy; a_ox[i] = ox; a_base[i] = img * a.in_h * a.in_w;
		} else {
			a_oy[i] = -100000; a_ox[i] = 0; a_base[i] = 0;
		}
	}

	auto load_stage = [&](int stage, int kk) {
		int tap = kk / cchunks, c0 = (kk - tap * cchunks) << 5;
		int dy = tap / 3 - 1, dx = tap % 3 - 1;
		half *dA = sA + stage * BM * 32;
		#pragma unroll
		for (int i = 0; i < A_CHUNKS; i++) {
			int q = tid + i * THREADS, row = q >> 2, ch = q & 3;
			bool ok;
			const half *src = input_at(a, a_base[i], a_oy[i] + dy, a_ox[i] + dx, c0 + ch * 8, ok);
			cp_async16(smem_addr(dA + swz(row, ch)), src, ok);
		}
		half *dB = sB + stage * BN * 32;
		#pragma unroll
		for (int i = 0; i < B_CHUNKS; i++) {
			int q = tid + i * THREADS;
			if (q < BN * 4) {
				int row = q >> 2, ch = q & 3;
				const half *src = a.wgt + (size_t)(n0 + row) * a.ktot + (kk << 5) + ch * 8;
				cp_async16(smem_addr(dB + swz(row, ch)), src, true);
			}
		}
	};

	float acc[MT][NT][4];
	#pragma unroll
	for (int i = 0; i < MT; i++)
		#pragma unroll
		for (int j = 0; j < NT; j++)
			#pragma unroll
			for (int k = 0; k < 4; k++) acc[i][j][k] = 0.f;

	#pragma unroll
	for (int s = 0; s < STAGES - 1; s++) {
		if (s < numK) load_stage(s, s);
		cp_commit();
	}

	for (int kk = 0; kk < numK; kk++) {
		cp_wait<STAGES - 2>();
		__syncthreads();
		int nk = kk + STAGES - 1;
		if (nk < numK) load_stage(nk % STAGES, nk);
		cp_commit();

		const half *tA = sA + (kk % STAGES) * BM * 32;
		const half *tB = sB + (kk % STAGES) * BN * 32;
		// Both k16 halves' fragments first, then the mma: the second half's
		// ldmatrix latency hides behind the first half's tensor-core work.
		uint32_t af[2][MT][4], bf[2][NT][2];
		const int mi = lane >> 3, r8 = lane & 7;
		#pragma unroll
		for (int ks = 0; ks < 2; ks++) {
			#pragma unroll
			for (int mt = 0; mt < MT; mt++) {
				int row = wm * TM + mt * 16 + (mi & 1) * 8 + r8;
				int chunk = ks * 2 + (mi >> 1);
				ldmatrix_x4(af[ks][mt][0], af[ks][mt][1], af[ks][mt][2], af[ks][mt][3], smem_addr(tA + swz(row, chunk)));
			}
			#pragma unroll
			for (int nt = 0; nt < NT; nt += 2) {
				int row = wn * TN + nt * 8 + (mi >> 1) * 8 + r8;
				int chunk = ks * 2 + (mi & 1);
				ldmatrix_x4(bf[ks][nt][0], bf[ks][nt][1], bf[ks][nt + 1][0], bf[ks][nt + 1][1],
				            smem_addr(tB + swz(row, chunk)));
			}
		}
		#pragma unroll
		for (int ks = 0; ks < 2; ks++)
			#pragma unroll
			for (int mt = 0; mt < MT; mt++)
				#pragma unroll
				for (int nt = 0; nt < NT; nt++) mma16816(acc[mt][nt], af[ks][mt], bf[ks][nt][0], bf[ks][nt][1]);
	}
	cp_wait<0>();

	const int g = lane >> 2, t4 = lane & 3;
	#pragma unroll
	for (int mt = 0; mt < MT; mt++)
		#pragma unroll
		for (int nt = 0; nt < NT; nt++) {
			int row = m0 + wm * TM + mt * 16 + g;
			int ch = n0 + wn * TN + nt * 8 + t4 * 2;
			store_out(a, row, ch, acc[mt][nt][0], acc[mt][nt][1]);
			store_out(a, row + 8, ch, acc[mt][nt][2], acc[mt][nt][3]);
		}
}

// tap_frags loads the A and B fragments of one of a chunk's 18 K steps (nine
// taps x two k16 halves): A rows are the patch rows shifted by the tap.
template <int MT, int NT, int PW, int BN, int TN>
__device__ __forceinline__ void tap_frags(const half *tA, const half *tB, const int (&prow0)[MT], int wn, int mi,
                                          int r8, int step, uint32_t (&af)[MT][4], uint32_t (&bf)[NT][2]) {
	const int t = step >> 1, ks = step & 1;
	const int off = (t / 3 - 1) * PW + (t % 3 - 1);
	#pragma unroll
	for (int mt = 0; mt < MT; mt++)
		ldmatrix_x4(af[mt][0], af[mt][1], af[mt][2], af[mt][3],
		            smem_addr(tA + swz(prow0[mt] + off, ks * 2 + (mi >> 1))));
	#pragma unroll
	for (int nt = 0; nt < NT; nt += 2) {
		int row = t * BN + wn * TN + nt * 8 + (mi >> 1) * 8 + r8;
		ldmatrix_x4(bf[nt][0], bf[nt][1], bf[nt + 1][0], bf[nt + 1][1], smem_addr(tB + swz(row, ks * 2 + (mi & 1))));
	}
}

// tap_steps runs a chunk's 18 K steps with the fragments double-buffered in
// registers: step s+1's ldmatrix is issued before step s's mma, so the
// shared-memory latency hides behind the tensor cores.
template <int MT, int NT, int PW, int BN, int TN, bool ROLL>
__device__ __forceinline__ void tap_steps(const half *tA, const half *tB, const int (&prow0)[MT], int wn, int mi,
                                          int r8, float (&acc)[MT][NT][4]) {
	uint32_t af[2][MT][4], bf[2][NT][2];
	tap_frags<MT, NT, PW, BN, TN>(tA, tB, prow0, wn, mi, r8, 0, af[0], bf[0]);
	if constexpr (ROLL) {
		// The tap loop rolled: smaller code (ncu showed instruction-fetch
		// stalls with it unrolled), one taken branch per tap.
		#pragma unroll 1
		for (int t = 0; t < 9; t++) {
			tap_frags<MT, NT, PW, BN, TN>(tA, tB, prow0, wn, mi, r8, 2 * t + 1, af[1], bf[1]);
			#pragma unroll
			for (int mt = 0; mt < MT; mt++)
				#pragma unroll
				for (int nt = 0; nt < NT; nt++) mma16816(acc[mt][nt], af[0][mt], bf[0][nt][0], bf[0][nt][1]);
			if (t < 8) tap_frags<MT, NT, PW, BN, TN>(tA, tB, prow0, wn, mi, r8, 2 * t + 2, af[0], bf[0]);
			#pragma unroll
			for (int mt = 0; mt < MT; mt++)
				#pragma unroll
				for (int nt = 0; nt < NT; nt++) mma16816(acc[mt][nt], af[1][mt], bf[1][nt][0], bf[1][nt][1]);
		}
	} else {
		#pragma unroll
		for (int step = 0; step < 18; step++) {
			if (step + 1 < 18)
				tap_frags<MT, NT, PW, BN, TN>(tA, tB, prow0, wn, mi, r8, step + 1, af[(step + 1) & 1], bf[(step + 1) & 1]);
			#pragma unroll
			for (int mt = 0; mt < MT; mt++)
				#pragma unroll
				for (int nt = 0; nt < NT; nt++)
					mma16816(acc[mt][nt], af[step & 1][mt], bf[step & 1][nt][0], bf[step & 1][nt][1]);
		}
	}
}

// conv3x3_tile_kernel computes a TH x TW patch of output pixels of one image
// for BN output channels. Per 32-channel chunk it loads the (TH+2) x (TW+2)
// input halo once and all nine taps' weights, then runs the nine taps from
// shared memory: ldmatrix takes one row address per lane, so tap (dy, dx) is
// just a shifted gather of patch rows. Global (L2) reads of the input drop
// from 9x to ~1.4x of the GEMM form above, which was L2-bound on the dense
// blocks' 32-channel layers.
template <int TH, int TW, int BN, int WM, int WN, bool ROLL>
__global__ void __launch_bounds__(WM *WN * 32) conv3x3_tile_kernel(const ConvArgs a) {
	constexpr int THREADS = WM * WN * 32, BM = TH * TW;
	constexpr int TM = BM / WM, TN = BN / WN, MT = TM / 16, NT = TN / 8;
	constexpr int PW = TW + 2, P = (TH + 2) * PW;
	constexpr int A_ELEMS = P * 32, STAGE = A_ELEMS + 9 * BN * 32;
	static_assert(NT % 2 == 0 && TW % 8 == 0, "fragment shapes");

	extern __shared__ __align__(128) half smem[];
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int wm = warp % WM, wn = warp / WM;
	const int tiles_x = (a.out_w + TW - 1) / TW, tiles_y = (a.out_h + TH - 1) / TH;
	int img, y0, x0;
	tile_origin(0, tiles_x, tiles_y, TH, TW, img, y0, x0);
	const int n0 = blockIdx.y * BN;
	const int nchunks = a.cin_pad >> 5;

	auto load = [&](int stage, int c) {
		half *dA = smem + stage * STAGE, *dB = dA + A_ELEMS;
		load_halo<TH, PW, THREADS>(a, img, y0, x0, c, [&](int prow, int ch) { return smem_addr(dA + swz(prow, ch)); });
		for (int q = tid; q < 9 * BN * 4; q += THREADS) {
			int row = q >> 2, ch = q & 3;
			int t = row / BN, co = row - t * BN;
			cp_async16(smem_addr(dB + swz(row, ch)), weight_at(a, n0 + co, t, c, ch), true);
		}
	};

	float acc[MT][NT][4];
	#pragma unroll
	for (int i = 0; i < MT; i++)
		#pragma unroll
		for (int j = 0; j < NT; j++)
			#pragma unroll
			for (int k = 0; k < 4; k++) acc[i][j][k] = 0.f;

	const int mi = lane >> 3, r8 = lane & 7;
	int prow0[MT];  // this lane's ldmatrix row, at the centre tap
	#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		int m = wm * TM + mt * 16 + (mi & 1) * 8 + r8;
		prow0[mt] = (m / TW + 1) * PW + (m % TW) + 1;
	}

	load(0, 0);
	cp_commit();
	for (int c = 0; c < nchunks; c++) {
		if (c + 1 < nchunks) load((c + 1) & 1, c + 1);
		cp_commit();
		cp_wait<1>();
		__syncthreads();
		const half *tA = smem + (c & 1) * STAGE, *tB = tA + A_ELEMS;
		tap_steps<MT, NT, PW, BN, TN, ROLL>(tA, tB, prow0, wn, mi, r8, acc);
		__syncthreads();
	}

	const int g = lane >> 2, t4 = lane & 3;
	#pragma unroll
	for (int mt = 0; mt < MT; mt++)
		#pragma unroll
		for (int h8 = 0; h8 < 2; h8++) {
			int m = wm * TM + mt * 16 + g + h8 * 8;
			int oy = y0 + m / TW, ox = x0 + m % TW;
			if (oy >= a.out_h || ox >= a.out_w) continue;
			int pix = (img * a.out_h + oy) * a.out_w + ox;
			#pragma unroll
			for (int nt = 0; nt < NT; nt++) {
				int ch = n0 + wn * TN + nt * 8 + t4 * 2;
				store_out(a, pix, ch, acc[mt][nt][h8 * 2], acc[mt][nt][h8 * 2 + 1]);
			}
		}
}

template <int TH, int TW, int BN, int WM, int WN>
constexpr size_t tile_smem() {
	return 2 * ((size_t)(TH + 2) * (TW + 2) * 32 + 9 * BN * 32) * sizeof(half);
}

template <int TH, int TW, int BN, int WM, int WN, bool ROLL = false>
int launch_tile(const ConvArgs &a, int cout_pad, int n, cudaStream_t s) {
	constexpr size_t SMEM = tile_smem<TH, TW, BN, WM, WN>();
	int tiles = ((a.out_w + TW - 1) / TW) * ((a.out_h + TH - 1) / TH) * n;
	conv3x3_tile_kernel<TH, TW, BN, WM, WN, ROLL><<<dim3(tiles, cout_pad / BN), WM * WN * 32, SMEM, s>>>(a);
	CU(cudaGetLastError());
	return IEGPU_OK;
}

template <int TH, int TW, int BN, int WM, int WN, bool ROLL = false>
int prepare_tile() {
	CU(cudaFuncSetAttribute(conv3x3_tile_kernel<TH, TW, BN, WM, WN, ROLL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
	                        (int)tile_smem<TH, TW, BN, WM, WN>()));
	return IEGPU_OK;
}

// conv3x3_persist_kernel is the halo-tiled convolution as a persistent
// kernel: each block loads its BN output channels' weights (all taps, all
// input channels) into shared memory once, then walks pixel tiles
// blockIdx.x, +gridDim.x, ... with the input halos streamed through an
// S-deep ring of cp.async stages. Weights then cross L2 once per block
// instead of once per tile, and no block pays a pipeline prologue per tile.
template <int TH, int TW, int BN, int WM, int WN, int S, bool ROLL>
__global__ void __launch_bounds__(WM *WN * 32, 1) conv3x3_persist_kernel(const ConvArgs a, int ntiles) {
	constexpr int THREADS = WM * WN * 32, BM = TH * TW;
	constexpr int TM = BM / WM, TN = BN / WN, MT = TM / 16, NT = TN / 8;
	constexpr int PW = TW + 2, P = (TH + 2) * PW;
	static_assert(NT % 2 == 0 && TW % 8 == 0, "fragment shapes");

	extern __shared__ __align__(128) half smem[];
	const int nchunks = a.cin_pad >> 5;
	half *sW = smem, *sP = smem + nchunks * 9 * BN * 32;
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int wm = warp % WM, wn = warp / WM;
	const int tiles_x = (a.out_w + TW - 1) / TW, tiles_y = (a.out_h + TH - 1) / TH;
	const int n0 = blockIdx.y * BN;
	const int my_tiles = (ntiles - (int)blockIdx.x + (int)gridDim.x - 1) / (int)gridDim.x;
	const int items = my_tiles * nchunks;

	for (int q = tid; q < nchunks * 9 * BN * 4; q += THREADS) {
		int row = q >> 2, ch = q & 3;
		int c = row / (9 * BN), rem = row - c * 9 * BN, t = rem / BN, co = rem - t * BN;
		cp_async16(smem_addr(sW + swz(row, ch)), weight_at(a, n0 + co, t, c, ch), true);
	}

	auto load_patch = [&](int stage, int j) {
		int k = j / nchunks, c = j - k * nchunks, img, y0, x0;
		tile_origin(k, tiles_x, tiles_y, TH, TW, img, y0, x0);
		half *dA = sP + stage * P * 32;
		load_halo<TH, PW, THREADS>(a, img, y0, x0, c, [&](int prow, int ch) { return smem_addr(dA + swz(prow, ch)); });
	};

	#pragma unroll
	for (int s = 0; s < S - 1; s++) {
		if (s < items) load_patch(s, s);
		cp_commit();
	}

	float acc[MT][NT][4];
	#pragma unroll
	for (int i = 0; i < MT; i++)
		#pragma unroll
		for (int j = 0; j < NT; j++)
			#pragma unroll
			for (int k = 0; k < 4; k++) acc[i][j][k] = 0.f;

	const int mi = lane >> 3, r8 = lane & 7;
	int prow0[MT];
	#pragma unroll
	for (int mt = 0; mt < MT; mt++) {
		int m = wm * TM + mt * 16 + (mi & 1) * 8 + r8;
		prow0[mt] = (m / TW + 1) * PW + (m % TW) + 1;
	}

	for (int j = 0; j < items; j++) {
		cp_wait<S - 2>();
		__syncthreads();
		if (j + S - 1 < items) load_patch((j + S - 1) % S, j + S - 1);
		cp_commit();
		const int k = j / nchunks, c = j - k * nchunks;
		const half *tA = sP + (j % S) * P * 32, *tB = sW + c * 9 * BN * 32;
		tap_steps<MT, NT, PW, BN, TN, ROLL>(tA, tB, prow0, wn, mi, r8, acc);
		if (c == nchunks - 1) {
			int img, y0, x0;
			tile_origin(k, tiles_x, tiles_y, TH, TW, img, y0, x0);
			const int g = lane >> 2, t4 = lane & 3;
			#pragma unroll
			for (int mt = 0; mt < MT; mt++)
				#pragma unroll
				for (int h8 = 0; h8 < 2; h8++) {
					int m = wm * TM + mt * 16 + g + h8 * 8;
					int oy = y0 + m / TW, ox = x0 + m % TW;
					if (oy < a.out_h && ox < a.out_w) {
						int pix = (img * a.out_h + oy) * a.out_w + ox;
						#pragma unroll
						for (int nt = 0; nt < NT; nt++) {
							int ch = n0 + wn * TN + nt * 8 + t4 * 2;
							store_out(a, pix, ch, acc[mt][nt][h8 * 2], acc[mt][nt][h8 * 2 + 1]);
						}
					}
				}
			#pragma unroll
			for (int i = 0; i < MT; i++)
				#pragma unroll
				for (int jj = 0; jj < NT; jj++)
					#pragma unroll
					for (int kk = 0; kk < 4; kk++) acc[i][jj][kk] = 0.f;
		}
	}
	cp_wait<0>();
}

template <int TH, int TW, int BN, int WM, int WN, int S>
size_t persist_smem(int cin_pad) {
	return ((size_t)9 * BN * cin_pad + (size_t)S * (TH + 2) * (TW + 2) * 32) * sizeof(half);
}

template <int TH, int TW, int BN, int WM, int WN, int S, bool ROLL = false>
int launch_persist(const ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s) {
	size_t smem = persist_smem<TH, TW, BN, WM, WN, S>(a.cin_pad);
	int ntiles = ((a.out_w + TW - 1) / TW) * ((a.out_h + TH - 1) / TH) * n;
	auto k = conv3x3_persist_kernel<TH, TW, BN, WM, WN, S, ROLL>;
	int per_sm = 0;
	CU(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, WM * WN * 32, smem));
	if (per_sm < 1) return set_error(IEGPU_ERR_INVALID, "persistent kernel does not fit");
	int nsplit = cout_pad / BN;
	int grid = (sms * per_sm + nsplit - 1) / nsplit;
	if (grid > ntiles) grid = ntiles;
	k<<<dim3(grid, nsplit), WM * WN * 32, smem, s>>>(a, ntiles);
	CU(cudaGetLastError());
	return IEGPU_OK;
}

template <int TH, int TW, int BN, int WM, int WN, int S, bool ROLL = false>
int prepare_persist(int lim) {
	CU(cudaFuncSetAttribute(conv3x3_persist_kernel<TH, TW, BN, WM, WN, S, ROLL>,
	                        cudaFuncAttributeMaxDynamicSharedMemorySize, lim));
	return IEGPU_OK;
}

template <int BM, int BN, int WM, int WN, int STAGES>
int launch(const ConvArgs &a, int cout_pad, cudaStream_t s) {
	constexpr int THREADS = WM * WN * 32;
	constexpr size_t SMEM = (size_t)STAGES * (BM + BN) * 32 * sizeof(half);
	auto k = conv3x3_kernel<BM, BN, WM, WN, STAGES>;
	dim3 grid((a.npix + BM - 1) / BM, cout_pad / BN);
	k<<<grid, THREADS, SMEM, s>>>(a);
	CU(cudaGetLastError());
	return IEGPU_OK;
}

template <int BM, int BN, int WM, int WN, int STAGES>
int prepare() {
	constexpr size_t SMEM = (size_t)STAGES * (BM + BN) * 32 * sizeof(half);
	CU(cudaFuncSetAttribute(conv3x3_kernel<BM, BN, WM, WN, STAGES>,
	                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)SMEM));
	return IEGPU_OK;
}

}  // namespace

// conv_prepare raises the shared-memory limit of every variant on the
// current device; engines call it once when they are built.
int conv_prepare() {
	int dev = 0, major = 0, optin = 0;
	CU(cudaGetDevice(&dev));
	CU(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
	CU(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
	const int lim = optin < kMaxSmem ? optin : kMaxSmem;
	int st;
	if ((st = prepare<128, 64, 2, 2, 4>()) || (st = prepare<128, 32, 4, 1, 4>()) ||
	    (st = prepare<64, 64, 2, 2, 4>()) || (st = prepare<64, 32, 2, 2, 4>()) ||
	    (st = prepare<256, 64, 4, 2, 3>()) || (st = prepare<256, 32, 8, 1, 3>()) ||
	    (st = prepare_tile<8, 16, 64, 2, 2>()) || (st = prepare_tile<8, 16, 32, 4, 1>()) ||
	    (st = prepare_tile<16, 16, 64, 4, 2>()) || (st = prepare_tile<16, 16, 32, 8, 1>()) ||
	    (st = prepare_persist<16, 16, 64, 4, 2, 3>(lim)) || (st = prepare_persist<16, 16, 32, 8, 1, 3>(lim)) ||
	    (st = prepare_persist<8, 16, 64, 2, 2, 4>(lim)) || (st = prepare_persist<8, 16, 32, 4, 1, 4>(lim)) ||
	    (st = prepare_tile<16, 16, 64, 4, 2, true>()) || (st = prepare_tile<16, 16, 32, 8, 1, true>()) ||
	    (st = prepare_persist<16, 16, 64, 4, 2, 3, true>(lim)) || (st = prepare_persist<16, 16, 32, 8, 1, 3, true>(lim)) ||
	    (st = prepare_persist<8, 16, 64, 2, 2, 4, true>(lim)) || (st = prepare_persist<8, 16, 32, 4, 1, 4, true>(lim)) ||
	    (st = prepare<128, 64, 4, 2, 4>()) || (st = prepare<128, 32, 8, 1, 4>()) ||
	    (st = prepare<64, 64, 2, 4, 4>()) || (st = prepare<64, 32, 4, 2, 4>()))
		return st;
	return major == 9 ? hopper_prepare() : IEGPU_OK;
}

// conv_variants is how many kernel shapes tuning can choose between.
// 0 and 1 are the halo-tiled kernel on 8x16 and 16x16 pixels; 2 to 4 the
// plain implicit GEMM on 128, 64 and 256 pixels; 5 and 6 the persistent
// halo-tiled kernel on 16x16 and 8x16 pixels (where the weights fit).
// 8 to 10 are 1, 5 and 6 with the tap loop rolled (smaller code); 11 and 12
// the implicit GEMM on 128 and 64 pixels with eight warps (more warps hid
// latency better than larger warp tiles, as measured on 1 vs 8).
// 7 and 13 to 20 are Hopper's wgmma kernels (conv_hopper.cu; the library
// must be built for sm_90a).
int conv_variants() { return 21; }
int conv_default_variant() { return 5; }

int launch_conv(const iegpu_engine *e, const ConvOp &op, int n, int h, int w, cudaStream_t s) {
	ConvArgs a{};
	int ih, iw;
	level_dims(e, op.in_level, h, w, &ih, &iw);
	const BufSpec &ib = e->bufs[op.in.buf];
	a.in = e->d_bufs[op.in.buf] + op.in.off;
	a.in_cs = ib.channels;
	a.in_h = ih; a.in_w = iw;
	a.ups = op.upsample;
	a.out_h = op.upsample ? 2 * ih : ih;
	a.out_w = op.upsample ? 2 * iw : iw;
	a.npix = n * a.out_h * a.out_w;
	a.cin_pad = op.cin_pad;
	a.ktot = 9 * op.cin_pad;
	a.wgt = e->d_w + op.w_off;
	a.bias = e->d_b + op.b_off;
	a.slope = op.act == ACT_PRELU ? e->d_s + op.s_off : nullptr;
	a.act = op.act;
	a.cout = op.cout;
	a.mode = op.mode;
	if (op.mode == OUT_NHWC) {
		a.out = e->d_bufs[op.out.buf] + op.out.off;
		a.out_cs = e->bufs[op.out.buf].channels;
	} else {
		a.fout = e->d_out;
		a.base = e->d_in;
		a.r = e->out_scale;
	}
	a.s1 = op.s1; a.s2 = op.s2;
	a.pdl = e->pdl;
	a.split = e->split;
	a.part = e->d_part;
	a.flags = e->d_flags;
	if (op.res1.buf >= 0) { a.res1 = e->d_bufs[op.res1.buf] + op.res1.off; a.res1_cs = e->bufs[op.res1.buf].channels; }
	if (op.res2.buf >= 0) { a.res2 = e->d_bufs[op.res2.buf] + op.res2.off; a.res2_cs = e->bufs[op.res2.buf].channels; }
	if (a.npix == 0) return IEGPU_OK;

	bool n64 = op.cout_pad % 64 == 0;
	const int sms = e->ctx->prop.multiProcessorCount;
	if (hopper_variant(op.variant)) {
		if (e->ctx->prop.major != 9) return set_error(IEGPU_ERR_INVALID, "wgmma needs a Hopper GPU");
		return launch_hopper(op.variant, a, op.cout_pad, n, sms, s);
	}
	if (op.variant == 8)
		return n64 ? launch_tile<16, 16, 64, 4, 2, true>(a, op.cout_pad, n, s)
		           : launch_tile<16, 16, 32, 8, 1, true>(a, op.cout_pad, n, s);
	if (op.variant == 9 || op.variant == 10) {
		bool big = op.variant == 9;
		size_t s64 = big ? persist_smem<16, 16, 64, 4, 2, 3>(op.cin_pad) : persist_smem<8, 16, 64, 2, 2, 4>(op.cin_pad);
		size_t s32 = big ? persist_smem<16, 16, 32, 8, 1, 3>(op.cin_pad) : persist_smem<8, 16, 32, 4, 1, 4>(op.cin_pad);
		if (n64 && s64 <= (size_t)kMaxSmem)
			return big ? launch_persist<16, 16, 64, 4, 2, 3, true>(a, op.cout_pad, n, sms, s)
			           : launch_persist<8, 16, 64, 2, 2, 4, true>(a, op.cout_pad, n, sms, s);
		if (s32 <= (size_t)kMaxSmem)
			return big ? launch_persist<16, 16, 32, 8, 1, 3, true>(a, op.cout_pad, n, sms, s)
			           : launch_persist<8, 16, 32, 4, 1, 4, true>(a, op.cout_pad, n, sms, s);
	}
	if (op.variant == 5 || op.variant == 6) {
		bool big = op.variant == 5;
		size_t s64 = big ? persist_smem<16, 16, 64, 4, 2, 3>(op.cin_pad) : persist_smem<8, 16, 64, 2, 2, 4>(op.cin_pad);
		size_t s32 = big ? persist_smem<16, 16, 32, 8, 1, 3>(op.cin_pad) : persist_smem<8, 16, 32, 4, 1, 4>(op.cin_pad);
		if (n64 && s64 <= (size_t)kMaxSmem)
			return big ? launch_persist<16, 16, 64, 4, 2, 3>(a, op.cout_pad, n, sms, s)
			           : launch_persist<8, 16, 64, 2, 2, 4>(a, op.cout_pad, n, sms, s);
		if (s32 <= (size_t)kMaxSmem)
			return big ? launch_persist<16, 16, 32, 8, 1, 3>(a, op.cout_pad, n, sms, s)
			           : launch_persist<8, 16, 32, 4, 1, 4>(a, op.cout_pad, n, sms, s);
		// Weights too large for shared memory: the streaming kernel.
	}
	switch (op.variant) {
	case 1:
		return n64 ? launch_tile<16, 16, 64, 4, 2>(a, op.cout_pad, n, s)
		           : launch_tile<16, 16, 32, 8, 1>(a, op.cout_pad, n, s);
	case 2:
		return n64 ? launch<128, 64, 2, 2, 4>(a, op.cout_pad, s) : launch<128, 32, 4, 1, 4>(a, op.cout_pad, s);
	case 3:
		return n64 ? launch<64, 64, 2, 2, 4>(a, op.cout_pad, s) : launch<64, 32, 2, 2, 4>(a, op.cout_pad, s);
	case 4:
		return n64 ? launch<256, 64, 4, 2, 3>(a, op.cout_pad, s) : launch<256, 32, 8, 1, 3>(a, op.cout_pad, s);
	case 11:
		return n64 ? launch<128, 64, 4, 2, 4>(a, op.cout_pad, s) : launch<128, 32, 8, 1, 4>(a, op.cout_pad, s);
	case 12:
		return n64 ? launch<64, 64, 2, 4, 4>(a, op.cout_pad, s) : launch<64, 32, 4, 2, 4>(a, op.cout_pad, s);
	default:
		return n64 ? launch_tile<8, 16, 64, 2, 2>(a, op.cout_pad, n, s)
		           : launch_tile<8, 16, 32, 4, 1>(a, op.cout_pad, n, s);
	}
}
