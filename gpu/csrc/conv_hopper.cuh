// conv_hopper.cuh: the 3x3 convolution on Hopper's tensor cores (wgmma,
// sm_90a): the halo-tiled scheme of conv.cu, with both operands read by the
// tensor cores straight from shared memory through descriptors. With an 8x8
// square of output pixels as one m64, the 8 output pixels of one row are 8
// consecutive patch pixels and the next row's are one patch row further, so
// a tap (dy, dx) is only a shifted start address of the same descriptor.
// Variant 7 (conv_hopper.cu, with the dispatch) keeps the patch in the
// no-swizzle layout, [8-channel group][patch pixel][8 halves]; the pipelined
// kernels below (one variant per conv_wgp_*.cu and conv_wgs_*.cu file) in the
// 64-byte swizzle.
#pragma once
#include "conv.cuh"

using namespace conv;

namespace {

__device__ __forceinline__ uint64_t gmma_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
	return (uint64_t)((saddr >> 4) & 0x3FFF) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
	       ((uint64_t)((sbo >> 4) & 0x3FFF) << 32);
}

__device__ __forceinline__ void wg_fence() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wg_commit() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wg_wait() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
__device__ __forceinline__ void fence_async_smem() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void fence_regs(float (&d)[N]) {
	#pragma unroll
	for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

__device__ __forceinline__ void wgmma_m64n64(float *d, uint64_t da, uint64_t db, int scale_d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile(
	    "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
	    "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
	    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
	    : "l"(da), "l"(db), "r"(scale_d));
#endif
}
__device__ __forceinline__ void wgmma_m64n32(float *d, uint64_t da, uint64_t db, int scale_d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile(
	    "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
	    "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n}\n"
	    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
	    : "l"(da), "l"(db), "r"(scale_d));
#endif
}

__device__ __forceinline__ void wgmma_m64n8(float *d, uint64_t da, uint64_t db, int scale_d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile(
	    "{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
	    "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0, %1, %2, %3}, %4, %5, p, 1, 1, 0, 0;\n}\n"
	    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
	    : "l"(da), "l"(db), "r"(scale_d));
#endif
}

__device__ __forceinline__ void wgmma_m64n128(float *d, uint64_t da, uint64_t db, int scale_d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile(
	    "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
	    "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
	    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
	    : "l"(da), "l"(db), "r"(scale_d));
#endif
}

__device__ __forceinline__ void wgmma_m64n256(float *d, uint64_t da, uint64_t db, int scale_d) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	asm volatile(
	    "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
	    "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
	    : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
	    : "l"(da), "l"(db), "r"(scale_d));
#endif
}

template <int BN>
__device__ __forceinline__ void wgmma_tile(float *d, uint64_t da, uint64_t db, int scale_d) {
	if constexpr (BN == 64) wgmma_m64n64(d, da, db, scale_d);
	else if constexpr (BN == 32) wgmma_m64n32(d, da, db, scale_d);
	else wgmma_m64n8(d, da, db, scale_d);
}

// ---------------------------------------------------------------------------
// The pipelined, persistent kernel (variants 13 to 16, 19 and 20).
//
// A block is WGS warpgroups (2 to 4); each computes 8 rows x 8*SQ columns of
// output pixels (SQ squares of 8x8, one m64 accumulator each) for BN output
// channels, so a tile is 8*WGS x 8*SQ pixels. The block walks its share of
// the layer's (tile, 32-channel chunk) items (Sched below), streaming halos
// through a ring of S slots with cp.async, S-3 chunks ahead of the tensor
// cores. The wgmma of chunk j stay in flight while the block waits for
// chunk j+1 and issues its loads (wait_group 1 inside a tile), so the tensor
// cores are fed across the barrier.
//
// The weights of the block's BN channels either stay in shared memory for the
// whole layer (loaded once, before griddepcontrol.wait: no earlier kernel
// writes them, so launched with programmatic stream serialization, which
// tuning chooses per network, a layer's prologue overlaps the tail of the
// one before), or, STREAM, travel with each halo chunk: slower per tile, but
// 64 channels a block fit where the whole weights would not (RRDB's 192 -> 64
// convolution).

__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void grid_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

template <int SQ, int NACC>
__device__ __forceinline__ void fence_acc(float (&acc)[SQ][NACC]) {
	#pragma unroll
	for (int sq = 0; sq < SQ; sq++) fence_regs(acc[sq]);
}

