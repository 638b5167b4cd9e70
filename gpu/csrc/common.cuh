// common.cuh: what every part of the library shares: the handles' insides,
// the error slot and the checks that turn CUDA failures into status codes.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string>
#include <vector>

#include "iegpu.h"

// set_error records msg as this thread's last error and returns st.
int set_error(int st, const std::string &msg);
// cuda_status maps a CUDA error to a status, recording where it happened.
int cuda_status(cudaError_t e, const char *what);

#define CU(call)                                                  \
	do {                                                          \
		cudaError_t e_ = (call);                                  \
		if (e_ != cudaSuccess) return cuda_status(e_, #call);    \
	} while (0)

struct iegpu_context {
	int device;
	cudaStream_t stream;
	cudaDeviceProp prop;
};

// Buffers of activations, fp16 NHWC, each at one of three resolutions.
enum Level { L0 = 0, L1 = 1, L2 = 2 };  // input size, 2x, 4x (RRDB's upsampling)

struct BufSpec {
	int channels;  // pixel stride in halves, a multiple of 8
	int level;
};

// A view of channels [off, off+n) of buffer buf.
struct View {
	int buf = -1, off = 0;
};

enum Act { ACT_NONE = 0, ACT_LRELU = 1, ACT_PRELU = 2 };
enum OutMode { OUT_NHWC = 0, OUT_NCHW_F32 = 1, OUT_SHUFFLE_F32 = 2 };

// ConvOp is one 3x3 convolution with its fused epilogue.
struct ConvOp {
	int cin_pad, cout, cout_pad;
	size_t w_off, b_off, s_off;  // into the engine's weight, bias and slope arrays
	View in;
	int in_level;
	bool upsample;  // nearest 2x on the input, folded into the loads
	View out;
	int act;
	float s1 = 1, s2 = 1;
	View res1, res2;
	int mode = OUT_NHWC;
	int variant = 0;  // set to conv_default_variant() when built
};

struct GraphEntry {
	int n, h, w;
	cudaGraphExec_t exec;
};

struct iegpu_engine {
	iegpu_context *ctx;
	int arch, scale, unshuffle, cin_real, cin_pad, out_scale;
	std::vector<BufSpec> bufs;
	std::vector<ConvOp> ops;
	// weights on the device
	half *d_w = nullptr;
	float *d_b = nullptr, *d_s = nullptr;
	size_t w_bytes = 0;
	// activations for the reserved shape
	int res_n = 0, res_h = 0, res_w = 0;
	std::vector<half *> d_bufs;
	float *d_in = nullptr, *d_out = nullptr;
	unsigned char *d_rgba = nullptr;  // the output as RGBA8, for iegpu_engine_run_rgba8
	// Partial sums of tiles split between two blocks (Hopper's variants): a
	// slot of kPartFloats floats (conv.cuh) and a flag a multiprocessor.
	float *d_part = nullptr;
	unsigned *d_flags = nullptr;
	size_t act_bytes = 0;
	std::vector<GraphEntry> graphs;
	bool pdl = false;  // Hopper's kernels launch with programmatic stream serialization (chosen by tuning)
	bool split = false;  // Hopper's kernels split the tiles of their last rounds by chunks (chosen by tuning)
	std::string tune_report;  // per layer shape: each variant's microseconds
};

// Kernels (one file each).
int conv_variants();
int conv_prepare();
int conv_default_variant();
int launch_conv(const iegpu_engine *e, const ConvOp &op, int n, int h, int w, cudaStream_t s);
int launch_pack_input(const float *in, half *out, int cpad, int unshuffle, int n, int h, int w, cudaStream_t s);
// launch_rgba8 quantises n float32 NCHW RGB images of h x w into RGBA8.
int launch_rgba8(const float *out, unsigned char *rgba, int n, int h, int w, cudaStream_t s);

// Memory (memory.cu).
size_t workspace_bytes(const iegpu_engine *e, int n, int h, int w);
int reserve(iegpu_engine *e, int n, int h, int w);
void release_activations(iegpu_engine *e);
void drop_graphs(iegpu_engine *e);
// level_dims gives a level's height and width for an input of h x w pixels.
void level_dims(const iegpu_engine *e, int level, int h, int w, int *lh, int *lw);
