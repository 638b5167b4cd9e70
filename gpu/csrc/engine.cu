// engine.cu: running an engine. A forward pass is the input packing and one
// kernel per convolution; it is captured once per tile shape as a CUDA graph,
// so that a pass of ~350 kernels costs one launch. Tuning times each kernel
// variant per layer and keeps the fastest; the plan is that choice as text.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "common.cuh"

namespace {

int enqueue_forward(iegpu_engine *e, int n, int h, int w, cudaStream_t s) {
	int st = launch_pack_input(e->d_in, e->d_bufs[0], e->bufs[0].channels, e->unshuffle, n, h, w, s);
	if (st) return st;
	for (const ConvOp &op : e->ops)
		if ((st = launch_conv(e, op, n, h, w, s))) return st;
	return IEGPU_OK;
}

// graph_for returns the captured forward pass for this shape, capturing it
// the first time.
int graph_for(iegpu_engine *e, int n, int h, int w, cudaGraphExec_t *out) {
	for (GraphEntry &g : e->graphs)
		if (g.n == n && g.h == h && g.w == w) {
			*out = g.exec;
			return IEGPU_OK;
		}
	cudaStream_t s = e->ctx->stream;
	cudaGraph_t graph;
	CU(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	int st = enqueue_forward(e, n, h, w, s);
	cudaError_t ce = cudaStreamEndCapture(s, &graph);
	if (st) {
		if (ce == cudaSuccess) cudaGraphDestroy(graph);
		return st;
	}
	if (ce) return cuda_status(ce, "cudaStreamEndCapture");
	cudaGraphExec_t exec;
	ce = cudaGraphInstantiate(&exec, graph, 0);
	cudaGraphDestroy(graph);
	if (ce) return cuda_status(ce, "cudaGraphInstantiate");
	if (e->graphs.size() >= 8) {  // a few shapes recur (full tiles, edge tiles); keep the latest
		cudaGraphExecDestroy(e->graphs.front().exec);
		e->graphs.erase(e->graphs.begin());
	}
	e->graphs.push_back({n, h, w, exec});
	*out = exec;
	return IEGPU_OK;
}

int forward(iegpu_engine *e, int n, int h, int w) {
	cudaGraphExec_t g;
	int st = graph_for(e, n, h, w, &g);
	if (st) return st;
	CU(cudaGraphLaunch(g, e->ctx->stream));
	return IEGPU_OK;
}

int set_device(iegpu_engine *e) {
	CU(cudaSetDevice(e->ctx->device));
	return IEGPU_OK;
}

float median(std::vector<float> v) {
	std::sort(v.begin(), v.end());
	return v.empty() ? 0.f : v[v.size() / 2];
}

}  // namespace

extern "C" int iegpu_engine_reserve(iegpu_engine *e, int n, int h, int w) {
	if (!e) return set_error(IEGPU_ERR_INVALID, "no engine");
	int st = set_device(e);
	return st ? st : reserve(e, n, h, w);
}

extern "C" int iegpu_engine_workspace(iegpu_engine *e, int n, int h, int w, size_t *bytes) {
	if (!e || !bytes) return set_error(IEGPU_ERR_INVALID, "no engine");
	*bytes = workspace_bytes(e, n, h, w);
	return IEGPU_OK;
}

extern "C" int iegpu_engine_memory(iegpu_engine *e, size_t *wb, size_t *ab) {
	if (!e) return set_error(IEGPU_ERR_INVALID, "no engine");
	if (wb) *wb = e->w_bytes;
	if (ab) *ab = e->act_bytes;
	return IEGPU_OK;
}

// run_host runs n tiles from host memory and copies the output back: the
// float32 planes, or with rgba set the RGBA8 images.
static int run_host(iegpu_engine *e, const float *in, int n, int h, int w, void *out, bool rgba) {
	if (!e || !in || !out) return set_error(IEGPU_ERR_INVALID, "nil argument");
	int st;
	if ((st = set_device(e)) || (st = reserve(e, n, h, w))) return st;
	cudaStream_t s = e->ctx->stream;
	size_t in_b = (size_t)n * 3 * h * w * sizeof(float);
	size_t out_b = in_b * e->out_scale * e->out_scale;
	CU(cudaMemcpyAsync(e->d_in, in, in_b, cudaMemcpyHostToDevice, s));
	if ((st = forward(e, n, h, w))) return st;
	if (rgba) {
		int oh = h * e->out_scale, ow = w * e->out_scale;
		if ((st = launch_rgba8(e->d_out, e->d_rgba, n, oh, ow, s))) return st;
		CU(cudaMemcpyAsync(out, e->d_rgba, (size_t)n * oh * ow * 4, cudaMemcpyDeviceToHost, s));
	} else {
		CU(cudaMemcpyAsync(out, e->d_out, out_b, cudaMemcpyDeviceToHost, s));
	}
	CU(cudaStreamSynchronize(s));
	return IEGPU_OK;
}

extern "C" int iegpu_engine_run(iegpu_engine *e, const float *in, int n, int h, int w, float *out) {
	return run_host(e, in, n, h, w, out, false);
}

extern "C" int iegpu_engine_run_rgba8(iegpu_engine *e, const float *in, int n, int h, int w, unsigned char *out) {
	return run_host(e, in, n, h, w, out, true);
}

// fill_random puts a fixed pseudo-random image in the input buffer: timing
// on zeros can flatter the kernels.
__global__ void fill_random_kernel(float *p, size_t n) {
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint32_t x = (uint32_t)i * 2654435761u + 12345u;
		x ^= x >> 13; x *= 0x5bd1e995u; x ^= x >> 15;
		p[i] = (x & 0xffffff) / 16777216.0f;
	}
}