// WgpShape is the shared-memory layout of one kernel shape, in 16-byte units:
// a halo is [patch pixel][8-channel group], weights [chunk][tap][output
// channel][8-channel group], both swizzled.
template <int SQ, int BN, bool STREAM, int WGS>
struct WgpShape {
	static constexpr int TH = 8 * WGS, TW = 8 * SQ, PW = TW + 2;
	static constexpr int P = (TH + 2) * PW;        // patch pixels
	static constexpr int HALO = 4 * P;             // their 32 channels
	static constexpr int WCHUNK = 36 * BN;         // one chunk's weights
	static constexpr int SLOT = HALO + (STREAM ? WCHUNK : 0);
	static size_t smem(int cin_pad, int stages) {
		return ((STREAM ? 0 : (size_t)cin_pad / 32 * WCHUNK) + (size_t)stages * SLOT) * 16;
	}
};

// The pipelined kernels keep the halo and the weights in wgmma's 64-byte
// swizzle: a pixel's (or an output channel's) 32 channels are one 64-byte
// row, its four 16-byte pieces XORed with bits 7-8 of their shared-memory
// address. A K-major operand is then 8-row groups of 64-byte rows, SBO apart,
// and a k16 half starts 32 bytes into the rows. The swizzle follows the
// absolute address, so a window shifted by whole pixels keeps a base offset
// of 0 (the fixtures fail with the start address's bits 7-9 there). The same
// kernels in the no-swizzle layout ran the dense layers 8-18% slower.
__device__ __forceinline__ uint32_t swz64(uint32_t addr) { return addr ^ (((addr >> 7) & 3) << 4); }
__device__ __forceinline__ uint64_t gmma_desc_sw64(uint32_t addr, uint32_t sbo) {
	return (uint64_t)((addr >> 4) & 0x3FFF) | (1ull << 16) | ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | (2ull << 62);
}

// load_weights_sw64 copies chunks c0 .. c0+n-1 (36*BN rows each: tap, output
// channel) of output channels n0 .. n0+BN-1's weights into dst.
template <int BN, int THREADS>
__device__ __forceinline__ void load_weights_sw64(const ConvArgs &a, half *dst, int n0, int c0, int n) {
	const int rows = n * 36;
	const uint32_t d = smem_addr(dst);
	for (int q = threadIdx.x; q < rows * BN; q += THREADS) {
		int co = q / rows, r = q - co * rows;
		int cg = r & 3, ct = r >> 2, c = c0 + ct / 9, t = ct % 9;
		cp_async16(swz64(d + ((ct * BN + co) * 4 + cg) * 16), weight_at(a, n0 + co, t, c, cg), true);
	}
}

// load_halo_sw64 is load_halo into dst in the 64-byte swizzle.
template <int TH, int PW, int THREADS>
__device__ __forceinline__ void load_halo_sw64(const ConvArgs &a, half *dst, int img, int y0, int x0, int c) {
	const uint32_t d = smem_addr(dst);
	load_halo<TH, PW, THREADS>(a, img, y0, x0, c, [&](int prow, int cg) { return swz64(d + (prow * 4 + cg) * 16); });
}

// A layer's items are (tile, 32-channel chunk) pairs; whole tiles are
// dealt round robin to the G blocks of a grid row, tiles blockIdx.x +
// k*G. That leaves most multiprocessors idle through the last round where
// the tiles do not divide evenly (x4plus at 480x640: 1200 tiles on 132, a
// tenth of the layer's time). With split on (the plan's, chosen by tuning),
// the tiles left after the last full round but one (G to 2G-1) are dealt
// out by chunks instead, no block more than one chunk over another. A tile
// cut between blocks b and b+1 is computed twice in part: b+1 starts with
// its last chunks (the tail) and leaves the partial sums in its slot; b ends
// with its first chunks (the head), adds the tail's sums, ready by then, and
// stores the tile. The grid has no more blocks than tiles, so every share
// holds at least one tile's worth of chunks and no tile is cut twice. Where
// cutting would not shorten the longest share (x4plus's 600 tiles of 16x32
// pixels, two chunks each), tiles stay whole: the partial sums cost a few
// percent.
struct Sched {
	int nchunks;
	int dp;     // items of whole tiles dealt round robin: tiles blockIdx.x + k*gridDim.x
	int g0;     // then items g0, g0+1, ... numbered tile by tile
	int items;  // in all
};
__device__ __forceinline__ Sched block_sched(int ntiles, int nchunks, bool split) {
	const int G = gridDim.x, b = blockIdx.x;
	const int rounds = ntiles / G, rem = ntiles - rounds * G;
	const int first = (rounds - 1) * G, tiles = ntiles - first, items = tiles * nchunks;
	if (!split || rem == 0 || (items + G - 1) / G >= (tiles + G - 1) / G * nchunks) {
		const int mine = (ntiles - b + G - 1) / G * nchunks;
		return {nchunks, mine, 0, mine};
	}
	const int s0 = (int)((long long)items * b / G), s1 = (int)((long long)items * (b + 1) / G);
	const int dp = (rounds - 1) * nchunks;
	return {nchunks, dp, first * nchunks + s0, dp + s1 - s0};
}
// sched_item gives item j of the block as its tile and chunk.
__device__ __forceinline__ void sched_item(const Sched &s, int j, int &tile, int &c) {
	if (j < s.dp) {
		const int k = j / s.nchunks;
		tile = blockIdx.x + k * gridDim.x;
		c = j - k * s.nchunks;
	} else {
		const int g = s.g0 + j - s.dp;
		tile = g / s.nchunks;
		c = g - tile * s.nchunks;
	}
}

