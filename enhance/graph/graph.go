// Package graph describes the networks that the inference runtimes run: the
// architecture with its sizes and every weight, in PyTorch layout. It is the
// contract between package enhance, which builds these descriptions from
// checkpoints, and the runtimes (CPU, GPU), which compile and run them.
//
// It deliberately holds no code that computes: no parsing, no inference;
// only the Model interface that every runtime's loaded network satisfies.
package graph

import (
	"context"
	"errors"
)

// ErrOutOfMemory is what a Model's Forward wraps when its device has not
// the memory for the tiles it was given, so that its caller can retry with
// smaller ones. Runtimes make their own out-of-memory errors match it with
// errors.Is; package enhance halves its tile when it sees it.
var ErrOutOfMemory = errors.New("out of device memory")

// Conv is a 2-D convolution with stride 1 and "same" zero padding (K/2), as
// torch.nn.Conv2d(In, Out, K, 1, K/2).
type Conv struct {
	Out, In, K int
	Weight     []float32 // Out×In×K×K, row-major (PyTorch OIHW)
	Bias       []float32 // Out values, or nil when the layer has none
}

// RDB is a residual dense block: conv1..conv5, where conv i reads the
// concatenation of the block input and the outputs of convs 1..i-1.
type RDB [5]Conv

// RRDB is a residual-in-residual dense block: three RDBs.
type RRDB [3]RDB

// RRDBNet is ESRGAN's generator as Real-ESRGAN uses it (RealESRGAN_x4plus,
// RealESRGAN_x2plus, RealESRGAN_x4plus_anime_6B). For Scale 2 (or 1) the
// input is pixel-unshuffled by 2 (or 4) before First, so First.In is 12 (or 48).
//
//	f = First(x); f = f + ConvBody(Body(f))
//	f = lrelu(Up1(nearest2x(f))); f = lrelu(Up2(nearest2x(f)))
//	y = Last(lrelu(HR(f)))
//
// Inside an RDB: x_i = lrelu(conv_i(cat(x, x_1..x_{i-1}))) for i < 5, and the
// block returns conv5(cat(...))*0.2 + x; an RRDB returns rdb3(rdb2(rdb1(x)))*0.2 + x.
// All leaky ReLUs have slope 0.2.
type RRDBNet struct {
	Scale            int // 4, 2 or 1: the network's own output scale
	NumFeat, NumGrow int
	First            Conv
	Body             []RRDB
	ConvBody         Conv
	Up1, Up2, HR     Conv
	Last             Conv
}

// SRVGG is SRVGGNetCompact (realesr-general-x4v3, realesr-animevideov3):
// Convs[0] maps 3 to NumFeat channels, Convs[1..len-2] are NumFeat to NumFeat,
// and the last maps NumFeat to 3·Upscale² channels. Every conv but the last is
// followed by a PReLU whose per-channel slopes are PReLU[i]. The output is
// pixel_shuffle(body, Upscale) + nearest_upsample(x, Upscale).
type SRVGG struct {
	Upscale int
	NumFeat int
	Convs   []Conv
	PReLU   [][]float32
}

// Network is one of the architectures above.
type Network interface {
	// OutScale is how many output pixels one input pixel becomes per side.
	OutScale() int
	// InputMultiple is what the input height and width must be a multiple of.
	InputMultiple() int
}

// OutScale implements Network: RRDBNet always upsamples its features by 4,
// after a pixel-unshuffle that makes the net effect Scale.
func (n *RRDBNet) OutScale() int { return n.Scale }

// InputMultiple implements Network: pixel-unshuffle needs whole 2×2 (or 4×4) cells.
func (n *RRDBNet) InputMultiple() int { return 4 / n.Scale }

// OutScale implements Network.
func (n *SRVGG) OutScale() int { return n.Upscale }

// InputMultiple implements Network.
func (n *SRVGG) InputMultiple() int { return 1 }

// Model is one network loaded on a runtime. It is declared here, beside the
// descriptions, so that runtimes can return it without importing package
// enhance. It is safe for use by one goroutine at a time; the pipeline
// serialises calls through its semaphore.
type Model interface {
	// Forward runs the network on n tiles of h×w pixels. in holds n×3×h×w
	// float32 values in NCHW order, RGB in [0,1]; out receives
	// n×3×(h·s)×(w·s) values (s the network's OutScale) before any clamping.
	// h and w are multiples of the network's InputMultiple.
	//
	// For a GFPGAN the tiles are n faces and h = w = Size exactly (any
	// other size is an error); the model applies the network's (x−0.5)/0.5
	// itself and out receives the raw network output in [−1,1], not
	// clamped and not mapped back to [0,1].
	//
	// An error that matches ErrOutOfMemory means the same call with
	// smaller tiles may succeed.
	Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error
	// Close frees the runtime's memory; calling it twice is safe.
	Close() error
}
