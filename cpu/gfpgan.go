//go:build cgo && !noonednn

package cpu

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"unsafe"

	"imageenhancer/enhance/graph"
	"imageenhancer/internal/arena"
)

// gfpPlan is GFPGAN compiled for its one input size. Every tensor is f32
// nhwc in one arena, where tensors whose lifetimes do not overlap share
// bytes (see arena.Plan); in bf16 each convolution's input is
// converted into a scratch buffer first, and its output stays f32, so the
// element-wise loops and the outputs keep fp32.
type gfpPlan struct {
	arena unsafe.Pointer
	convs []*C.ie_conv
	steps []func(c *C.ie_ctx, in, out []float32) C.int
}

func (p *gfpPlan) free() {
	for _, v := range p.convs {
		C.ie_conv_destroy(v)
	}
	p.convs, p.steps = nil, nil
	if p.arena != nil {
		C.ie_free(p.arena)
		p.arena = nil
	}
}

func (p *gfpPlan) run(ctx context.Context, c *C.ie_ctx, in, out []float32) error {
	for i, st := range p.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if rc := st(c, in, out); rc != 0 {
			return statusError(fmt.Sprintf("running GFPGAN step %d", i), rc)
		}
	}
	return nil
}

// gfpTensor is an nhwc tensor in arena buffer id, f32 unless bf (a bf16
// convolution's input, written so by its producer).
type gfpTensor struct {
	id, c, h, w int
	bf          bool
}

func (t gfpTensor) px() int { return t.h * t.w }

// gfpBuilder plans a GFPGAN: tensors get arena buffers while steps are
// collected, the arena noting the first and last step that touches each;
// its Place then gives the buffers offsets, and the steps read the arena's
// address once it exists.
type gfpBuilder struct {
	ctx  *C.ie_ctx
	p    *gfpPlan
	bf16 bool
	ar   arena.Plan
	base *unsafe.Pointer // &p.arena
	err  error

	wbuf, sbuf int // buffers: modulated weights, style
	wbufB      int
}

// alloc adds a buffer of bytes, live from the next step it is used in.
func (b *gfpBuilder) alloc(bytes int) int { return b.ar.Alloc(bytes) }

func (b *gfpBuilder) tensor(c, h, w int) gfpTensor {
	return gfpTensor{id: b.alloc(c * h * w * 4), c: c, h: h, w: w}
}

// ptr is the address of buffer id, valid once the arena is allocated.
func (b *gfpBuilder) ptr(id int) unsafe.Pointer { return unsafe.Add(*b.base, b.ar.Offset(id)) }

func (b *gfpBuilder) fp(id int) *C.float { return (*C.float)(b.ptr(id)) }

// step adds f, which reads or writes the buffers uses (negative ones are
// left out).
func (b *gfpBuilder) step(f func(c *C.ie_ctx, in, out []float32) C.int, uses ...int) {
	b.ar.Use(len(b.p.steps), uses...)
	b.p.steps = append(b.p.steps, f)
}

// conv adds a convolution of x by cv's sizes with weights w (nil for a
// modulated one, whose weights each image sets) and bias; f32 forces fp32
// even in bf16 mode. src1 is the IE_POST_ADD operand when posts has add.
func (b *gfpBuilder) conv(cv *graph.Conv, w, bias []float32, x gfpTensor, f32 bool, src1 *gfpTensor, posts ...post) (gfpTensor, *C.ie_conv) {
	y := b.tensor(cv.Out, x.h, x.w)
	if b.err != nil {
		return y, nil
	}
	bf := b.bf16 && !f32
	var d C.ie_conv_desc
	d.ic, d.oc, d.h, d.w, d.k = C.int(cv.In), C.int(cv.Out), C.int(x.h), C.int(x.w), C.int(cv.K)
	d.block, d.nhwc = 1, 1
	d.src_dt, d.dst_dt = C.IE_F32, C.IE_F32
	if bf {
		d.src_dt = C.IE_BF16
	}
	d.npost = C.int(len(posts))
	for i, po := range posts {
		d.post[i] = C.int(po.kind)
		d.alpha[i] = C.float(po.alpha)
	}
	var wp, bp *C.float
	if w != nil {
		wp = unsafeAt(w)
	}
	if bias != nil {
		bp = unsafeAt(bias)
	}
	var v *C.ie_conv
	if rc := C.ie_conv_create(b.ctx, &v, &d, wp, bp); rc != 0 {
		b.err = statusError(fmt.Sprintf("compiling a %d→%d convolution at %d×%d", cv.In, cv.Out, x.h, x.w), rc)
		return y, nil
	}
	b.p.convs = append(b.p.convs, v)
	n := x.c * x.px()
	if x.bf && !bf {
		b.err = fmt.Errorf("cpu: internal error: a bf16 tensor into an fp32 convolution")
		return y, nil
	}
	convert := bf && !x.bf
	scratch := -1 // x in bf16
	if convert {
		scratch = b.alloc(n * 2)
	}
	var s1 int = -1
	if src1 != nil {
		s1 = src1.id
	}
	b.step(func(c *C.ie_ctx, _, _ []float32) C.int {
		src := b.ptr(x.id)
		if convert {
			C.ie_to_bf16((*C.float)(src), b.ptr(scratch), C.size_t(n))
			src = b.ptr(scratch)
		}
		var p1 unsafe.Pointer
		if s1 >= 0 {
			p1 = b.ptr(s1)
		}
		return C.ie_conv_run(c, v, src, b.ptr(y.id), p1)
	}, x.id, y.id, s1, scratch)
	return y, v
}