enum TilePart { TILE_WHOLE, TILE_HEAD, TILE_TAIL };

__device__ __forceinline__ int part_slot() { return blockIdx.y * gridDim.x + blockIdx.x; }

// save_tail leaves a tail's partial sums in this block's slot and raises its
// flag; each(f) calls f(value, i) on every accumulator float i of the thread.
// (The stride is a constant so that the addresses are immediate offsets of
// one register: computed per element, ptxas kept 128 of them live through the
// main loop and spilled.)
template <int THREADS, typename Each>
__device__ __forceinline__ void save_tail(const ConvArgs &a, Each each) {
	const int slot = part_slot();
	float *p = a.part + (size_t)slot * kPartFloats + threadIdx.x;
	each([&](float &v, int i) { __stcg(p + i * THREADS, v); });
	__threadfence();
	__syncthreads();
	if (threadIdx.x == 0) asm volatile("st.release.gpu.global.u32 [%0], %1;\n" ::"l"(a.flags + slot), "r"(1u) : "memory");
}

// add_tail waits for the next block's flag, lowers it, and adds the partial
// sums it left to a head's.
template <int THREADS, typename Each>
__device__ __forceinline__ void add_tail(const ConvArgs &a, Each each) {
	const int slot = part_slot() + 1;
	if (threadIdx.x == 0) {
		unsigned f;
		for (;;) {
			asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(f) : "l"(a.flags + slot) : "memory");
			if (f) break;
			__nanosleep(100);
		}
		a.flags[slot] = 0;
	}
	__syncthreads();
	const float *p = a.part + (size_t)slot * kPartFloats + threadIdx.x;
	each([&](float &v, int i) { v += __ldcg(p + i * THREADS); });
}

// finish_tile ends a tile's chunks in this block: a tail leaves its partial
// sums; a head adds the tail's and, like a whole tile, goes on to the
// epilogue.
template <int THREADS, typename Each, typename Epilogue>
__device__ __forceinline__ void finish_tile(const ConvArgs &a, int part, Each each, Epilogue epilogue) {
	if (part == TILE_TAIL) return save_tail<THREADS>(a, each);
	if (part == TILE_HEAD) add_tail<THREADS>(a, each);
	epilogue();
}

// run_pipeline drives a block's items through S slots: load_w(slot, chunk)
// (the streamed weights, or nothing) and load(slot, tile, chunk) (the halo)
// S-2 items ahead; mma(slot, chunk, first) issues an item's wgmma (first: the
// tile's first chunk here, which clears the accumulators), which stay in
// flight (wait_group 1) while the next item's loads go out; finish(tile,
// part) follows the tile's last chunk here.
template <int S, typename LoadW, typename Load, typename Mma, typename Finish>
__device__ __forceinline__ void run_pipeline(const Sched &sc, LoadW load_w, Load load, Mma mma, Finish finish) {
	#pragma unroll
	for (int s = 0; s < S - 2; s++) {
		if (s < sc.items) {
			int tile, c;
			sched_item(sc, s, tile, c);
			load(s, tile, c);
		}
		cp_commit();
	}
	for (int j = 0; j < sc.items; j++) {
		cp_wait<S - 3>();
		fence_async_smem();
		__syncthreads();  // item j landed everywhere; item j-2's wgmma are done
		const int nj = j + S - 2;
		if (nj < sc.items) {
			int tile, c;
			sched_item(sc, nj, tile, c);
			load_w(nj % S, c);
			load(nj % S, tile, c);
		}
		cp_commit();
		int tile, c;
		sched_item(sc, j, tile, c);
		const bool began_before = j >= sc.dp && j - sc.dp < c;  // in the block before: this is a tail
		mma(j % S, c, c == 0 || j == sc.dp);
		if (c == sc.nchunks - 1 || j == sc.items - 1) {
			wg_wait<0>();
			finish(tile, began_before ? TILE_TAIL : c < sc.nchunks - 1 ? TILE_HEAD : TILE_WHOLE);
		} else {
			wg_wait<1>();
		}
	}
	wg_wait<0>();
	cp_wait<0>();
}

// launch_persistent launches one of the pipelined kernels, with programmatic
// stream serialization where the plan asks for it.
template <typename Kernel>
int launch_persistent(Kernel k, dim3 grid, int threads, size_t smem, const ConvArgs &a, int ntiles, cudaStream_t s) {
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = grid;
	cfg.blockDim = dim3(threads);
	cfg.dynamicSmemBytes = smem;
	cfg.stream = s;
	cudaLaunchAttribute attr[1];
	attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
	attr[0].val.programmaticStreamSerializationAllowed = 1;
	cfg.attrs = attr;
	cfg.numAttrs = a.pdl ? 1 : 0;
	CU(cudaLaunchKernelEx(&cfg, k, a, ntiles));
	return IEGPU_OK;
}

