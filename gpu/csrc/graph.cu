// graph.cu: turns a network description into the engine's plan of fused
// convolutions over named buffers, and packs the weights for the kernels:
// fp16, [cout_pad][tap][cin_pad] so that one K step (32 channels of a tap)
// is a contiguous 64-byte row per output channel.
#include <cmath>

#include "common.cuh"

namespace {

int round_up(int v, int m) { return (v + m - 1) / m * m; }

struct Packer {
	std::vector<half> w;
	std::vector<float> b, s;

	// add packs conv c for an input laid out with cin_pad channels.
	void add(ConvOp &op, const iegpu_conv &c, int cin_pad, const float *slope) {
		op.variant = conv_default_variant();
		op.cin_pad = cin_pad;
		op.cout = c.out;
		op.cout_pad = round_up(c.out, 32);
		op.w_off = w.size();
		op.b_off = b.size();
		w.resize(w.size() + (size_t)op.cout_pad * 9 * cin_pad, __float2half(0.f));
		b.resize(b.size() + op.cout_pad, 0.f);
		half *dw = w.data() + op.w_off;
		for (int co = 0; co < c.out; co++)
			for (int ci = 0; ci < c.in; ci++)
				for (int t = 0; t < 9; t++)
					dw[((size_t)co * 9 + t) * cin_pad + ci] = __float2half_rn(c.weight[((size_t)co * c.in + ci) * 9 + t]);
		if (c.bias)
			for (int co = 0; co < c.out; co++) b[op.b_off + co] = c.bias[co];
		if (slope) {
			op.s_off = s.size();
			s.resize(s.size() + op.cout_pad, 0.f);
			for (int co = 0; co < c.out; co++) s[op.s_off + co] = slope[co];
		}
	}
};

View view(int buf, int off) {
	View v;
	v.buf = buf;
	v.off = off;
	return v;
}

int check_conv(const iegpu_conv &c, int in, int out) {
	if (c.k != 3 || !c.weight) return set_error(IEGPU_ERR_INVALID, "only 3x3 convolutions with weights are supported");
	if ((in >= 0 && c.in != in) || (out >= 0 && c.out != out))
		return set_error(IEGPU_ERR_INVALID, "convolution sizes do not match the architecture (in " +
		                                        std::to_string(c.in) + ", out " + std::to_string(c.out) + ")");
	return IEGPU_OK;
}

int build_rrdb(iegpu_engine *e, const iegpu_network *net, Packer &pk) {
	int nf = net->num_feat, ng = net->num_grow;
	if (nf % 32 || ng % 32 || nf <= 0 || ng <= 0)
		return set_error(IEGPU_ERR_INVALID, "RRDBNet needs num_feat and num_grow multiples of 32");
	if (net->scale != 4 && net->scale != 2 && net->scale != 1)
		return set_error(IEGPU_ERR_INVALID, "RRDBNet scale must be 4, 2 or 1");
	if ((net->num_convs - 6) % 15 || net->num_convs < 6)
		return set_error(IEGPU_ERR_INVALID, "RRDBNet needs 6 + 15 per block convolutions");
	int nb = (net->num_convs - 6) / 15;
	e->unshuffle = 4 / net->scale;
	e->cin_real = 3 * e->unshuffle * e->unshuffle;
	e->cin_pad = round_up(e->cin_real, 32);
	e->out_scale = net->scale;
	int cc = nf + 4 * ng;
	enum { IN, F, X, P, Q, U1, U2, HR };
	e->bufs = {{e->cin_pad, L0}, {nf, L0}, {cc, L0}, {cc, L0}, {cc, L0}, {nf, L1}, {nf, L2}, {nf, L2}};
	const iegpu_conv *cv = net->convs;
	int st, k = 0;
	if ((st = check_conv(cv[0], e->cin_real, nf))) return st;
	for (int dst : {X, F}) {
		ConvOp op;
		pk.add(op, cv[0], e->cin_pad, nullptr);
		op.in = view(IN, 0); op.in_level = L0; op.upsample = false;
		op.out = view(dst, 0); op.act = ACT_NONE;
		e->ops.push_back(op);
	}
	k = 1;
	const int src[3] = {X, P, Q}, dst[3] = {P, Q, X};
	for (int b = 0; b < nb; b++)
		for (int r = 0; r < 3; r++)
			for (int i = 1; i <= 5; i++, k++) {
				int cin = nf + (i - 1) * ng;
				if ((st = check_conv(cv[k], cin, i < 5 ? ng : nf))) return st;
				ConvOp op;
				pk.add(op, cv[k], cin, nullptr);
				op.in = view(src[r], 0); op.in_level = L0; op.upsample = false;
				if (i < 5) {
					op.out = view(src[r], cin); op.act = ACT_LRELU;
				} else {
					op.out = view(dst[r], 0); op.act = ACT_NONE;
					op.s1 = 0.2f; op.res1 = view(src[r], 0);
					if (r == 2) { op.s2 = 0.2f; op.res2 = view(X, 0); }
				}
				e->ops.push_back(op);
			}
	struct Tail { int in, level; bool ups; int out, act; };
	const Tail tail[5] = {{X, L0, false, F, ACT_NONE}, {F, L0, true, U1, ACT_LRELU}, {U1, L1, true, U2, ACT_LRELU},
	                      {U2, L2, false, HR, ACT_LRELU}, {HR, L2, false, -1, ACT_NONE}};
	for (int t = 0; t < 5; t++, k++) {
		if ((st = check_conv(cv[k], nf, t == 4 ? 3 : nf))) return st;
		ConvOp op;
		pk.add(op, cv[k], nf, nullptr);
		op.in = view(tail[t].in, 0); op.in_level = tail[t].level; op.upsample = tail[t].ups;
		op.act = tail[t].act;
		if (t == 0) { op.out = view(F, 0); op.s1 = 1.f; op.res1 = view(F, 0); }
		else if (t == 4) op.mode = OUT_NCHW_F32;
		else op.out = view(tail[t].out, 0);
		e->ops.push_back(op);
	}
	return IEGPU_OK;
}

int build_srvgg(iegpu_engine *e, const iegpu_network *net, Packer &pk) {
	int nf = net->num_feat, r = net->scale, n = net->num_convs;
	if (nf <= 0 || r <= 0 || n < 2 || !net->prelu)
		return set_error(IEGPU_ERR_INVALID, "SRVGG needs num_feat, an upscale, two convolutions and PReLU slopes");
	int nfp = round_up(nf, 32);
	e->unshuffle = 1;
	e->cin_real = 3;
	e->cin_pad = 32;
	e->out_scale = r;
	enum { IN, A, B };
	e->bufs = {{32, L0}, {nfp, L0}, {nfp, L0}};
	int st;
	for (int i = 0; i < n; i++) {
		bool last = i == n - 1;
		if ((st = check_conv(net->convs[i], i == 0 ? 3 : nf, last ? 3 * r * r : nf))) return st;
		if (!last && !net->prelu[i]) return set_error(IEGPU_ERR_INVALID, "missing PReLU slopes");
		ConvOp op;
		pk.add(op, net->convs[i], i == 0 ? 32 : nfp, last ? nullptr : net->prelu[i]);
		op.in = view(i == 0 ? IN : (i % 2 ? A : B), 0); op.in_level = L0; op.upsample = false;
		if (last) { op.act = ACT_NONE; op.mode = OUT_SHUFFLE_F32; }
		else { op.act = ACT_PRELU; op.out = view(i % 2 ? B : A, 0); }
		e->ops.push_back(op);
	}
	return IEGPU_OK;
}

}  // namespace

