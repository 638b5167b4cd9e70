//go:build cgo

package gpu

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"imageenhancer/enhance/graph"
	"imageenhancer/internal/arena"
)

// gfpModel is a GFPGAN on the GPU, run as a list of steps over the
// library's fp32 primitives (csrc/gfpgan.cu): its weights live in one
// device block uploaded at Load, and every activation of one face in one
// device arena, where tensors whose lifetimes do not overlap share bytes
// (arena.Plan). Faces of a batch run one after the other. It implements
// graph.Model.
type gfpModel struct {
	mu      sync.Mutex
	rt      *Runtime
	ctx     *C.iegpu_context
	size    int
	weights unsafe.Pointer // device: the weight block
	arena   unsafe.Pointer // device: the activations
	steps   []func(in, out []float32) C.int
}

// gfpTensor is a c×h×w float32 tensor: arena buffer id, or when id is
// negative, the weight block at woff.
type gfpTensor struct {
	id, woff, c, h, w int
}

func (t gfpTensor) n() int { return t.c * t.h * t.w }

// gfpBuilder plans a GFPGAN: weights get offsets in the weight block and
// tensors arena buffers while the steps are collected; the steps read the
// device addresses once both blocks exist.
type gfpBuilder struct {
	m    *gfpModel
	ar   arena.Plan
	wgt  []gfpUpload
	wlen int // bytes of the weight block
	err  error

	sbuf, fbuf, wbuf int // the modulation's style, factors and weights, shared by every layer
	sB, fB, wB       int
}

// gfpUpload is data to copy to the weight block at off.
type gfpUpload struct {
	off  int
	data []float32
}

// gfpAlign is the alignment of every device tensor: float4 loads and
// coalesced rows want 16 bytes at least; 256 is cudaMalloc's own.
const gfpAlign = 256

func (b *gfpBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("gpu: GFPGAN: "+format, args...)
	}
}

// weight adds data to the weight block and returns its offset.
func (b *gfpBuilder) weight(data []float32) int {
	off := b.wlen
	b.wgt = append(b.wgt, gfpUpload{off, data})
	b.wlen += (len(data)*4 + gfpAlign - 1) / gfpAlign * gfpAlign
	return off
}

// optWeight is weight, or -1 for a nil slice.
func (b *gfpBuilder) optWeight(data []float32) int {
	if data == nil {
		return -1
	}
	return b.weight(data)
}

func (b *gfpBuilder) tensor(c, h, w int) gfpTensor {
	return gfpTensor{id: b.ar.Alloc(c * h * w * 4), c: c, h: h, w: w}
}

// wptr is the device address of weight offset off (nil when negative).
func (b *gfpBuilder) wptr(off int) *C.float {
	if off < 0 {
		return nil
	}
	return (*C.float)(unsafe.Add(b.m.weights, off))
}

// bptr is the device address of arena buffer id (nil when negative).
func (b *gfpBuilder) bptr(id int) *C.float {
	if id < 0 {
		return nil
	}
	return (*C.float)(unsafe.Add(b.m.arena, b.ar.Offset(id)))
}

func (b *gfpBuilder) ptr(t gfpTensor) *C.float {
	if t.id < 0 {
		return b.wptr(t.woff)
	}
	return b.bptr(t.id)
}

// step adds f, which reads or writes the arena buffers uses.
func (b *gfpBuilder) step(f func(in, out []float32) C.int, uses ...int) {
	b.ar.Use(len(b.m.steps), uses...)
	b.m.steps = append(b.m.steps, f)
}

// convArgs are a convolution's epilogue terms (see iegpu_conv_op).
type convArgs struct {
	bias        []float32 // Out values, or nil
	gain        float32   // 0 means 1
	noise       []float32 // one value per pixel, or nil
	noiseWeight float32
	lrelu       bool
	add         *gfpTensor
	sftC0       int
	sft         *[2]gfpTensor // scale, shift
}