template <int SQ, int BN, int S, bool STREAM, int WGS>
__global__ void __launch_bounds__(128 * WGS, 1) conv3x3_wgp_kernel(const ConvArgs a, int ntiles) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	using L = WgpShape<SQ, BN, STREAM, WGS>;
	constexpr int THREADS = 128 * WGS;
	constexpr int TH = L::TH, TW = L::TW, PW = L::PW;
	constexpr int NACC = BN / 2;  // floats of one m64 x BN accumulator per thread

	extern __shared__ __align__(128) half smem[];
	const int nchunks = a.cin_pad >> 5;
	half *sW = smem;  // resident weights (not STREAM)
	half *sP = smem + (STREAM ? 0 : (size_t)nchunks * L::WCHUNK * 8);
	const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
	const int tiles_x = (a.out_w + TW - 1) / TW, tiles_y = (a.out_h + TH - 1) / TH;
	const int n0 = blockIdx.y * BN;
	const Sched sc = block_sched(ntiles, nchunks, a.split);

	if constexpr (!STREAM) load_weights_sw64<BN, THREADS>(a, sW, n0, 0, nchunks);
	else
		for (int s = 0; s < S - 2 && s < sc.items; s++) {
			int tile, c;
			sched_item(sc, s, tile, c);
			load_weights_sw64<BN, THREADS>(a, sP + (s * L::SLOT + L::HALO) * 8, n0, c, 1);
		}
	grid_dependency_wait();
	grid_launch_dependents();

	auto load_w = [&](int slot, int c) {
		if constexpr (STREAM) load_weights_sw64<BN, THREADS>(a, sP + (slot * L::SLOT + L::HALO) * 8, n0, c, 1);
	};
	auto load = [&](int slot, int tile, int c) {
		int img, y0, x0;
		tile_coords(tile, tiles_x, tiles_y, TH, TW, img, y0, x0);
		load_halo_sw64<TH, PW, THREADS>(a, sP + slot * L::SLOT * 8, img, y0, x0, c);
	};
	// One chunk: 9 taps x 2 k16 halves x SQ squares of wgmma. Tap (dy, dx)
	// of square sq starts (1+dy) rows + 1+dx + 8*sq pixels into this
	// warpgroup's rows.
	auto mma_chunk = [&](float (&acc)[SQ][NACC], int slot, int c, bool first) {
		const half *patch = sP + slot * L::SLOT * 8;
		const half *w = STREAM ? patch + L::HALO * 8 : sW + (size_t)c * L::WCHUNK * 8;
		const uint32_t pa = smem_addr(patch), wa = smem_addr(w);
		wg_fence();
		#pragma unroll
		for (int t = 0; t < 9; t++)
			#pragma unroll
			for (int ks = 0; ks < 2; ks++) {
				const int scale = (!first || t > 0 || ks > 0) ? 1 : 0;
				// A: pixel p0 of the window, 8-row groups one patch row apart;
				// B: this tap's BN output channels, groups of 8 rows 512 bytes apart.
				const uint64_t db = gmma_desc_sw64(wa + t * BN * 64 + ks * 32, 512);
				#pragma unroll
				for (int sq = 0; sq < SQ; sq++) {
					const int p0 = (wg * 8 + t / 3) * PW + 8 * sq + t % 3;
					wgmma_tile<BN>(acc[sq], gmma_desc_sw64(pa + p0 * 64 + ks * 32, PW * 64), db, scale);
				}
			}
		wg_commit();
	};
	// D fragment of m64nBN: warp w holds square rows 2w and 2w+1 (h8), column
	// lane/4; channels 8j + 2(lane%4) + {0,1}. Two layouts have their own
	// path, with the bias and slopes in registers and the mode tested once: a
	// full NHWC slice (every layer but the last), and the x4 pixel shuffle,
	// where a lane's two channels are two neighbouring output pixels (one
	// float2) and a warp writes whole 128-byte rows. The rest go through
	// store_out.
	auto epilogue = [&](float (&acc)[SQ][NACC], int tile) {
		int img, y0, x0;
		tile_coords(tile, tiles_x, tiles_y, TH, TW, img, y0, x0);
		fence_acc(acc);
		const int ch0 = n0 + (lane & 3) * 2;
		const bool nhwc = a.mode == OUT_NHWC && n0 + BN <= a.cout;
		const bool shuffle4 = a.mode == OUT_SHUFFLE_F32 && a.r == 4 && !a.res1 && !a.res2;
		if (nhwc || shuffle4) {
			float2 bias[BN / 8], slope[BN / 8];
			#pragma unroll
			for (int j = 0; j < BN / 8; j++) {
				bool in = n0 + 8 * j < a.cout;
				bias[j] = in ? *reinterpret_cast<const float2 *>(a.bias + ch0 + 8 * j) : make_float2(0.f, 0.f);
				slope[j] = in && a.act == ACT_PRELU ? *reinterpret_cast<const float2 *>(a.slope + ch0 + 8 * j)
				                                    : make_float2(0.2f, 0.2f);
			}
			#pragma unroll
			for (int sq = 0; sq < SQ; sq++)
				#pragma unroll
				for (int h8 = 0; h8 < 2; h8++) {
					int oy = y0 + wg * 8 + warp * 2 + h8, ox = x0 + sq * 8 + (lane >> 2);
					if (oy >= a.out_h || ox >= a.out_w) continue;
					size_t pix = (size_t)(img * a.out_h + oy) * a.out_w + ox;
					#pragma unroll
					for (int j = 0; j < BN / 8; j++) {
						if (n0 + 8 * j >= a.cout) break;
						float v0 = acc[sq][4 * j + 2 * h8] + bias[j].x, v1 = acc[sq][4 * j + 2 * h8 + 1] + bias[j].y;
						if (a.act != ACT_NONE) {
							v0 = v0 > 0.f ? v0 : slope[j].x * v0;
							v1 = v1 > 0.f ? v1 : slope[j].y * v1;
						}
						if (shuffle4) {
							// Channel c = 16*oc + 4*i + jj is output pixel (4*oy + i, 4*ox + jj) of plane oc.
							int c = ch0 + 8 * j, oc = c >> 4, i = (c >> 2) & 3, jj = c & 3;
							size_t plane = (size_t)img * 3 + oc;
							float b = a.base[(plane * a.out_h + oy) * a.out_w + ox];
							*reinterpret_cast<float2 *>(a.fout + (plane * 4 * a.out_h + 4 * oy + i) * 4 * a.out_w + 4 * ox + jj) =
							    make_float2(v0 + b, v1 + b);
							continue;
						}
						if (a.res1) {
							float2 r = __half22float2(*reinterpret_cast<const __half2 *>(a.res1 + pix * a.res1_cs + ch0 + 8 * j));
							v0 = v0 * a.s1 + r.x;
							v1 = v1 * a.s1 + r.y;
						}
						if (a.res2) {
							float2 r = __half22float2(*reinterpret_cast<const __half2 *>(a.res2 + pix * a.res2_cs + ch0 + 8 * j));
							v0 = v0 * a.s2 + r.x;
							v1 = v1 * a.s2 + r.y;
						}
						*reinterpret_cast<__half2 *>(a.out + pix * a.out_cs + ch0 + 8 * j) = __floats2half2_rn(v0, v1);
					}
				}
			return;
		}
		#pragma unroll
		for (int sq = 0; sq < SQ; sq++)
			#pragma unroll
			for (int h8 = 0; h8 < 2; h8++) {
				int oy = y0 + wg * 8 + warp * 2 + h8, ox = x0 + sq * 8 + (lane >> 2);
				if (oy >= a.out_h || ox >= a.out_w) continue;
				int pix = (img * a.out_h + oy) * a.out_w + ox;
				#pragma unroll
				for (int j = 0; j < BN / 8; j++)
					store_out(a, pix, ch0 + 8 * j, acc[sq][4 * j + 2 * h8], acc[sq][4 * j + 2 * h8 + 1]);
			}
	};

	static_assert(THREADS * SQ * NACC <= kPartFloats, "accumulators larger than a partial-sum slot");
	float acc[SQ][NACC];
	#pragma unroll
	for (int sq = 0; sq < SQ; sq++)
		#pragma unroll
		for (int i = 0; i < NACC; i++) acc[sq][i] = 0.f;
	auto each = [&](auto f) {
		#pragma unroll
		for (int sq = 0; sq < SQ; sq++)
			#pragma unroll
			for (int i = 0; i < NACC; i++) f(acc[sq][i], sq * NACC + i);
	};
	run_pipeline<S>(sc, load_w, load, [&](int slot, int c, bool first) { mma_chunk(acc, slot, c, first); },
	                [&](int tile, int part) { finish_tile<THREADS>(a, part, each, [&] { epilogue(acc, tile); }); });
