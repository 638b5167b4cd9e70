// memory.cu: the activations, reserved once for the largest shape asked for
// and reused by every run; growing drops the captured graphs, whose kernels
// hold the old addresses.
#include "conv.cuh"

void level_dims(const iegpu_engine *e, int level, int h, int w, int *lh, int *lw) {
	int f = 1 << level;
	*lh = h / e->unshuffle * f;
	*lw = w / e->unshuffle * f;
}

// part_bytes is the split tiles' partial sums and flags, one slot a
// multiprocessor.
static size_t part_bytes(const iegpu_engine *e) {
	return (size_t)e->ctx->prop.multiProcessorCount * (conv::kPartFloats * sizeof(float) + sizeof(unsigned));
}

size_t workspace_bytes(const iegpu_engine *e, int n, int h, int w) {
	size_t total = 0;
	for (const BufSpec &b : e->bufs) {
		int lh, lw;
		level_dims(e, b.level, h, w, &lh, &lw);
		total += (size_t)n * lh * lw * b.channels * sizeof(half) + 256;
	}
	size_t s = e->out_scale;
	total += (size_t)n * 3 * h * w * sizeof(float) + (size_t)n * 3 * h * s * w * s * sizeof(float);
	total += (size_t)n * h * s * w * s * 4;  // RGBA8
	total += part_bytes(e);
	return total;
}

void drop_graphs(iegpu_engine *e) {
	for (GraphEntry &g : e->graphs) cudaGraphExecDestroy(g.exec);
	e->graphs.clear();
}

void release_activations(iegpu_engine *e) {
	drop_graphs(e);
	for (half *p : e->d_bufs) cudaFree(p);
	e->d_bufs.clear();
	cudaFree(e->d_in);
	cudaFree(e->d_out);
	cudaFree(e->d_rgba);
	cudaFree(e->d_part);
	cudaFree(e->d_flags);
	e->d_in = nullptr;
	e->d_out = nullptr;
	e->d_rgba = nullptr;
	e->d_part = nullptr;
	e->d_flags = nullptr;
	e->res_n = e->res_h = e->res_w = 0;
	e->act_bytes = 0;
}

int reserve(iegpu_engine *e, int n, int h, int w) {
	if (n <= 0 || h <= 0 || w <= 0 || h % e->unshuffle || w % e->unshuffle)
		return set_error(IEGPU_ERR_INVALID, "tile shape " + std::to_string(n) + "x" + std::to_string(h) + "x" +
		                                        std::to_string(w) + " does not suit the network");
	if ((size_t)n * h * w <= (size_t)e->res_n * e->res_h * e->res_w && n <= e->res_n && h <= e->res_h &&
	    w <= e->res_w)
		return IEGPU_OK;
	// Grow to cover both the old and the new shape.
	int rn = n > e->res_n ? n : e->res_n, rh = h > e->res_h ? h : e->res_h, rw = w > e->res_w ? w : e->res_w;
	release_activations(e);
	size_t s = e->out_scale;
	auto fail = [&](cudaError_t ce) {
		release_activations(e);
		cudaGetLastError();  // an allocation failure is not sticky; clear it
		return cuda_status(ce, "cudaMalloc(activations)");
	};
	cudaError_t ce;
	size_t total = 0;
	for (const BufSpec &b : e->bufs) {
		int lh, lw;
		level_dims(e, b.level, rh, rw, &lh, &lw);
		size_t bytes = (size_t)rn * lh * lw * b.channels * sizeof(half);
		half *p = nullptr;
		if ((ce = cudaMalloc(&p, bytes))) return fail(ce);
		e->d_bufs.push_back(p);
		// Channels no kernel writes (padding) must read as zero.
		if ((ce = cudaMemsetAsync(p, 0, bytes, e->ctx->stream))) return fail(ce);
		total += bytes;
	}
	size_t in_b = (size_t)rn * 3 * rh * rw * sizeof(float), out_b = in_b * s * s;
	if ((ce = cudaMalloc(&e->d_in, in_b))) return fail(ce);
	if ((ce = cudaMalloc(&e->d_out, out_b))) return fail(ce);
	size_t rgba_b = (size_t)rn * rh * s * rw * s * 4;
	if ((ce = cudaMalloc(&e->d_rgba, rgba_b))) return fail(ce);
	const size_t slots = e->ctx->prop.multiProcessorCount;
	if ((ce = cudaMalloc(&e->d_part, slots * conv::kPartFloats * sizeof(float)))) return fail(ce);
	if ((ce = cudaMalloc(&e->d_flags, slots * sizeof(unsigned)))) return fail(ce);
	if ((ce = cudaMemsetAsync(e->d_flags, 0, slots * sizeof(unsigned), e->ctx->stream))) return fail(ce);
	if ((ce = cudaStreamSynchronize(e->ctx->stream))) return fail(ce);
	e->act_bytes = total + in_b + out_b + rgba_b + part_bytes(e);
	e->res_n = rn; e->res_h = rh; e->res_w = rw;
	return IEGPU_OK;
}