// convT adds a convolution of x with the weights wt returns when it runs
// ((K·K·In)×Out: in the weight block when fixed, the modulation's buffer
// when modulated).
func (b *gfpBuilder) convT(cv *graph.Conv, wt func() *C.float, x gfpTensor, a convArgs) gfpTensor {
	y := b.tensor(cv.Out, x.h, x.w)
	if cv.In != x.c || (cv.K != 1 && cv.K != 3) {
		b.fail("a %d→%d %d×%d convolution on %d channels", cv.In, cv.Out, cv.K, cv.K, x.c)
		return y
	}
	op := C.iegpu_conv_op{in: C.int(cv.In), out: C.int(cv.Out), k: C.int(cv.K), h: C.int(x.h), w: C.int(x.w)}
	var ws C.size_t
	if err := call(func() C.int { return C.ie_dev_conv2d_workspace(b.m.ctx, &op, &ws) }); err != nil {
		b.err = err
		return y
	}
	work := -1
	if ws > 0 {
		work = b.ar.Alloc(int(ws))
	}
	if a.gain == 0 {
		a.gain = 1
	}
	bias, noise := b.optWeight(a.bias), b.optWeight(a.noise)
	uses := []int{x.id, y.id, work}
	if a.add != nil {
		uses = append(uses, a.add.id)
	}
	if a.sft != nil {
		uses = append(uses, a.sft[0].id, a.sft[1].id)
	}
	b.step(func(_, _ []float32) C.int {
		op := op
		op.x, op.weight, op.y = b.ptr(x), wt(), b.ptr(y)
		op.bias, op.gain = b.wptr(bias), C.float(a.gain)
		op.noise, op.noise_weight = b.wptr(noise), C.float(a.noiseWeight)
		if a.lrelu {
			op.lrelu = 1
		}
		if a.add != nil {
			op.add = b.ptr(*a.add)
		}
		if a.sft != nil {
			op.sft_c0, op.sft_scale, op.sft_shift = C.int(a.sftC0), b.ptr(a.sft[0]), b.ptr(a.sft[1])
		}
		op.work, op.work_bytes = b.bptr(work), ws
		return C.ie_dev_conv2d(b.m.ctx, &op)
	}, uses...)
	return y
}

// conv adds a fixed convolution: its weights are transposed to
// (K·K·In)×Out (row tap·In+i) once, here, and uploaded with the rest.
func (b *gfpBuilder) conv(cv *graph.Conv, x gfpTensor, bias bool, a convArgs) gfpTensor {
	kk := cv.K * cv.K
	if len(cv.Weight) != cv.Out*cv.In*kk || (bias && len(cv.Bias) != cv.Out) {
		b.fail("a %d→%d %d×%d convolution with %d weights and %d biases", cv.In, cv.Out, cv.K, cv.K, len(cv.Weight), len(cv.Bias))
		return b.tensor(cv.Out, x.h, x.w)
	}
	t := make([]float32, len(cv.Weight))
	K := cv.In * kk
	for o := range cv.Out {
		for k, v := range cv.Weight[o*K : (o+1)*K] {
			i, tap := k/kk, k%kk
			t[(tap*cv.In+i)*cv.Out+o] = v
		}
	}
	off := b.weight(t)
	if bias {
		a.bias = cv.Bias
	}
	return b.convT(cv, func() *C.float { return b.wptr(off) }, x, a)
}

// modConv adds a modulated convolution reading style vector m.Latent of
// the latents lat: s = Modulation(w), W' = modulate(W, s)·gain, then
// conv. gain multiplies after demodulation (StyleConv's √2).
func (b *gfpBuilder) modConv(m *graph.ModulatedConv, x gfpTensor, lat gfpTensor, nstyle int, gain float32, a convArgs) gfpTensor {
	cv, md := &m.Conv, &m.Modulation
	if m.Upsample {
		x = b.resize(x, true)
	}
	kk := cv.K * cv.K
	if len(cv.Weight) != cv.Out*cv.In*kk || md.In != nstyle || md.Out != cv.In || len(md.Weight) != md.In*md.Out ||
		len(md.Bias) != md.Out || m.Latent < 0 || (m.Latent+1)*nstyle > lat.c {
		b.fail("a modulated %d→%d convolution of latent %d with %d weights, modulation %d→%d", cv.In, cv.Out, m.Latent, len(cv.Weight), md.In, md.Out)
		return b.tensor(cv.Out, x.h, x.w)
	}
	w, mw, mb := b.weight(cv.Weight), b.weight(md.Weight), b.weight(md.Bias)
	b.sB, b.fB, b.wB = max(b.sB, cv.In*4), max(b.fB, cv.Out*4), max(b.wB, len(cv.Weight)*4)
	demod := C.int(0)
	if m.Demodulate {
		demod = 1
	}
	latOff := m.Latent * nstyle
	b.step(func(_, _ []float32) C.int {
		s := b.bptr(b.sbuf)
		style := (*C.float)(unsafe.Add(unsafe.Pointer(b.ptr(lat)), latOff*4))
		if rc := C.ie_dev_linear(b.m.ctx, b.wptr(mw), b.wptr(mb), style, C.int(nstyle), C.int(cv.In), s); rc != 0 {
			return rc
		}
		return C.ie_dev_modulate(b.m.ctx, b.wptr(w), C.int(cv.Out), C.int(cv.In), C.int(kk), s, demod, C.float(gain),
			b.bptr(b.fbuf), b.bptr(b.wbuf))
	}, lat.id)
	return b.convT(cv, func() *C.float { return b.bptr(b.wbuf) }, x, a)
}