#endif
}

template <int SQ, int BN, int S, bool STREAM, int WGS>
int launch_wgp(const ConvArgs &a, int n, int sms, cudaStream_t s) {
	using L = WgpShape<SQ, BN, STREAM, WGS>;
	const int ntiles = ((a.out_w + L::TW - 1) / L::TW) * ((a.out_h + L::TH - 1) / L::TH) * n;
	// One block a multiprocessor: its registers (over 128 a thread) allow no
	// second; blocks of output channels with nothing but padding are skipped.
	const int nsplit = (a.cout + BN - 1) / BN;
	int grid = sms / nsplit;
	if (grid < 1) grid = 1;
	if (grid > ntiles) grid = ntiles;
	return launch_persistent(conv3x3_wgp_kernel<SQ, BN, S, STREAM, WGS>, dim3(grid, nsplit), 128 * WGS,
	                         L::smem(a.cin_pad, S), a, ntiles, s);
}

template <int SQ, int BN, bool STREAM, int WGS>
int launch_wgp_slots(const ConvArgs &a, int n, int sms, cudaStream_t s) {
	using L = WgpShape<SQ, BN, STREAM, WGS>;
	if (L::smem(a.cin_pad, 4) <= (size_t)kMaxSmem) return launch_wgp<SQ, BN, 4, STREAM, WGS>(a, n, sms, s);
	if (L::smem(a.cin_pad, 3) <= (size_t)kMaxSmem) return launch_wgp<SQ, BN, 3, STREAM, WGS>(a, n, sms, s);
	return set_error(IEGPU_ERR_INVALID, "wgmma kernel: weights too large for shared memory");
}

