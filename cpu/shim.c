//go:build cgo && !noonednn

// shim.c implements shim.h on the oneDNN v2 C API (operation descriptors,
// primitive descriptors, post-ops), as Debian's libdnnl-dev 2.6 ships it.
#include "shim.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

struct ie_ctx {
	dnnl_engine_t eng;
	dnnl_stream_t st;
};

struct ie_conv {
	dnnl_primitive_t prim;
	dnnl_memory_t src, wei, bias, dst, src1;
	dnnl_memory_t wuser;        // OIHW f32 weights, for ie_conv_set_weights
	dnnl_primitive_t wreorder;  // wuser into wei
	int has_src1, add_index;
	char impl[64];
};

#define TRY(e) do { dnnl_status_t s_ = (e); if (s_ != dnnl_success) { rc = (int)s_; goto done; } } while (0)

static dnnl_data_type_t dtype(int dt) { return dt == IE_BF16 ? dnnl_bf16 : dnnl_f32; }

static int tag_of(int block, dnnl_format_tag_t *t) {
	switch (block) {
	case 16: *t = dnnl_nChw16c; return 0;
	case 8: *t = dnnl_nChw8c; return 0;
	case 4: *t = dnnl_nChw4c; return 0;
	case 1: *t = dnnl_nchw; return 0;
	}
	return IE_EINVAL;
}

int ie_ctx_create(ie_ctx **out, int threads) {
	*out = NULL;
	ie_ctx *c = calloc(1, sizeof *c);
	if (!c) return IE_ENOMEM;
	int rc = 0;
	if (threads > 0) omp_set_num_threads(threads);
	TRY(dnnl_engine_create(&c->eng, dnnl_cpu, 0));
	TRY(dnnl_stream_create(&c->st, c->eng, dnnl_stream_default_flags));
	*out = c;
	return 0;
done:
	ie_ctx_destroy(c);
	return rc;
}

void ie_ctx_destroy(ie_ctx *c) {
	if (!c) return;
	if (c->st) dnnl_stream_destroy(c->st);
	if (c->eng) dnnl_engine_destroy(c->eng);
	free(c);
}

static int act_md(dnnl_memory_desc_t *md, int ch, int h, int w, int block, int nhwc, int dt) {
	dnnl_format_tag_t t = dnnl_nhwc;
	if (!nhwc && tag_of(block, &t)) return IE_EINVAL;
	dnnl_dims_t d = {1, ch, h, w};
	return (int)dnnl_memory_desc_init_by_tag(md, 4, d, dtype(dt), t);
}