extern "C" int iegpu_engine_time(iegpu_engine *e, int n, int h, int w, int iters, float *ms) {
	if (!e || !ms || iters <= 0) return set_error(IEGPU_ERR_INVALID, "bad argument");
	int st;
	if ((st = set_device(e)) || (st = reserve(e, n, h, w))) return st;
	cudaStream_t s = e->ctx->stream;
	size_t cnt = (size_t)n * 3 * h * w;
	fill_random_kernel<<<1024, 256, 0, s>>>(e->d_in, cnt);
	CU(cudaGetLastError());
	for (int i = 0; i < 3; i++)
		if ((st = forward(e, n, h, w))) return st;
	cudaEvent_t a, b;
	CU(cudaEventCreate(&a));
	CU(cudaEventCreate(&b));
	std::vector<float> ts;
	for (int i = 0; i < iters && st == IEGPU_OK; i++) {
		cudaEventRecord(a, s);
		st = forward(e, n, h, w);
		cudaEventRecord(b, s);
		cudaError_t ce = cudaEventSynchronize(b);
		if (ce) st = cuda_status(ce, "cudaEventSynchronize");
		float t = 0;
		cudaEventElapsedTime(&t, a, b);
		ts.push_back(t);
	}
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	*ms = median(ts);
	return st;
}

// choose_pdl times the whole forward with programmatic launches off and on
// and keeps the faster. Overlapping a layer's prologue with the tail of the
// one before won 1-3% on the compact networks and lost as much on RRDBNet
// (H100). A failure with them on leaves them off.
static int choose_pdl(iegpu_engine *e, int n, int h, int w) {
	float t[2] = {0, 0};
	for (int p = 0; p < 2; p++) {
		e->pdl = p == 1;
		drop_graphs(e);
		int st = iegpu_engine_time(e, n, h, w, 10, &t[p]);
		if (st && p == 0) return st;
		if (st) {
			cudaGetLastError();
			t[1] = 1e30f;
		}
	}
	e->pdl = t[1] < t[0];
	drop_graphs(e);
	std::ostringstream rep;
	rep << "# forward ms, programmatic launches off " << t[0] << " on " << t[1] << " -> " << (e->pdl ? "on" : "off")
	    << '\n';
	e->tune_report += rep.str();
	return IEGPU_OK;
}