// launch_wgp_shape picks the output channels a block: 8 for the last layer
// of RRDBNet (3 channels), else 64 where they fit beside three slots, else
// 32; and four slots where they fit, else three.
template <int SQ, bool STREAM, int WGS>
int launch_wgp_shape(const ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s) {
	if (a.cout <= 8) return launch_wgp_slots<SQ, 8, STREAM, WGS>(a, n, sms, s);
	if (cout_pad % 64 == 0 && WgpShape<SQ, 64, STREAM, WGS>::smem(a.cin_pad, 3) <= (size_t)kMaxSmem)
		return launch_wgp_slots<SQ, 64, STREAM, WGS>(a, n, sms, s);
	return launch_wgp_slots<SQ, 32, STREAM, WGS>(a, n, sms, s);
}

template <int SQ, bool STREAM, int WGS>
int prepare_wgp_shape() {
	int st = IEGPU_OK;
	auto raise = [&](auto k) {
		cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSmem);
		if (e != cudaSuccess && st == IEGPU_OK) st = cuda_status(e, "cudaFuncSetAttribute(wgmma kernel)");
	};
	raise(conv3x3_wgp_kernel<SQ, 8, 3, STREAM, WGS>);
	raise(conv3x3_wgp_kernel<SQ, 8, 4, STREAM, WGS>);
	raise(conv3x3_wgp_kernel<SQ, 32, 3, STREAM, WGS>);
	raise(conv3x3_wgp_kernel<SQ, 32, 4, STREAM, WGS>);
	raise(conv3x3_wgp_kernel<SQ, 64, 3, STREAM, WGS>);
	raise(conv3x3_wgp_kernel<SQ, 64, 4, STREAM, WGS>);
	return st;
}

