// conv_hopper.cu: Hopper's variants of the 3x3 convolution (conv_hopper.cuh
// says how they read their operands): the dispatch, and variant 7.
#include "conv_hopper.cuh"

namespace {

// Variant 7: one warpgroup computes 16x8 pixels (two m64 halves) x BN, with
// one chunk of wgmma in flight (wait_group 0 before the next).
template <int BN>
__global__ void __launch_bounds__(128) conv3x3_wgmma_kernel(const ConvArgs a) {
	constexpr int TH = 16, TW = 8, PW = TW + 2, P = (TH + 2) * PW;
	constexpr int A_ELEMS = 4 * P * 8, STAGE = A_ELEMS + 9 * 4 * BN * 8;
	constexpr int NACC = BN / 2;

	extern __shared__ __align__(128) half smem[];
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int tiles_x = (a.out_w + TW - 1) / TW, tiles_y = (a.out_h + TH - 1) / TH;
	int img, y0, x0;
	tile_origin(0, tiles_x, tiles_y, TH, TW, img, y0, x0);
	const int n0 = blockIdx.y * BN;
	const int nchunks = a.cin_pad >> 5;

	auto load = [&](int stage, int c) {
		half *dA = smem + stage * STAGE, *dB = dA + A_ELEMS;
		load_halo<TH, PW, 128>(a, img, y0, x0, c, [&](int prow, int cg) { return smem_addr(dA + (cg * P + prow) * 8); });
		for (int q = tid; q < 9 * 4 * BN; q += 128) {
			int co = q % BN, r = q / BN, cg = r & 3, t = r >> 2;
			cp_async16(smem_addr(dB + ((t * 4 + cg) * BN + co) * 8), weight_at(a, n0 + co, t, c, cg), true);
		}
	};

	float acc0[NACC], acc1[NACC];
	#pragma unroll
	for (int i = 0; i < NACC; i++) acc0[i] = acc1[i] = 0.f;

	load(0, 0);
	cp_commit();
	for (int c = 0; c < nchunks; c++) {
		cp_wait<0>();
		fence_async_smem();
		__syncthreads();
		if (c + 1 < nchunks) load((c + 1) & 1, c + 1);
		cp_commit();
		const uint32_t sa = smem_addr(smem + (c & 1) * STAGE), sb = sa + A_ELEMS * 2;
		fence_regs(acc0);
		fence_regs(acc1);
		wg_fence();
		#pragma unroll
		for (int t = 0; t < 9; t++) {
			const int dy = t / 3 - 1, dx = t % 3 - 1;
			#pragma unroll
			for (int ks = 0; ks < 2; ks++) {
				uint64_t db = gmma_desc(sb + (uint32_t)((t * 4 + 2 * ks) * BN * 16), BN * 16, 128);
				uint32_t a0 = sa + (uint32_t)((((1 + dy) * PW + 1 + dx) + 2 * ks * P) * 16);
				uint32_t a1 = a0 + 8 * PW * 16;
				int sc = (c > 0 || t > 0 || ks > 0) ? 1 : 0;
				wgmma_tile<BN>(acc0, gmma_desc(a0, P * 16, PW * 16), db, sc);
				wgmma_tile<BN>(acc1, gmma_desc(a1, P * 16, PW * 16), db, sc);
			}
		}
		wg_commit();
		wg_wait<0>();
		fence_regs(acc0);
		fence_regs(acc1);
	}

	// D fragment of m64nN: warp w holds rows 16w..16w+15; for each n8 block j,
	// d[4j], d[4j+1] at row lane/4, columns 8j + 2(lane%4) + {0,1}, and
	// d[4j+2], d[4j+3] eight rows further.
	#pragma unroll
	for (int half_m = 0; half_m < 2; half_m++) {
		const float *d = half_m ? acc1 : acc0;
		#pragma unroll
		for (int h8 = 0; h8 < 2; h8++) {
			int m = half_m * 64 + warp * 16 + (lane >> 2) + h8 * 8;
			int oy = y0 + m / TW, ox = x0 + m % TW;
			if (oy >= a.out_h || ox >= a.out_w) continue;
			int pix = (img * a.out_h + oy) * a.out_w + ox;
			#pragma unroll
			for (int j = 0; j < BN / 8; j++) {
				int ch = n0 + j * 8 + (lane & 3) * 2;
				store_out(a, pix, ch, d[4 * j + 2 * h8], d[4 * j + 2 * h8 + 1]);
			}
		}
	}
}

template <int BN>
constexpr size_t wgmma_smem() {
	return 2 * ((size_t)4 * 18 * 10 * 8 + 9 * 4 * BN * 8) * sizeof(half);
}

template <int BN>
int launch_wgmma(const ConvArgs &a, int cout_pad, int n, cudaStream_t s) {
	int tiles = ((a.out_w + 7) / 8) * ((a.out_h + 15) / 16) * n;
	conv3x3_wgmma_kernel<BN><<<dim3(tiles, cout_pad / BN), 128, wgmma_smem<BN>(), s>>>(a);
	CU(cudaGetLastError());
	return IEGPU_OK;
}

template <int BN>
int prepare_wgmma() {
	CU(cudaFuncSetAttribute(conv3x3_wgmma_kernel<BN>, cudaFuncAttributeMaxDynamicSharedMemorySize,
	                        (int)wgmma_smem<BN>()));
	return IEGPU_OK;
}

}  // namespace

// Variants 13 to 20, in order: 13 and 14 the pipelined kernel on 16x16 and
// 16x32 pixels; 15 and 16 the same with the weights streamed; 17 and 18 the
// GEMM turned around, on 16x16 and 16x32 pixels; 19 and 20 13 with three and
// four warpgroups a block (24x16 and 32x16 pixels).
using WgpLaunch = int (*)(const ConvArgs &, int, int, int, cudaStream_t);
static const WgpLaunch wgp_launch[] = {launch_wgp_13, launch_wgp_14, launch_wgp_15, launch_wgp_16,
                                       launch_wgp_17, launch_wgp_18, launch_wgp_19, launch_wgp_20};
static int (*const wgp_prepare[])() = {prepare_wgp_13, prepare_wgp_14, prepare_wgp_15, prepare_wgp_16,
                                       prepare_wgp_17, prepare_wgp_18, prepare_wgp_19, prepare_wgp_20};
constexpr int kWgpFirst = 13, kWgpCount = sizeof(wgp_launch) / sizeof(wgp_launch[0]);

bool hopper_variant(int v) { return v == 7 || (v >= kWgpFirst && v < kWgpFirst + kWgpCount); }

int hopper_prepare() {
	int st;
	if ((st = prepare_wgmma<64>()) || (st = prepare_wgmma<32>())) return st;
	for (auto prepare : wgp_prepare)
		if ((st = prepare())) return st;
	return IEGPU_OK;
}

// Variant 7: one warpgroup, 16x8 pixels; the rest above.
int launch_hopper(int v, const ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s) {
	if (v == 7)
		return cout_pad % 64 == 0 ? launch_wgmma<64>(a, cout_pad, n, s) : launch_wgmma<32>(a, cout_pad, n, s);
	if (!hopper_variant(v)) return set_error(IEGPU_ERR_INVALID, "not a Hopper variant");
	return wgp_launch[v - kWgpFirst](a, cout_pad, n, sms, s);
}