int ie_conv_create(ie_ctx *c, ie_conv **out, const ie_conv_desc *d,
		const float *weight, const float *bias) {
	*out = NULL;
	if (d->npost < 0 || d->npost > 4 || d->k % 2 != 1) return IE_EINVAL;
	ie_conv *v = calloc(1, sizeof *v);
	if (!v) return IE_ENOMEM;
	int rc = 0;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_memory_t wuser = NULL;

	dnnl_memory_desc_t smd, wmd, bmd, dmd, wumd;
	if ((rc = act_md(&smd, d->ic, d->h, d->w, d->block, d->nhwc, d->src_dt))) goto done;
	if ((rc = act_md(&dmd, d->oc, d->h, d->w, d->block, d->nhwc, d->dst_dt))) goto done;
	dnnl_dims_t wd = {d->oc, d->ic, d->k, d->k}, bd = {d->oc};
	TRY(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dtype(d->src_dt), dnnl_format_tag_any));
	TRY(dnnl_memory_desc_init_by_tag(&wumd, 4, wd, dnnl_f32, dnnl_oihw));
	TRY(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x));

	dnnl_convolution_desc_t cd;
	dnnl_dims_t strides = {1, 1}, pad = {d->k / 2, d->k / 2};
	TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
			dnnl_convolution_direct, &smd, &wmd, bias ? &bmd : NULL, &dmd,
			strides, pad, pad));

	TRY(dnnl_primitive_attr_create(&attr));
	TRY(dnnl_post_ops_create(&po));
	v->add_index = -1;
	for (int i = 0; i < d->npost; i++) {
		switch (d->post[i]) {
		case IE_POST_LRELU:
			TRY(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, d->alpha[i], 0.f));
			break;
		case IE_POST_LINEAR:
			TRY(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_linear, d->alpha[i], 0.f));
			break;
		case IE_POST_SUM:
			TRY(dnnl_post_ops_append_sum(po, 1.f));
			break;
		case IE_POST_ADD:
			if (v->add_index >= 0) { rc = IE_EINVAL; goto done; }
			TRY(dnnl_post_ops_append_binary(po, dnnl_binary_add, &dmd));
			v->add_index = i;
			break;
		default:
			rc = IE_EINVAL;
			goto done;
		}
	}
	TRY(dnnl_primitive_attr_set_post_ops(attr, po));
	TRY(dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, NULL));

	const char *impl = "";
	dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
	strncpy(v->impl, impl, sizeof v->impl - 1);

	const dnnl_memory_desc_t *q;
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	TRY(dnnl_memory_create(&v->src, q, c->eng, DNNL_MEMORY_NONE));
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	TRY(dnnl_memory_create(&v->dst, q, c->eng, DNNL_MEMORY_NONE));
	if (v->add_index >= 0) TRY(dnnl_memory_create(&v->src1, q, c->eng, DNNL_MEMORY_NONE));
	q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	TRY(dnnl_memory_create(&v->wei, q, c->eng, DNNL_MEMORY_ALLOCATE));
	TRY(dnnl_memory_create(&wuser, &wumd, c->eng, (void *)weight));
	TRY(dnnl_reorder_primitive_desc_create(&rpd, &wumd, c->eng, q, c->eng, NULL));
	TRY(dnnl_primitive_create(&reorder, rpd));
	if (weight) {
		dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wuser}, {DNNL_ARG_TO, v->wei}};
		TRY(dnnl_primitive_execute(reorder, c->st, 2, rargs));
		TRY(dnnl_stream_wait(c->st));
	}
	if (bias) {
		TRY(dnnl_memory_create(&v->bias, &bmd, c->eng, DNNL_MEMORY_ALLOCATE));
		void *h;
		TRY(dnnl_memory_get_data_handle(v->bias, &h));
		memcpy(h, bias, sizeof(float) * d->oc);
	}
	TRY(dnnl_primitive_create(&v->prim, pd));
	v->wuser = wuser, v->wreorder = reorder;
	wuser = NULL, reorder = NULL;
	*out = v;
	v = NULL;
done:
	if (reorder) dnnl_primitive_destroy(reorder);
	if (rpd) dnnl_primitive_desc_destroy(rpd);
	if (wuser) dnnl_memory_destroy(wuser);
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (po) dnnl_post_ops_destroy(po);
	if (attr) dnnl_primitive_attr_destroy(attr);
	ie_conv_destroy(v);
	return rc;
}

const char *ie_conv_impl(ie_conv *v) { return v->impl; }

int ie_conv_run(ie_ctx *c, ie_conv *v, void *src, void *dst, void *src1) {
	int rc = 0;
	if ((v->src1 != NULL) != (src1 != NULL)) return IE_EINVAL;
	dnnl_exec_arg_t a[5];
	int n = 0;
	TRY(dnnl_memory_set_data_handle(v->src, src));
	TRY(dnnl_memory_set_data_handle(v->dst, dst));
	a[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, v->src};
	a[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, v->wei};
	a[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, v->dst};
	if (v->bias) a[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, v->bias};
	if (v->src1) {
		TRY(dnnl_memory_set_data_handle(v->src1, src1));
		a[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(v->add_index) | DNNL_ARG_SRC_1, v->src1};
	}
	TRY(dnnl_primitive_execute(v->prim, c->st, n, a));
	TRY(dnnl_stream_wait(c->st));
done:
	return rc;
}