// ---------------------------------------------------------------------------
// The same convolution with the GEMM turned around (variants 17 and 18), for
// layers of exactly 64 output channels into NHWC: M = the 64 output channels
// (the weights are wgmma's A), N = 8*ROWS output pixels (the halo is B, read
// through the same descriptors as A above). Each warpgroup computes a column
// 8 pixels wide and ROWS tall, so one wgmma is m64n128k16 or m64n256k16 where
// the kernels above issue m64n64k16: per multiply-add the tensor cores read
// 1.6 to 2 times fewer bytes of shared memory. (Measured, that moved the
// 64-output layers by 0-10%: shared memory is not what bounds them.)
//
// Accumulator element (row, col) is output channel 16w + lane/4 (+8) of
// pixel col = 8j + 2(lane%4) (+1): row j of the column. Lanes lane and
// lane^4 hold neighbouring channels of the same two pixels; one shuffle gives
// each a pair of channels of one pixel, stored as one half2.
template <int ROWS, int S, bool STREAM>
__global__ void __launch_bounds__(256, 1) conv3x3_wgs_kernel(const ConvArgs a, int ntiles) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
	constexpr int TH = ROWS, TW = 16, PW = TW + 2, P = (TH + 2) * PW;
	constexpr int HALO = 4 * P, WCHUNK = 36 * 64, SLOT = HALO + (STREAM ? WCHUNK : 0);  // 16-byte units
	constexpr int NACC = 4 * ROWS;  // floats of one m64 x 8*ROWS accumulator per thread

	extern __shared__ __align__(128) half smem[];
	const int nchunks = a.cin_pad >> 5;
	half *sW = smem;
	half *sP = smem + (STREAM ? 0 : (size_t)nchunks * WCHUNK * 8);
	const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
	const int tiles_x = (a.out_w + TW - 1) / TW, tiles_y = (a.out_h + TH - 1) / TH;
	const Sched sc = block_sched(ntiles, nchunks, a.split);

	if constexpr (!STREAM) load_weights_sw64<64, 256>(a, sW, 0, 0, nchunks);
	else
		for (int s = 0; s < S - 2 && s < sc.items; s++) {
			int tile, c;
			sched_item(sc, s, tile, c);
			load_weights_sw64<64, 256>(a, sP + (s * SLOT + HALO) * 8, 0, c, 1);
		}
	grid_dependency_wait();
	grid_launch_dependents();

	auto load_w = [&](int slot, int c) {
		if constexpr (STREAM) load_weights_sw64<64, 256>(a, sP + (slot * SLOT + HALO) * 8, 0, c, 1);
	};
	auto load = [&](int slot, int tile, int c) {
		int img, y0, x0;
		tile_coords(tile, tiles_x, tiles_y, TH, TW, img, y0, x0);
		load_halo_sw64<TH, PW, 256>(a, sP + slot * SLOT * 8, img, y0, x0, c);
	};
	auto mma_chunk = [&](float (&acc)[NACC], int slot, int c, bool first) {
		const half *patch = sP + slot * SLOT * 8;
		const half *w = STREAM ? patch + HALO * 8 : sW + (size_t)c * WCHUNK * 8;
		const uint32_t pa = smem_addr(patch), wa = smem_addr(w);
		wg_fence();
		#pragma unroll
		for (int t = 0; t < 9; t++)
			#pragma unroll
			for (int ks = 0; ks < 2; ks++) {
				const int scale = (!first || t > 0 || ks > 0) ? 1 : 0;
				const uint64_t da = gmma_desc_sw64(wa + t * 64 * 64 + ks * 32, 512);
				const uint64_t db = gmma_desc_sw64(pa + ((t / 3) * PW + t % 3 + 8 * wg) * 64 + ks * 32, PW * 64);
				if constexpr (ROWS == 32) wgmma_m64n256(acc, da, db, scale);
				else wgmma_m64n128(acc, da, db, scale);
			}
		wg_commit();
	};
	const int g = lane >> 2, odd = g & 1, t4 = lane & 3;
	const int cb1 = warp * 16 + (g & ~1), cb2 = cb1 + 8;  // this lane's channel pairs after the shuffle
	auto epilogue = [&](float (&acc)[NACC], int tile) {
		int img, y0, x0;
		tile_coords(tile, tiles_x, tiles_y, TH, TW, img, y0, x0);
		fence_regs(acc);
		const float2 b1 = *reinterpret_cast<const float2 *>(a.bias + cb1), b2 = *reinterpret_cast<const float2 *>(a.bias + cb2);
		float2 s1 = make_float2(0.2f, 0.2f), s2 = s1;
		if (a.act == ACT_PRELU) {
			s1 = *reinterpret_cast<const float2 *>(a.slope + cb1);
			s2 = *reinterpret_cast<const float2 *>(a.slope + cb2);
		}
		const int ox = x0 + wg * 8 + 2 * t4 + odd;
		#pragma unroll
		for (int j = 0; j < ROWS; j++) {
			// Even lanes keep pixel 2*t4 and take the partner's channel; odd
			// lanes keep pixel 2*t4+1.
			float r0 = __shfl_xor_sync(0xffffffffu, odd ? acc[4 * j] : acc[4 * j + 1], 4);
			float r1 = __shfl_xor_sync(0xffffffffu, odd ? acc[4 * j + 2] : acc[4 * j + 3], 4);
			float2 p1 = odd ? make_float2(r0, acc[4 * j + 1]) : make_float2(acc[4 * j], r0);
			float2 p2 = odd ? make_float2(r1, acc[4 * j + 3]) : make_float2(acc[4 * j + 2], r1);
			const int oy = y0 + j;
			if (oy >= a.out_h || ox >= a.out_w) continue;
			const size_t pix = (size_t)(img * a.out_h + oy) * a.out_w + ox;
			#pragma unroll
			for (int h = 0; h < 2; h++) {
				const int cb = h ? cb2 : cb1;
				const float2 b = h ? b2 : b1, sl = h ? s2 : s1;
				float2 v = h ? p2 : p1;
				v.x += b.x;
				v.y += b.y;
				if (a.act != ACT_NONE) {
					v.x = v.x > 0.f ? v.x : sl.x * v.x;
					v.y = v.y > 0.f ? v.y : sl.y * v.y;
				}
				if (a.res1) {
					float2 r = __half22float2(*reinterpret_cast<const __half2 *>(a.res1 + pix * a.res1_cs + cb));
					v.x = v.x * a.s1 + r.x;
					v.y = v.y * a.s1 + r.y;
				}
				if (a.res2) {
					float2 r = __half22float2(*reinterpret_cast<const __half2 *>(a.res2 + pix * a.res2_cs + cb));
					v.x = v.x * a.s2 + r.x;
					v.y = v.y * a.s2 + r.y;
				}
				*reinterpret_cast<__half2 *>(a.out + pix * a.out_cs + cb) = __floats2half2_rn(v.x, v.y);
			}
		}
	};

	static_assert(256 * NACC <= kPartFloats, "accumulators larger than a partial-sum slot");
	float acc[NACC];
	#pragma unroll
	for (int i = 0; i < NACC; i++) acc[i] = 0.f;
	auto each = [&](auto f) {
		#pragma unroll
		for (int i = 0; i < NACC; i++) f(acc[i], i);
	};
	run_pipeline<S>(sc, load_w, load, [&](int slot, int c, bool first) { mma_chunk(acc, slot, c, first); },
	                [&](int tile, int part) { finish_tile<256>(a, part, each, [&] { epilogue(acc, tile); }); });