// resize adds up2 (up) or down2 of x.
func (b *gfpBuilder) resize(x gfpTensor, up bool) gfpTensor {
	if up {
		y := b.tensor(x.c, 2*x.h, 2*x.w)
		b.step(func(_, _ []float32) C.int {
			return C.ie_dev_up2(b.m.ctx, b.ptr(x), C.int(x.c), C.int(x.h), C.int(x.w), b.ptr(y))
		}, x.id, y.id)
		return y
	}
	y := b.tensor(x.c, x.h/2, x.w/2)
	b.step(func(_, _ []float32) C.int {
		return C.ie_dev_down2(b.m.ctx, b.ptr(x), C.int(x.c), C.int(x.h), C.int(x.w), b.ptr(y))
	}, x.id, y.id)
	return y
}

// unetBlock is lrelu(Conv2(resize(lrelu(Conv1(x))))) + Skip(resize(x)).
func (b *gfpBuilder) unetBlock(blk *graph.UNetBlock, x gfpTensor) gfpTensor {
	t := b.conv(&blk.Conv1, x, true, convArgs{lrelu: true})
	t = b.resize(t, blk.Up)
	s := b.conv(&blk.Skip, b.resize(x, blk.Up), false, convArgs{})
	return b.conv(&blk.Conv2, t, true, convArgs{lrelu: true, add: &s})
}

func (b *gfpBuilder) cond(c *graph.SFTCondition, x gfpTensor) gfpTensor {
	t := b.conv(&c.Conv1, x, true, convArgs{lrelu: true})
	return b.conv(&c.Conv2, t, true, convArgs{})
}

// styleConv is lrelu(√2·ModulatedConv(x) + NoiseWeight·Noise + Bias),
// followed by the SFT on channels from c0 when sft is not nil.
func (b *gfpBuilder) styleConv(s *graph.StyleConv, x, lat gfpTensor, nstyle int, sft *[2]gfpTensor, sftHalf bool) gfpTensor {
	side := x.h
	if s.Upsample {
		side *= 2
	}
	out := s.Conv.Out
	if len(s.Noise) != side*side || len(s.Bias) != out {
		b.fail("a style convolution at %d×%d with %d noise values and %d biases for %d channels", side, side, len(s.Noise), len(s.Bias), out)
		return b.tensor(out, side, side)
	}
	a := convArgs{bias: s.Bias, noise: s.Noise, noiseWeight: s.NoiseWeight, lrelu: true}
	if sft != nil {
		a.sft = sft
		if sftHalf {
			a.sftC0 = out / 2
		}
		if sft[0].c != out-a.sftC0 || sft[0].h != side || sft[1].c != sft[0].c || sft[1].h != side {
			b.fail("SFT conditions of %d channels at %d×%d for %d at %d×%d", sft[0].c, sft[0].h, sft[0].h, out-a.sftC0, side, side)
			return b.tensor(out, side, side)
		}
	}
	return b.modConv(&s.ModulatedConv, x, lat, nstyle, math.Sqrt2, a)
}

// toRGB is ModulatedConv(x) + Bias (+ up2(prev)).
func (b *gfpBuilder) toRGB(r *graph.StyleToRGB, x gfpTensor, prev *gfpTensor, lat gfpTensor, nstyle int) gfpTensor {
	if len(r.Bias) != r.Conv.Out {
		b.fail("an RGB head with %d biases for %d channels", len(r.Bias), r.Conv.Out)
	}
	a := convArgs{bias: r.Bias}
	if prev != nil {
		up := b.resize(*prev, true)
		a.add = &up
	}
	return b.modConv(&r.ModulatedConv, x, lat, nstyle, 1, a)
}