int ie_conv_set_weights(ie_ctx *c, ie_conv *v, const float *weight) {
	int rc = 0;
	TRY(dnnl_memory_set_data_handle(v->wuser, (void *)weight));
	dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, v->wuser}, {DNNL_ARG_TO, v->wei}};
	TRY(dnnl_primitive_execute(v->wreorder, c->st, 2, a));
	TRY(dnnl_stream_wait(c->st));
done:
	return rc;
}

void ie_conv_destroy(ie_conv *v) {
	if (!v) return;
	if (v->wreorder) dnnl_primitive_destroy(v->wreorder);
	if (v->wuser) dnnl_memory_destroy(v->wuser);
	if (v->prim) dnnl_primitive_destroy(v->prim);
	if (v->src) dnnl_memory_destroy(v->src);
	if (v->wei) dnnl_memory_destroy(v->wei);
	if (v->bias) dnnl_memory_destroy(v->bias);
	if (v->dst) dnnl_memory_destroy(v->dst);
	if (v->src1) dnnl_memory_destroy(v->src1);
	free(v);
}

void *ie_alloc(size_t bytes) {
	bytes = (bytes + 63) / 64 * 64;
	if (bytes == 0) bytes = 64;
	void *p = aligned_alloc(64, bytes);
	if (p) memset(p, 0, bytes);
	return p;
}

void ie_free(void *p) { free(p); }

static inline uint16_t to_bf16(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even
	return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t b) {
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

// off is the index of (channel ch, row y, column x) in nChw{block}c.
static inline size_t off(int ch, int y, int x, int h, int w, int block) {
	return (((size_t)(ch / block) * h + y) * w + x) * block + ch % block;
}

void ie_pack_input(const float *in, int h, int w, int r, void *dst, int block, int dt) {
	int oh = h / r, ow = w / r, oc = 3 * r * r;
	#pragma omp parallel for
	for (int co = 0; co < oc; co++) {
		int ci = co / (r * r), i = co / r % r, j = co % r;
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				float v = in[((size_t)ci * h + y * r + i) * w + x * r + j];
				size_t o = off(co, y, x, oh, ow, block);
				if (dt == IE_BF16) ((uint16_t *)dst)[o] = to_bf16(v);
				else ((float *)dst)[o] = v;
			}
	}
}

void ie_upsample2(const void *src, void *dst, int c, int h, int w, int block, int dt) {
	int nb = (c + block - 1) / block;
	size_t es = dt == IE_BF16 ? 2 : 4, vec = es * block;
	#pragma omp parallel for collapse(2)
	for (int b = 0; b < nb; b++)
		for (int y = 0; y < 2 * h; y++) {
			const char *s = (const char *)src + (((size_t)b * h + y / 2) * w) * vec;
			char *d = (char *)dst + (((size_t)b * 2 * h + y) * 2 * w) * vec;
			for (int x = 0; x < w; x++) {
				memcpy(d + 2 * x * vec, s + x * vec, vec);
				memcpy(d + (2 * x + 1) * vec, s + x * vec, vec);
			}
		}
}

void ie_unpack_output(const void *src, int h, int w, int r, int block, int dt,
		float *out, const float *in) {
	int oh = h * r, ow = w * r;
	#pragma omp parallel for collapse(2)
	for (int c = 0; c < 3; c++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				int ch = c * r * r + (y % r) * r + x % r;
				size_t o = off(ch, y / r, x / r, h, w, block);
				float v = dt == IE_BF16 ? from_bf16(((const uint16_t *)src)[o]) : ((const float *)src)[o];
				if (in) v += in[((size_t)c * h + y / r) * w + x / r];
				out[((size_t)c * oh + y) * ow + x] = v;
			}
}