// build_graph fills e's buffers and operations from net and uploads the weights.
int build_graph(iegpu_engine *e, const iegpu_network *net) {
	if (!net || !net->convs) return set_error(IEGPU_ERR_INVALID, "no network");
	Packer pk;
	int st;
	e->arch = net->arch;
	e->scale = net->scale;
	switch (net->arch) {
	case IEGPU_ARCH_RRDB: st = build_rrdb(e, net, pk); break;
	case IEGPU_ARCH_SRVGG: st = build_srvgg(e, net, pk); break;
	default: return set_error(IEGPU_ERR_INVALID, "unknown architecture");
	}
	if (st) return st;
	if (pk.s.empty()) pk.s.push_back(0.f);
	e->w_bytes = pk.w.size() * sizeof(half) + (pk.b.size() + pk.s.size()) * sizeof(float);
	cudaError_t ce;
	if ((ce = cudaMalloc(&e->d_w, pk.w.size() * sizeof(half))) || (ce = cudaMalloc(&e->d_b, pk.b.size() * sizeof(float))) ||
	    (ce = cudaMalloc(&e->d_s, pk.s.size() * sizeof(float))))
		return cuda_status(ce, "cudaMalloc(weights)");
	CU(cudaMemcpy(e->d_w, pk.w.data(), pk.w.size() * sizeof(half), cudaMemcpyHostToDevice));
	CU(cudaMemcpy(e->d_b, pk.b.data(), pk.b.size() * sizeof(float), cudaMemcpyHostToDevice));
	CU(cudaMemcpy(e->d_s, pk.s.data(), pk.s.size() * sizeof(float), cudaMemcpyHostToDevice));
	return IEGPU_OK;
}