// modConv adds a modulated convolution reading style vector m.Latent of
// the latents at lat; gain multiplies the weights.
func (b *gfpBuilder) modConv(m *graph.ModulatedConv, x gfpTensor, lat int, nstyle int, gain float32, bias []float32, src1 *gfpTensor, posts ...post) gfpTensor {
	cv := &m.Conv
	f32 := cv.Out == 3 // the RGB heads stay fp32
	if m.Upsample {
		x = b.up2to(x, b.bf16 && !f32)
	}
	b.wbufB = max(b.wbufB, len(cv.Weight)*4)
	demod := C.int(0)
	if m.Demodulate {
		demod = 1
	}
	latOff := m.Latent * nstyle * 4
	// The weights go in before the convolution runs, into the primitive
	// that b.conv below compiles.
	var v *C.ie_conv
	b.step(func(c *C.ie_ctx, _, _ []float32) C.int {
		C.ie_modulate(unsafeAt(cv.Weight), C.int(cv.Out), C.int(cv.In), C.int(cv.K*cv.K),
			unsafeAt(m.Modulation.Weight), unsafeAt(m.Modulation.Bias), (*C.float)(unsafe.Add(b.ptr(lat), latOff)), C.int(nstyle),
			demod, C.float(gain), b.fp(b.sbuf), b.fp(b.wbuf))
		return C.ie_conv_set_weights(c, v, b.fp(b.wbuf))
	}, lat)
	y, v := b.conv(cv, nil, bias, x, f32, src1, posts...)
	return y
}

func (b *gfpBuilder) up2(x gfpTensor) gfpTensor { return b.up2to(x, false) }

// up2to is up2, writing bf16 when bf.
func (b *gfpBuilder) up2to(x gfpTensor, bf bool) gfpTensor {
	y := gfpTensor{c: x.c, h: 2 * x.h, w: 2 * x.w}
	dt := C.int(C.IE_F32)
	if bf {
		y.bf, dt = true, C.IE_BF16
	}
	y.id = b.alloc(y.c * y.px() * elemSize(dt))
	b.step(func(*C.ie_ctx, []float32, []float32) C.int {
		C.ie_up2_bilinear(b.fp(x.id), b.ptr(y.id), C.int(x.c), C.int(x.h), C.int(x.w), dt)
		return 0
	}, x.id, y.id)
	return y
}

func (b *gfpBuilder) down2(x gfpTensor) gfpTensor {
	y := b.tensor(x.c, x.h/2, x.w/2)
	b.step(func(*C.ie_ctx, []float32, []float32) C.int {
		C.ie_down2_mean(b.fp(x.id), b.fp(y.id), C.int(x.c), C.int(x.h), C.int(x.w))
		return 0
	}, x.id, y.id)
	return y
}

func (b *gfpBuilder) resize(x gfpTensor, up bool) gfpTensor {
	if up {
		return b.up2(x)
	}
	return b.down2(x)
}

// unetBlock is lrelu(Conv2(resize(lrelu(Conv1(x))))) + Skip(resize(x)).
func (b *gfpBuilder) unetBlock(blk *graph.UNetBlock, x gfpTensor) gfpTensor {
	t, _ := b.conv(&blk.Conv1, blk.Conv1.Weight, blk.Conv1.Bias, x, false, nil, lrelu)
	t = b.resize(t, blk.Up)
	s, _ := b.conv(&blk.Skip, blk.Skip.Weight, nil, b.resize(x, blk.Up), false, nil)
	y, _ := b.conv(&blk.Conv2, blk.Conv2.Weight, blk.Conv2.Bias, t, false, &s, lrelu, add)
	return y
}