void ie_prelu_inplace(void *x, int c, int h, int w, int block, int dt, const float *slope) {
	int nb = (c + block - 1) / block;
	#pragma omp parallel for collapse(2)
	for (int b = 0; b < nb; b++)
		for (int y = 0; y < h; y++) {
			float a[16] = {0};
			for (int i = 0; i < block && i < 16 && b * block + i < c; i++) a[i] = slope[b * block + i];
			size_t o = ((size_t)b * h + y) * w * block;
			if (dt == IE_BF16) {
				uint16_t *p = (uint16_t *)x + o;
				const float *sl = slope + b * block;
				int lim = c - b * block < block ? c - b * block : block;
				for (int xx = 0; xx < w; xx++, p += block)
					for (int i = 0; i < lim; i++) {
						float v = from_bf16(p[i]);
						p[i] = to_bf16(v * (v < 0 ? sl[i] : 1.f));
					}
			} else if (block == 16) {
				float *p = (float *)x + o;
				for (int xx = 0; xx < w; xx++, p += 16)
					for (int i = 0; i < 16; i++) p[i] *= p[i] < 0 ? a[i] : 1.f;  // branch-free, vectorised
			} else {
				float *p = (float *)x + o;
				const float *sl = slope + b * block;
				int lim = c - b * block < block ? c - b * block : block;
				for (int xx = 0; xx < w; xx++, p += block)
					for (int i = 0; i < lim; i++) p[i] *= p[i] < 0 ? sl[i] : 1.f;
			}
		}
}

void ie_spread(const void *src, int cs, void *const *dst, const int *cd, int n, int c0, size_t pixels, int dt) {
	size_t es = dt == IE_BF16 ? 2 : 4, len = cs * es;
	#pragma omp parallel for
	for (size_t i = 0; i < pixels; i++) {
		const char *s = (const char *)src + i * len;
		for (int k = 0; k < n; k++) memcpy((char *)dst[k] + (i * cd[k] + c0) * es, s, len);
	}
}

void ie_copy(void *dst, const void *src, size_t bytes) {
	const size_t chunk = 1 << 20;
	size_t n = (bytes + chunk - 1) / chunk;
	#pragma omp parallel for
	for (size_t i = 0; i < n; i++) {
		size_t o = i * chunk, len = bytes - o < chunk ? bytes - o : chunk;
		memcpy((char *)dst + o, (const char *)src + o, len);
	}
}

// The GFPGAN loops below work on f32 nhwc tensors.

void ie_gfp_pack(const float *in, size_t px, float *dst) {
	#pragma omp parallel for
	for (size_t i = 0; i < px; i++)
		for (int c = 0; c < 3; c++) dst[i * 3 + c] = (in[c * px + i] - 0.5f) / 0.5f;
}

void ie_gfp_unpack(const float *src, size_t px, float *out) {
	#pragma omp parallel for
	for (size_t i = 0; i < px; i++)
		for (int c = 0; c < 3; c++) out[c * px + i] = src[i * 3 + c];
}

void ie_up2_bilinear(const float *src, void *dst, int c, int h, int w, int dt) {
	#pragma omp parallel for
	for (int y = 0; y < 2 * h; y++) {
		// src = (dst+0.5)/2 - 0.5, clamped at 0; the next one clamped at the edge.
		float sy = (y + 0.5f) / 2 - 0.5f;
		if (sy < 0) sy = 0;
		int y0 = (int)sy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
		float ly = sy - y0;
		for (int x = 0; x < 2 * w; x++) {
			float sx = (x + 0.5f) / 2 - 0.5f;
			if (sx < 0) sx = 0;
			int x0 = (int)sx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
			float lx = sx - x0;
			const float *a = src + ((size_t)y0 * w + x0) * c, *b = src + ((size_t)y0 * w + x1) * c;
			const float *e = src + ((size_t)y1 * w + x0) * c, *f = src + ((size_t)y1 * w + x1) * c;
			size_t o = ((size_t)y * 2 * w + x) * c;
			if (dt == IE_BF16) {
				uint16_t *d = (uint16_t *)dst + o;
				for (int i = 0; i < c; i++)
					d[i] = to_bf16((1 - ly) * ((1 - lx) * a[i] + lx * b[i]) + ly * ((1 - lx) * e[i] + lx * f[i]));
			} else {
				float *d = (float *)dst + o;
				for (int i = 0; i < c; i++)
					d[i] = (1 - ly) * ((1 - lx) * a[i] + lx * b[i]) + ly * ((1 - lx) * e[i] + lx * f[i]);
			}
		}
	}
}