// loadGFPGAN uploads n's weights and reserves its activations; n is not
// modified.
func (r *Runtime) loadGFPGAN(n *graph.GFPGAN) (graph.Model, error) {
	st := len(n.Down)
	switch {
	case st == 0 || n.Size != 4<<st:
		return nil, fmt.Errorf("gpu: GFPGAN of size %d with %d stages, want 4·2^stages", n.Size, st)
	case len(n.Up) != st || len(n.CondScale) != st || len(n.CondShift) != st || len(n.ToRGBs) != st || len(n.StyleConvs) != 2*st:
		return nil, fmt.Errorf("gpu: GFPGAN with %d down blocks, %d up, %d/%d conditions, %d ToRGBs, %d style convs", st, len(n.Up), len(n.CondScale), len(n.CondShift), len(n.ToRGBs), len(n.StyleConvs))
	case n.NumStyleFeat <= 0 || n.NumLatent != 2*st+2 || n.FinalLinear.Out != n.NumLatent*n.NumStyleFeat:
		return nil, fmt.Errorf("gpu: GFPGAN with %d latents of %d from %d outputs, want %d", n.NumLatent, n.NumStyleFeat, n.FinalLinear.Out, 2*st+2)
	case n.ConstChannels <= 0 || len(n.Constant) != n.ConstChannels*16:
		return nil, fmt.Errorf("gpu: GFPGAN constant of %d values for %d channels", len(n.Constant), n.ConstChannels)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.closed {
		return nil, errors.New("gpu: runtime closed")
	}
	m := &gfpModel{rt: r, ctx: r.ctx, size: n.Size}
	b := &gfpBuilder{m: m, ar: arena.Plan{Align: gfpAlign}}
	b.sbuf, b.fbuf, b.wbuf = b.ar.Alloc(0), b.ar.Alloc(0), b.ar.Alloc(0) // sized at the end
	S := n.Size

	// U-Net. The input is mapped to [-1,1] on the device: (x−0.5)/0.5.
	in := b.tensor(3, S, S)
	x := b.tensor(3, S, S)
	b.step(func(in0, _ []float32) C.int {
		if rc := C.ie_dev_upload(m.ctx, unsafe.Pointer(b.ptr(in)), unsafe.Pointer(&in0[0]), C.size_t(in.n()*4)); rc != 0 {
			return rc
		}
		return C.ie_dev_affine(m.ctx, b.ptr(in), C.size_t(in.n()), 2, -1, b.ptr(x))
	}, in.id, x.id)
	f := b.conv(&n.First, x, true, convArgs{lrelu: true})
	skips := make([]gfpTensor, st)
	for k := range n.Down {
		f = b.unetBlock(&n.Down[k], f)
		skips[k] = f
	}
	f = b.conv(&n.FinalConv, f, true, convArgs{lrelu: true})
	// FinalLinear reads the 4×4 features flattened as C,H,W: NCHW already.
	fl := &n.FinalLinear
	if fl.In != f.n() || len(fl.Weight) != fl.In*fl.Out || len(fl.Bias) != fl.Out {
		b.fail("final_linear %d→%d with %d weights on %d features", fl.In, fl.Out, len(fl.Weight), f.n())
	}
	lat := b.tensor(fl.Out, 1, 1)
	flw, flb := b.weight(fl.Weight), b.weight(fl.Bias)
	f0 := f
	b.step(func(_, _ []float32) C.int {
		return C.ie_dev_linear(m.ctx, b.wptr(flw), b.wptr(flb), b.ptr(f0), C.int(fl.In), C.int(fl.Out), b.ptr(lat))
	}, f0.id, lat.id)
	scale := make([]gfpTensor, st)
	shift := make([]gfpTensor, st)
	for k := range n.Up {
		s := skips[st-1-k]
		if s.n() != f.n() {
			b.fail("up block %d: features of %d×%d×%d and skip of %d×%d×%d", k, f.c, f.h, f.w, s.c, s.h, s.w)
			break
		}
		sum := b.tensor(f.c, f.h, f.w)
		a := f
		b.step(func(_, _ []float32) C.int {
			return C.ie_dev_add(m.ctx, b.ptr(a), b.ptr(s), C.size_t(a.n()), b.ptr(sum))
		}, sum.id, a.id, s.id)
		f = b.unetBlock(&n.Up[k], sum)
		scale[k] = b.cond(&n.CondScale[k], f)
		shift[k] = b.cond(&n.CondShift[k], f)
	}

	// Decoder.
	ns := n.NumStyleFeat
	o := gfpTensor{id: -1, woff: b.weight(n.Constant), c: n.ConstChannels, h: 4, w: 4}
	o = b.styleConv(&n.StyleConv1, o, lat, ns, nil, false)
	rgb := b.toRGB(&n.ToRGB1, o, nil, lat, ns)
	for k := range n.ToRGBs {
		if b.err != nil {
			break
		}
		o = b.styleConv(&n.StyleConvs[2*k], o, lat, ns, &[2]gfpTensor{scale[k], shift[k]}, n.SFTHalf)
		o = b.styleConv(&n.StyleConvs[2*k+1], o, lat, ns, nil, false)
		prev := rgb
		rgb = b.toRGB(&n.ToRGBs[k], o, &prev, lat, ns)
	}
	if rgb.c != 3 || rgb.h != S {
		b.fail("output of %d×%d×%d, want 3×%d×%d", rgb.c, rgb.h, rgb.w, S, S)
	}
	last := rgb
	b.step(func(_, out []float32) C.int {
		return C.ie_dev_download(m.ctx, unsafe.Pointer(&out[0]), unsafe.Pointer(b.ptr(last)), C.size_t(last.n()*4))
	}, last.id)
	if b.err != nil {
		return nil, b.err
	}
	// The modulation's buffers are live throughout.
	b.ar.Resize(b.sbuf, b.sB)
	b.ar.Resize(b.fbuf, b.fB)
	b.ar.Resize(b.wbuf, b.wB)
	b.ar.Use(0, b.sbuf, b.fbuf, b.wbuf)
	b.ar.Use(len(m.steps), b.sbuf, b.fbuf, b.wbuf)
	size := b.ar.Place()

	if err := call(func() C.int { return C.ie_dev_malloc(m.ctx, C.size_t(b.wlen), &m.weights) }); err != nil {
		return nil, fmt.Errorf("gpu: reserving %d MB for GFPGAN's weights: %w", b.wlen>>20, err)
	}
	err := call(func() C.int {
		for _, u := range b.wgt {
			if len(u.data) == 0 {
				continue
			}
			if rc := C.ie_dev_upload(m.ctx, unsafe.Add(m.weights, u.off), unsafe.Pointer(&u.data[0]), C.size_t(len(u.data)*4)); rc != 0 {
				return rc
			}
		}
		return C.ie_dev_malloc(m.ctx, C.size_t(size), &m.arena)
	})
	if err != nil {
		m.free()
		return nil, fmt.Errorf("gpu: loading GFPGAN (%d MB of weights, %d MB of activations): %w", b.wlen>>20, size>>20, err)
	}
	r.models++
	runtime.SetFinalizer(m, (*gfpModel).Close)
	return m, nil
}

// free releases the device blocks; the caller holds m.mu or owns m alone.
func (m *gfpModel) free() error {
	err := call(func() C.int {
		rc := C.ie_dev_free(m.ctx, m.weights)
		if rc2 := C.ie_dev_free(m.ctx, m.arena); rc == 0 {
			rc = rc2
		}
		return rc
	})
	m.weights, m.arena, m.steps = nil, nil, nil
	return err
}

// Forward implements graph.Model: n faces of Size×Size, RGB in [0,1] NCHW,
// to the raw output in [-1,1].
func (m *gfpModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	switch {
	case n <= 0 || h != m.size || w != m.size:
		return fmt.Errorf("gpu: GFPGAN input is %d×%d×%d, want n×%d×%d", n, h, w, m.size, m.size)
	case len(in) != n*3*h*w || len(out) != n*3*h*w:
		return fmt.Errorf("gpu: GFPGAN buffers of %d and %d values for %d faces of %d×%d", len(in), len(out), n, h, w)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.arena == nil {
		return errors.New("gpu: model closed")
	}
	face := 3 * h * w
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		fin, fout := in[i*face:(i+1)*face], out[i*face:(i+1)*face]
		err := call(func() C.int {
			for _, st := range m.steps {
				if rc := st(fin, fout); rc != 0 {
					return rc
				}
			}
			return 0
		})
		if err != nil {
			return fmt.Errorf("gpu: GFPGAN: %w", err)
		}
	}
	return nil
}

// Close frees the model's device memory; calling it twice is safe.
func (m *gfpModel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.arena == nil && m.weights == nil {
		return nil
	}
	runtime.SetFinalizer(m, nil)
	err := m.free()
	if e := m.rt.release(); err == nil {
		err = e
	}
	return err
}