func (b *gfpBuilder) cond(c *graph.SFTCondition, x gfpTensor) gfpTensor {
	t, _ := b.conv(&c.Conv1, c.Conv1.Weight, c.Conv1.Bias, x, false, nil, lrelu)
	y, _ := b.conv(&c.Conv2, c.Conv2.Weight, c.Conv2.Bias, t, false, nil)
	return y
}

// styleConv is lrelu(√2·ModulatedConv(x) + NoiseWeight·Noise + Bias),
// followed by the SFT when sft is not nil (scale, shift). toConv says its
// only reader is a convolution: in bf16 it is then written as bf16.
func (b *gfpBuilder) styleConv(s *graph.StyleConv, x gfpTensor, lat, nstyle int, sft *[2]gfpTensor, sftHalf, toConv bool) gfpTensor {
	y := b.modConv(&s.ModulatedConv, x, lat, nstyle, math.Sqrt2, nil, nil)
	out, dt := y, C.int(C.IE_F32)
	if toConv && b.bf16 {
		out = gfpTensor{b.alloc(y.c * y.px() * 2), y.c, y.h, y.w, true}
		dt = C.IE_BF16
	}
	c0, sc, sh := 0, -1, -1
	if sft != nil {
		sc, sh = sft[0].id, sft[1].id
		if sftHalf {
			c0 = y.c / 2
		}
	}
	b.step(func(*C.ie_ctx, []float32, []float32) C.int {
		var scale, shift *C.float
		if sc >= 0 {
			scale, shift = b.fp(sc), b.fp(sh)
		}
		C.ie_style_act(b.fp(y.id), C.int(y.c), C.size_t(y.px()), unsafeAt(s.Noise), C.float(s.NoiseWeight), unsafeAt(s.Bias),
			C.int(c0), scale, shift, b.ptr(out.id), dt)
		return 0
	}, y.id, out.id, sc, sh)
	return out
}

// toRGB is ModulatedConv(x) + Bias (+ up2(prev)).
func (b *gfpBuilder) toRGB(r *graph.StyleToRGB, x gfpTensor, prev *gfpTensor, lat, nstyle int) gfpTensor {
	if prev == nil {
		return b.modConv(&r.ModulatedConv, x, lat, nstyle, 1, r.Bias, nil)
	}
	up := b.up2(*prev)
	return b.modConv(&r.ModulatedConv, x, lat, nstyle, 1, r.Bias, &up, add)
}