void ie_down2_mean(const float *src, float *dst, int c, int h, int w) {
	int oh = h / 2, ow = w / 2;
	#pragma omp parallel for
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			const float *a = src + ((size_t)(2 * y) * w + 2 * x) * c, *b = a + c;
			const float *e = a + (size_t)w * c, *f = e + c;
			float *d = dst + ((size_t)y * ow + x) * c;
			for (int i = 0; i < c; i++) d[i] = (a[i] + b[i] + e[i] + f[i]) / 4;
		}
}

void ie_add(float *dst, const float *a, const float *b, size_t n) {
	#pragma omp parallel for
	for (size_t i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

void ie_style_act(float *x, int c, size_t px, const float *noise, float nw, const float *bias,
		int c0, const float *scale, const float *shift, void *out, int dt) {
	int cs = c - c0;
	#pragma omp parallel for
	for (size_t i = 0; i < px; i++) {
		float *p = x + i * c, n = nw * noise[i];
		float v[c];
		for (int j = 0; j < c; j++) {
			float t = p[j] + n + bias[j];
			v[j] = t < 0 ? 0.2f * t : t;
		}
		if (scale) {
			const float *s = scale + i * cs, *t = shift + i * cs;
			for (int j = 0; j < cs; j++) v[c0 + j] = v[c0 + j] * s[j] + t[j];
		}
		if (dt == IE_BF16) {
			uint16_t *d = (uint16_t *)out + i * c;
			for (int j = 0; j < c; j++) d[j] = to_bf16(v[j]);
		} else {
			float *d = (float *)out + i * c;
			for (int j = 0; j < c; j++) d[j] = v[j];
		}
	}
}

// linear is y = w·x + b (b may be NULL), w out×in.
static void linear(const float *w, const float *b, const float *x, int in, int out, float *y) {
	#pragma omp parallel for
	for (int o = 0; o < out; o++) {
		const float *r = w + (size_t)o * in;
		double acc = b ? b[o] : 0;
		for (int i = 0; i < in; i++) acc += (double)r[i] * x[i];
		y[o] = (float)acc;
	}
}

void ie_modulate(const float *w, int out, int in, int kk, const float *mw, const float *mb,
		const float *latent, int nstyle, int demod, float gain, float *s, float *dst) {
	linear(mw, mb, latent, nstyle, in, s);
	#pragma omp parallel for
	for (int o = 0; o < out; o++) {
		const float *r = w + (size_t)o * in * kk;
		float *d = dst + (size_t)o * in * kk;
		double sum = 0;
		for (int i = 0; i < in; i++)
			for (int k = 0; k < kk; k++) {
				float v = r[i * kk + k] * s[i];
				d[i * kk + k] = v;
				sum += (double)v * v;
			}
		float g = demod ? gain / sqrtf((float)sum + 1e-8f) : gain;
		for (int i = 0; i < in * kk; i++) d[i] *= g;
	}
}

void ie_to_bf16(const float *src, void *dst, size_t n) {
	uint16_t *d = dst;
	#pragma omp parallel for
	for (size_t i = 0; i < n; i++) d[i] = to_bf16(src[i]);
}
