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

// choose_launch times the whole forward under each way of launching Hopper's
// kernels and keeps the fastest: the last rounds' tiles split by chunks or
// whole (conv_hopper.cuh, Sched), and programmatic launches off or on.
// Timing layers alone does not see the latter: overlapping a layer's
// prologue with the tail of the one before won 1-3% on the compact networks
// and lost as much on RRDBNet (H100). A way that fails is skipped; all
// failing is an error.
static int choose_launch(iegpu_engine *e, int n, int h, int w, float *ms) {
	float t[4];
	int best = -1, st = IEGPU_OK;
	for (int k = 0; k < 4; k++) {
		e->split = k >> 1;
		e->pdl = k & 1;
		drop_graphs(e);
		if ((st = iegpu_engine_time(e, n, h, w, 10, &t[k]))) {
			cudaGetLastError();
			t[k] = 1e30f;
			continue;
		}
		if (best < 0 || t[k] < t[best]) best = k;
	}
	drop_graphs(e);
	if (best < 0) return st;
	e->split = best >> 1;
	e->pdl = best & 1;
	*ms = t[best];
	std::ostringstream rep;
	rep << "# forward ms, tiles whole / split x programmatic launches off / on:";
	for (float x : t) rep << ' ' << x;
	rep << " -> split " << e->split << " pdl " << e->pdl << '\n';
	e->tune_report += rep.str();
	return IEGPU_OK;
}

// LayerShape is the layers of one shape, which share a kernel variant, and
// each variant's microseconds timed on the first of them alone.
struct LayerShape {
	std::string key;
	std::vector<size_t> ops;
	std::vector<float> us;
	int best;
};

// refine_in_forward tries, in the whole forward, each variant that timed
// within 10% of its shape's best alone (the shapes that take most time
// first), and keeps it where the forward gets faster by more than 0.5%; cur
// is the forward's time as it stands. A layer alone reads inputs that the
// launch before it left in L2; in the forward they come from DRAM, and
// RRDBNet's 192 -> 64 layer on the kernel 3% slower alone made the forward
// 6-8% faster (H100).
static void refine_in_forward(iegpu_engine *e, std::vector<LayerShape> &shapes, int n, int h, int w, float cur) {
	std::vector<LayerShape *> order;
	for (LayerShape &sh : shapes) order.push_back(&sh);
	std::sort(order.begin(), order.end(), [](const LayerShape *x, const LayerShape *y) {
		return x->us[x->best] * x->ops.size() > y->us[y->best] * y->ops.size();
	});
	std::ostringstream rep;
	rep << "# forward ms " << cur;
	for (LayerShape *sh : order) {
		const float limit = sh->us[sh->best] * 1.10f;
		for (int v = 0; v < (int)sh->us.size(); v++) {
			if (v == sh->best || sh->us[v] > limit) continue;
			for (size_t i : sh->ops) e->ops[i].variant = v;
			drop_graphs(e);
			float t;
			if (iegpu_engine_time(e, n, h, w, 10, &t)) {
				cudaGetLastError();
				t = 1e30f;
			}
			if (t < cur * 0.995f) {
				rep << "; " << sh->key << " on " << v << ": " << t;
				cur = t;
				sh->best = v;
			}
		}
		for (size_t i : sh->ops) e->ops[i].variant = sh->best;
	}
	drop_graphs(e);
	rep << '\n';
	e->tune_report += rep.str();
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
	std::vector<LayerShape> shapes;
	for (size_t i = 0; i < e->ops.size(); i++) {
		ConvOp &op = e->ops[i];
		std::ostringstream key;
		key << "cin " << op.cin_pad << " cout " << op.cout_pad << " level " << op.in_level << " ups " << op.upsample
		    << " mode " << op.mode;
		auto it = std::find_if(shapes.begin(), shapes.end(), [&](auto &c) { return c.key == key.str(); });
		if (it != shapes.end()) {
			op.variant = it->best;
			it->ops.push_back(i);
			continue;
		}
		LayerShape sh{key.str(), {i}, {}, 0};
		std::ostringstream rep;
		rep << "# " << sh.key << " us:";
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
			sh.us.push_back(m * 1000);
			rep << ' ' << (ok ? (int)(m * 1000) : -1);
			if (m * 1000 < sh.us[sh.best]) sh.best = v;
		}
		op.variant = sh.best;
		rep << " -> " << sh.best << '\n';
		e->tune_report += rep.str();
		shapes.push_back(sh);
	}
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	if (st == IEGPU_OK) CU(cudaStreamSynchronize(s));
	float ms;
	if (st == IEGPU_OK) st = choose_launch(e, n, h, w, &ms);
	if (st == IEGPU_OK) {
		refine_in_forward(e, shapes, n, h, w, ms);
		st = choose_launch(e, n, h, w, &ms);
	}
	drop_graphs(e);
	return st;
}

extern "C" int iegpu_engine_plan(iegpu_engine *e, char *buf, size_t len, size_t *needed) {
	if (!e) return set_error(IEGPU_ERR_INVALID, "no engine");
	std::ostringstream o;
	o << "iegpu-plan 1\nlayers " << e->ops.size() << "\nvariants";
	for (const ConvOp &op : e->ops) o << ' ' << op.variant;
	o << "\npdl " << (e->pdl ? 1 : 0) << "\nsplit " << (e->split ? 1 : 0) << '\n' << e->tune_report;
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
	// pdl and split may be left out (off), in this order.
	int pdl = 0, split = 0;
	bool more = static_cast<bool>(in >> word);
	if (more && word == "pdl") {
		if (!(in >> pdl)) return set_error(IEGPU_ERR_PLAN, "bad pdl in plan");
		more = static_cast<bool>(in >> word);
	}
	if (more && word == "split" && !(in >> split)) return set_error(IEGPU_ERR_PLAN, "bad split in plan");
	e->pdl = pdl != 0;
	e->split = split != 0;
	drop_graphs(e);
	return IEGPU_OK;
}