#endif
}

template <int ROWS, bool STREAM>
size_t wgs_smem(int cin_pad, int stages) {
	const size_t halo = 4 * (ROWS + 2) * 18, wchunk = 36 * 64;
	return ((STREAM ? 0 : (size_t)cin_pad / 32 * wchunk) + stages * (halo + (STREAM ? wchunk : 0))) * 16;
}

template <int ROWS, int S, bool STREAM>
int launch_wgs(const ConvArgs &a, int n, int sms, cudaStream_t s) {
	const int ntiles = ((a.out_w + 15) / 16) * ((a.out_h + ROWS - 1) / ROWS) * n;
	return launch_persistent(conv3x3_wgs_kernel<ROWS, S, STREAM>, dim3(sms < ntiles ? sms : ntiles), 256,
	                         wgs_smem<ROWS, STREAM>(a.cin_pad, S), a, ntiles, s);
}

// launch_wgs_shape keeps the weights resident where they fit beside three
// slots, else streams them; four slots where they fit, else three.
template <int ROWS>
int launch_wgs_shape(const ConvArgs &a, int n, int sms, cudaStream_t s) {
	if (wgs_smem<ROWS, false>(a.cin_pad, 3) <= (size_t)kMaxSmem)
		return wgs_smem<ROWS, false>(a.cin_pad, 4) <= (size_t)kMaxSmem ? launch_wgs<ROWS, 4, false>(a, n, sms, s)
		                                                              : launch_wgs<ROWS, 3, false>(a, n, sms, s);
	if (wgs_smem<ROWS, true>(a.cin_pad, 4) <= (size_t)kMaxSmem) return launch_wgs<ROWS, 4, true>(a, n, sms, s);
	return launch_wgs<ROWS, 3, true>(a, n, sms, s);
}

template <int ROWS>
int prepare_wgs_shape() {
	int st = IEGPU_OK;
	auto raise = [&](auto k) {
		cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSmem);
		if (e != cudaSuccess && st == IEGPU_OK) st = cuda_status(e, "cudaFuncSetAttribute(wgmma kernel)");
	};
	raise(conv3x3_wgs_kernel<ROWS, 3, false>);
	raise(conv3x3_wgs_kernel<ROWS, 4, false>);
	raise(conv3x3_wgs_kernel<ROWS, 3, true>);
	raise(conv3x3_wgs_kernel<ROWS, 4, true>);
	return st;
}

}  // namespace

// Each variant of the pipelined kernel is its own file, so that nvcc builds
// them side by side: launch_wgp_VARIANT and prepare_wgp_VARIANT.
#define IEGPU_WGP_VARIANT(V, SQ, STREAM, WGS)                                                          \
	int launch_wgp_##V(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s) {         \
		return launch_wgp_shape<SQ, STREAM, WGS>(a, cout_pad, n, sms, s);                               \
	}                                                                                                  \
	int prepare_wgp_##V() { return prepare_wgp_shape<SQ, STREAM, WGS>(); }

// Variants 17 and 18 (the turned-around GEMM, 16x16 and 16x32 pixels) run
// layers of 64 NHWC outputs; any other layer goes to 13 and 14.
#define IEGPU_WGS_VARIANT(V, ROWS, OTHER)                                                              \
	int launch_wgp_##V(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s) {         \
		if (a.cout != 64 || a.mode != OUT_NHWC) return launch_wgp_##OTHER(a, cout_pad, n, sms, s);      \
		return launch_wgs_shape<ROWS>(a, n, sms, s);                                                    \
	}                                                                                                  \
	int prepare_wgp_##V() { return prepare_wgs_shape<ROWS>(); }

int launch_wgp_13(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_14(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_15(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_16(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int prepare_wgp_13();
int prepare_wgp_14();
int prepare_wgp_15();
int launch_wgp_17(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_18(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_19(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);
int launch_wgp_20(const conv::ConvArgs &a, int cout_pad, int n, int sms, cudaStream_t s);

int prepare_wgp_16();
int prepare_wgp_17();
int prepare_wgp_18();
int prepare_wgp_19();
int prepare_wgp_20();