extern "C" int iegpu_engine_tune(iegpu_engine *e, int n, int h, int w) {
	if (!e) return set_error(IEGPU_ERR_INVALID, "no engine");
	int st;
	if ((st = set_device(e)) || (st = reserve(e, n, h, w))) return st;
	cudaStream_t s = e->ctx->stream;
	e->tune_report = "# tuned on " + std::to_string(n) + "x" + std::to_string(h) + "x" + std::to_string(w) + "\n";
	fill_random_kernel<<<1024, 256, 0, s>>>(e->d_in, (size_t)n * 3 * h * w);
	CU(cudaGetLastError());
	if ((st = launch_pack_input(e->d_in, e->d_bufs[0], e->bufs[0].channels, e->unshuffle, n, h, w, s))) return st;
	cudaEvent_t a, b;
	CU(cudaEventCreate(&a));
	CU(cudaEventCreate(&b));
	// Layers of one shape share a choice: time the first of each shape only.
	std::vector<std::pair<std::string, int>> chosen;
	for (ConvOp &op : e->ops) {
		std::ostringstream key;
		key << op.cin_pad << ' ' << op.cout_pad << ' ' << op.in_level << ' ' << op.upsample << ' ' << op.mode;
		auto it = std::find_if(chosen.begin(), chosen.end(), [&](auto &c) { return c.first == key.str(); });
		if (it != chosen.end()) { op.variant = it->second; continue; }
		float best = 1e30f;
		int bestv = 0;
		std::ostringstream rep;
		rep << "# cin " << op.cin_pad << " cout " << op.cout_pad << " level " << op.in_level << " ups " << op.upsample
		    << " mode " << op.mode << " us:";
		for (int v = 0; v < conv_variants() && st == IEGPU_OK; v++) {
			op.variant = v;
			// One launch to warm up, then three timings of five launches
			// back to back: the GPU's time per layer as a graph replays it,
			// without the host's launch overhead between events.
			std::vector<float> ts;
			bool ok = launch_conv(e, op, n, h, w, s) == IEGPU_OK;
			for (int i = 0; i < 3 && ok; i++) {
				cudaEventRecord(a, s);
				for (int k = 0; k < 5 && ok; k++) ok = launch_conv(e, op, n, h, w, s) == IEGPU_OK;
				cudaEventRecord(b, s);
				cudaError_t ce = cudaEventSynchronize(b);
				if (ce) {  // a fault in a kernel is sticky: give up tuning
					st = cuda_status(ce, "tuning");
					break;
				}
				float t = 0;
				cudaEventElapsedTime(&t, a, b);
				ts.push_back(t / 5);
			}
			if (!ok) cudaGetLastError();  // a variant that cannot launch here is skipped
			float m = ok ? median(ts) : 1e30f;
			rep << ' ' << (ok ? (int)(m * 1000) : -1);
			if (m < best) { best = m; bestv = v; }
		}
		op.variant = bestv;
		rep << " -> " << bestv << '\n';
		e->tune_report += rep.str();
		chosen.push_back({key.str(), bestv});
	}
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	if (st == IEGPU_OK) CU(cudaStreamSynchronize(s));
	if (st == IEGPU_OK) st = choose_pdl(e, n, h, w);
	drop_graphs(e);
	return st;
}

extern "C" int iegpu_engine_plan(iegpu_engine *e, char *buf, size_t len, size_t *needed) {
	if (!e) return set_error(IEGPU_ERR_INVALID, "no engine");
	std::ostringstream o;
	o << "iegpu-plan 1\nlayers " << e->ops.size() << "\nvariants";
	for (const ConvOp &op : e->ops) o << ' ' << op.variant;
	o << "\npdl " << (e->pdl ? 1 : 0) << '\n' << e->tune_report;
	std::string s = o.str();
	if (needed) *needed = s.size() + 1;
	if (buf && len > 0) {
		size_t k = std::min(len - 1, s.size());
		memcpy(buf, s.data(), k);
		buf[k] = 0;
	}
	return IEGPU_OK;
}

extern "C" int iegpu_engine_set_plan(iegpu_engine *e, const char *plan) {
	if (!e || !plan) return set_error(IEGPU_ERR_INVALID, "no plan");
	std::istringstream in(plan);
	std::string word;
	int version = 0;
	size_t layers = 0;
	if (!(in >> word >> version) || word != "iegpu-plan" || version != 1)
		return set_error(IEGPU_ERR_PLAN, "not a version 1 plan");
	if (!(in >> word >> layers) || word != "layers" || layers != e->ops.size())
		return set_error(IEGPU_ERR_PLAN, "plan is for another network");
	if (!(in >> word) || word != "variants") return set_error(IEGPU_ERR_PLAN, "plan has no variants");
	std::vector<int> vs(layers);
	for (size_t i = 0; i < layers; i++)
		if (!(in >> vs[i]) || vs[i] < 0 || vs[i] >= conv_variants())
			return set_error(IEGPU_ERR_PLAN, "bad variant in plan");
	for (size_t i = 0; i < layers; i++) e->ops[i].variant = vs[i];
	int pdl = 0;  // absent in hand-written plans: off
	if (in >> word && word == "pdl" && !(in >> pdl)) return set_error(IEGPU_ERR_PLAN, "bad pdl in plan");
	e->pdl = pdl != 0;
	drop_graphs(e);
	return IEGPU_OK;
}