// buildGFPGAN compiles n, the Model's own copy. A GFPGAN has one size,
// so its plan is built once: the build permutes FinalLinear's weights in
// place and, done or failed, releases the weights of n's fixed
// convolutions, of which oneDNN keeps its own copy.
func buildGFPGAN(ctx *C.ie_ctx, n *graph.GFPGAN, cfg Config) (*gfpPlan, error) {
	if n.First.Weight == nil {
		return nil, fmt.Errorf("cpu: GFPGAN failed to build once; load it again")
	}
	p := &gfpPlan{}
	b := &gfpBuilder{ctx: ctx, p: p, bf16: cfg.BF16, base: &p.arena}
	b.wbuf, b.sbuf = b.alloc(0), b.alloc(0) // sized at the end
	S, px := n.Size, n.Size*n.Size

	// U-Net.
	x := b.tensor(3, S, S)
	b.step(func(_ *C.ie_ctx, in, _ []float32) C.int {
		C.ie_gfp_pack(unsafeAt(in), C.size_t(px), b.fp(x.id))
		return 0
	}, x.id)
	f, _ := b.conv(&n.First, n.First.Weight, n.First.Bias, x, true, nil, lrelu)
	skips := make([]gfpTensor, len(n.Down))
	for k := range n.Down {
		f = b.unetBlock(&n.Down[k], f)
		skips[k] = f
	}
	f, _ = b.conv(&n.FinalConv, n.FinalConv.Weight, n.FinalConv.Bias, f, false, nil, lrelu)
	// FinalLinear reads the 4×4 features channel by channel; they are
	// nhwc here, which is a 1×1 image of 16·C channels in another order,
	// so it runs as a 1×1 convolution with its columns permuted once, in
	// place (the largest layer: n is the Model's copy, released below).
	fl := &n.FinalLinear
	c := n.FinalConv.Out
	row := make([]float32, fl.In)
	for o := 0; o < fl.Out; o++ {
		r := fl.Weight[o*fl.In : (o+1)*fl.In]
		copy(row, r)
		for ch := 0; ch < c; ch++ {
			for q := 0; q < 16; q++ {
				r[q*c+ch] = row[ch*16+q]
			}
		}
	}
	latents, _ := b.conv(fl, fl.Weight, fl.Bias, gfpTensor{id: f.id, c: fl.In, h: 1, w: 1}, true, nil)
	lat := latents.id
	scale := make([]gfpTensor, len(n.Up))
	shift := make([]gfpTensor, len(n.Up))
	for k := range n.Up {
		s := skips[len(skips)-1-k]
		sum := b.tensor(f.c, f.h, f.w)
		a := f
		b.step(func(*C.ie_ctx, []float32, []float32) C.int {
			C.ie_add(b.fp(sum.id), b.fp(a.id), b.fp(s.id), C.size_t(a.c*a.px()))
			return 0
		}, sum.id, a.id, s.id)
		f = b.unetBlock(&n.Up[k], sum)
		scale[k] = b.cond(&n.CondScale[k], f)
		shift[k] = b.cond(&n.CondShift[k], f)
	}

	// Decoder.
	ns := n.NumStyleFeat
	constant := make([]float32, len(n.Constant)) // nhwc
	for ch := 0; ch < n.ConstChannels; ch++ {
		for q := 0; q < 16; q++ {
			constant[q*n.ConstChannels+ch] = n.Constant[ch*16+q]
		}
	}
	o := b.tensor(n.ConstChannels, 4, 4)
	o0 := o
	b.step(func(*C.ie_ctx, []float32, []float32) C.int {
		C.ie_copy(b.ptr(o0.id), unsafe.Pointer(&constant[0]), C.size_t(len(constant)*4))
		return 0
	}, o0.id)
	o = b.styleConv(&n.StyleConv1, o, lat, ns, nil, false, false)
	rgb := b.toRGB(&n.ToRGB1, o, nil, lat, ns)
	for k := range n.ToRGBs {
		o = b.styleConv(&n.StyleConvs[2*k], o, lat, ns, &[2]gfpTensor{scale[k], shift[k]}, n.SFTHalf, true)
		o = b.styleConv(&n.StyleConvs[2*k+1], o, lat, ns, nil, false, false)
		prev := rgb
		rgb = b.toRGB(&n.ToRGBs[k], o, &prev, lat, ns)
	}
	last := rgb
	b.step(func(_ *C.ie_ctx, _, out []float32) C.int {
		C.ie_gfp_unpack(b.fp(last.id), C.size_t(px), unsafeAt(out))
		return 0
	}, last.id)
	releaseFixed(n)
	if b.err != nil {
		p.free()
		return nil, b.err
	}
	// Hand the released weights back to the OS now, before the arena is
	// reserved, rather than keeping them as Go heap.
	debug.FreeOSMemory()
	// The modulation's buffers are live throughout.
	b.ar.Resize(b.wbuf, b.wbufB)
	b.ar.Resize(b.sbuf, maxModIn(n)*4)
	b.ar.Use(0, b.wbuf, b.sbuf)
	b.ar.Use(len(p.steps), b.wbuf, b.sbuf)
	size := b.ar.Place()
	p.arena = C.ie_alloc(C.size_t(size))
	if p.arena == nil {
		p.free()
		return nil, fmt.Errorf("cpu: out of memory reserving %d MB for GFPGAN", size>>20)
	}
	return p, nil
}

// releaseFixed drops the weights and biases of n's plain convolutions,
// keeping what the modulated ones read on every image.
func releaseFixed(n *graph.GFPGAN) {
	drop := func(cs ...*graph.Conv) {
		for _, c := range cs {
			c.Weight, c.Bias = nil, nil
		}
	}
	drop(&n.First, &n.FinalConv, &n.FinalLinear)
	for _, blks := range [][]graph.UNetBlock{n.Down, n.Up} {
		for i := range blks {
			drop(&blks[i].Conv1, &blks[i].Conv2, &blks[i].Skip)
		}
	}
	for _, cs := range [][]graph.SFTCondition{n.CondScale, n.CondShift} {
		for i := range cs {
			drop(&cs[i].Conv1, &cs[i].Conv2)
		}
	}
}

// maxModIn is the widest modulation output (a modulated conv's In).
func maxModIn(n *graph.GFPGAN) int {
	m := max(n.StyleConv1.Conv.In, n.ToRGB1.Conv.In)
	for _, s := range n.StyleConvs {
		m = max(m, s.Conv.In)
	}
	for _, r := range n.ToRGBs {
		m = max(m, r.Conv.In)
	}
	return m
}
