// Package cpu is the CPU inference runtime: it compiles the networks of
// package graph (RRDBNet, SRVGG, GFPGAN) into oneDNN convolution primitives
// and runs them on all cores through cgo.
//
// In fp32, activations stay in the blocked layout of oneDNN's direct AVX-512
// kernels (nChw16c) for the whole network: the dense blocks of RRDBNet keep
// one buffer per block input and each convolution writes its output in place
// at its channel offset, so the concatenations cost nothing. In bf16 they
// stay in nhwc, the only layout of the brgemm kernels that use AMX, which
// take no channel slices, so each output is copied into the dense inputs of
// the later convolutions. Either way biases, leaky ReLUs and the residual
// additions run as post-ops of the convolutions (the residual scalings are
// folded into the weights), and buffers and primitives are built once per
// input shape and reused.
//
// GFPGAN keeps every activation in f32 nhwc (bf16 only inside the
// convolutions, whose inputs are converted first): its resizes, SFT, noise
// injection and style steps are plain C loops on one layout. Its tensors
// share one arena by lifetime. The modulated convolutions' weights depend
// on the face, so they are modulated, demodulated and reordered into the
// primitive's weight memory per image; the other weights live only in
// oneDNN once the network is compiled.
//
// The package deliberately does no tiling, clamping or image decoding: a
// Model runs one tensor of a known shape (package enhance tiles). Without cgo,
// or with -tags noonednn, New returns an error instead.
package cpu

import (
	"errors"
	"runtime"
)

// ErrNotBuilt is what New returns when the package was built without oneDNN.
var ErrNotBuilt = errors.New("cpu: not built with oneDNN (cgo disabled or -tags noonednn)")

// Config configures a Runtime.
type Config struct {
	// Threads is how many OpenMP threads oneDNN uses; 0 means all cores.
	Threads int
	// BF16 runs convolutions on bfloat16 activations and weights with
	// float32 accumulation (AMX where the CPU has it: several times faster
	// than fp32 on Sapphire Rapids). Outputs stay above 45 dB PSNR against
	// fp32: 52.8 dB for RealESRGAN_x4plus, 62 dB for the SRVGG models.
	BF16 bool

	layout int // layoutAuto in production; benchmarks compare the others
}

// Activation layouts. Auto is nChw16c in fp32, where oneDNN 2.6's direct
// AVX-512 kernels take channel slices of one buffer in place, and nhwc in
// bf16, where only the brgemm kernels use AMX.
const (
	layoutAuto = iota
	layoutBlocked
	layoutNHWC
)

func (c Config) threads() int {
	if c.Threads > 0 {
		return c.Threads
	}
	return runtime.NumCPU()
}
