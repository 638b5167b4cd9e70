//go:build cgo && !noonednn

package cpu

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	"imageenhancer/enhance/graph"
)

// Step kinds of a plan.
const (
	stepConv = iota
	stepPReLU
	stepUpsample // nearest 2×
	stepCopy     // bytes from src to dst
	stepPack     // the input image into the first buffer
	stepUnpack   // the last buffer into the output image
	stepSpread   // a dense nhwc tensor into channel slots of wider ones
)

// step is one cgo call of a plan. Pointers are into the plan's arena.
type step struct {
	kind           int
	conv           *C.ie_conv
	slope          []float32 // PReLU
	src, dst, src1 unsafe.Pointer
	c, h, w        int // upsample: the source shape; copy: c is bytes
	r              int // pack: unshuffle factor; unpack: shuffle factor
	addInput       bool
	block          int               // layout of the loops' tensors: nChw{block}c, or nhwc of block channels
	dsts           [4]unsafe.Pointer // spread: the destinations,
	cds            [4]C.int          // their channels,
	n, c0          int               // how many, and the slot's first channel
}

// plan is a network compiled for one input shape: primitives, one arena
// holding every activation, and the steps that run them.
type plan struct {
	h, w  int
	arena unsafe.Pointer
	steps []step
	block int      // nChw{block}c, when not nhwc
	nhwc  bool     // activations in nhwc, for oneDNN's brgemm (AMX) kernels
	dt    C.int    // activation type
	outDt C.int    // type of the last convolution's output
	gfp   *gfpPlan // GFPGAN, which has its own steps
}

func (p *plan) free() {
	if p.gfp != nil {
		p.gfp.free()
		p.gfp = nil
	}
	for _, st := range p.steps {
		if st.conv != nil {
			C.ie_conv_destroy(st.conv)
		}
	}
	p.steps = nil
	if p.arena != nil {
		C.ie_free(p.arena)
		p.arena = nil
	}
}

// run runs the plan on one image: in is 3×h×w, out 3×(h·s)×(w·s).
func (p *plan) run(ctx context.Context, c *C.ie_ctx, in, out []float32) error {
	if p.gfp != nil {
		return p.gfp.run(ctx, c, in, out)
	}
	for i := range p.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := &p.steps[i]
		var rc C.int
		switch st.kind {
		case stepConv:
			rc = C.ie_conv_run(c, st.conv, st.src, st.dst, st.src1)
		case stepPReLU:
			C.ie_prelu_inplace(st.dst, C.int(st.c), C.int(p.h), C.int(p.w), C.int(st.block), p.dt, unsafeAt(st.slope))
		case stepUpsample:
			C.ie_upsample2(st.src, st.dst, C.int(st.c), C.int(st.h), C.int(st.w), C.int(st.block), p.dt)
		case stepSpread:
			C.ie_spread(st.src, C.int(st.c), &st.dsts[0], &st.cds[0], C.int(st.n), C.int(st.c0), C.size_t(st.h*st.w), p.dt)
		case stepCopy:
			C.ie_copy(st.dst, st.src, C.size_t(st.c))
		case stepPack:
			C.ie_pack_input(unsafeAt(in), C.int(p.h), C.int(p.w), C.int(st.r), st.dst, C.int(st.block), p.dt)
		case stepUnpack:
			var img *C.float
			if st.addInput {
				img = unsafeAt(in)
			}
			C.ie_unpack_output(st.src, C.int(st.h), C.int(st.w), C.int(st.r), C.int(st.block), p.outDt, unsafeAt(out), img)
		}
		if rc != 0 {
			return statusError(fmt.Sprintf("running step %d", i), rc)
		}
	}
	return nil
}

// builder collects a plan's steps; the first error sticks.
type builder struct {
	ctx *C.ie_ctx
	p   *plan
	err error
}

// at returns the address off bytes into the arena.
func (b *builder) at(off int) unsafe.Pointer { return unsafe.Add(b.p.arena, off) }

// conv adds a convolution from src to dst with the given post-ops.
func (b *builder) conv(cv *graph.Conv, w []float32, bias []float32, h, wd int, src, dst, src1 unsafe.Pointer, dstDt C.int, posts ...post) {
	if b.err != nil {
		return
	}
	var d C.ie_conv_desc
	d.ic, d.oc, d.h, d.w, d.k = C.int(cv.In), C.int(cv.Out), C.int(h), C.int(wd), C.int(cv.K)
	d.block = C.int(b.p.block)
	if b.p.nhwc {
		d.nhwc = 1
	}
	d.src_dt, d.dst_dt = b.p.dt, dstDt
	d.npost = C.int(len(posts))
	for i, po := range posts {
		d.post[i] = C.int(po.kind)
		d.alpha[i] = C.float(po.alpha)
	}
	if bl := b.p.block; cv.In%bl != 0 && !b.p.nhwc {
		// oneDNN has only a reference kernel for blocked sources with
		// padded channels; zero weights for the padding make it a plain
		// convolution (the pad channels hold zeros).
		wide := padInput(&graph.Conv{Out: cv.Out, In: cv.In, K: cv.K, Weight: w}, roundUp(cv.In, bl))
		w = wide.Weight
		d.ic = C.int(wide.In)
	}
	var bp *C.float
	if bias != nil {
		bp = unsafeAt(bias)
	}
	var v *C.ie_conv
	if rc := C.ie_conv_create(b.ctx, &v, &d, unsafeAt(w), bp); rc != 0 {
		b.err = statusError(fmt.Sprintf("compiling a %d→%d convolution", cv.In, cv.Out), rc)
		return
	}
	b.p.steps = append(b.p.steps, step{kind: stepConv, conv: v, src: src, dst: dst, src1: src1})
}

// post is one post-op of a convolution.
type post struct {
	kind  int
	alpha float32
}

var (
	lrelu = post{C.IE_POST_LRELU, 0.2} // every leaky ReLU of RRDBNet has slope 0.2
	sum   = post{kind: C.IE_POST_SUM}
	add   = post{kind: C.IE_POST_ADD}
)

func linear(a float32) post { return post{C.IE_POST_LINEAR, a} }

// elemSize is the size in bytes of one activation of type dt.
func elemSize(dt C.int) int {
	if dt == C.IE_BF16 {
		return 2
	}
	return 4
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

func buildPlan(ctx *C.ie_ctx, net graph.Network, cfg Config, h, w int) (*plan, error) {
	p := &plan{h: h, w: w, dt: C.IE_F32, outDt: C.IE_F32}
	if n, ok := net.(*graph.GFPGAN); ok {
		g, err := buildGFPGAN(ctx, n, cfg)
		if err != nil {
			return nil, err
		}
		p.gfp = g
		return p, nil
	}
	if cfg.BF16 {
		p.dt = C.IE_BF16
	}
	p.nhwc = cfg.layout == layoutNHWC || (cfg.layout == layoutAuto && cfg.BF16)
	b := &builder{ctx: ctx, p: p}
	switch n := net.(type) {
	case *graph.RRDBNet:
		if p.nhwc {
			b.rrdbNHWC(n)
		} else {
			b.rrdb(n)
		}
	case *graph.SRVGG:
		b.srvgg(n)
	}
	if b.err != nil {
		p.free()
		return nil, b.err
	}
	return p, nil
}

// alloc reserves the arena; it reports false (with b.err set) on failure.
func (b *builder) alloc(bytes int) bool {
	b.p.arena = C.ie_alloc(C.size_t(bytes))
	if b.p.arena == nil {
		b.err = fmt.Errorf("cpu: out of memory reserving %d MB for a %d×%d input", bytes>>20, b.p.h, b.p.w)
		return false
	}
	return true
}

// rrdb plans RRDBNet. All activations are in nChw{block}c with block
// dividing NumFeat and NumGrow, so that channel c0 of a per-image tensor
// starts c0·h·w elements in and each dense block's concatenation is a
// prefix of one buffer.
//
// The residual scalings are folded into weights and into how tensors are
// stored (see rrdbWeights): X holds an RRDB's input x, Y holds 0.2·y1 and Z
// holds 0.2·y2, where y1, y2 are the outputs of the first two RDBs. Then
//
//	Y[:F] = 0.2·(0.2·conv5 + X[:F])   post-ops add, linear
//	Z[:F] = 0.04·conv5 + Y[:F]        post-op add
//	X[:F] = 0.04·conv5 + X[:F] + Z[:F] post-ops sum, add
//
// and the RRDB's output, 0.2·y3 + x, lands in X, ready for the next one.
func (b *builder) rrdb(n *graph.RRDBNet) {
	p := b.p
	r := 4 / n.Scale
	h, w := p.h/r, p.w/r
	F, G := n.NumFeat, n.NumGrow
	p.block = rrdbBlock(F, G)
	cin := 3 * r * r
	ct := F + 4*G
	es, px := elemSize(p.dt), h*w
	// Byte offsets into the arena; see the layout in the comment of rrdbArena.
	f0B, catB, inB := F*px*es, ct*px*es, roundUp(cin, p.block)*px*es
	u1B, u2B := 4*f0B, 16*f0B
	outB := roundUp(3, p.block) * 16 * px * 4 // f32 in either mode
	oF0, oX := 0, f0B
	oY, oZ, oIn := oX+catB, oX+2*catB, oX+3*catB
	oU1, oT1, oT2, oOut := f0B, f0B+u1B, 0, 0
	oU2 := max(oT1+u1B, u2B, outB)
	if !b.alloc(max(oIn+inB, oU2+u2B)) {
		return
	}
	X, Y, Z := b.at(oX), b.at(oY), b.at(oZ)
	slot := func(buf unsafe.Pointer, c0 int) unsafe.Pointer { return unsafe.Add(buf, c0*px*es) }

	p.steps = append(p.steps, step{kind: stepPack, dst: b.at(oIn), r: r, block: p.block})
	b.conv(&n.First, n.First.Weight, n.First.Bias, h, w, b.at(oIn), b.at(oF0), nil, p.dt)
	p.steps = append(p.steps, step{kind: stepCopy, src: b.at(oF0), dst: X, c: f0B})
	for i := range n.Body {
		ins := [3]unsafe.Pointer{X, Y, Z}
		for j := range 3 {
			rdb := &n.Body[i][j]
			src := ins[j]
			scale := float32(1) // what src[:F] holds, relative to the RDB's input
			if j > 0 {
				scale = 0.2
			}
			for k := 0; k < 4; k++ {
				cv := &rdb[k]
				wt := scaleInput(cv, F, 1/scale, 1)
				b.conv(cv, wt, cv.Bias, h, w, src, slot(src, F+k*G), nil, p.dt, lrelu)
			}
			cv := &rdb[4]
			switch j {
			case 0:
				b.conv(cv, scaleInput(cv, F, 1, 0.2), scaleBias(cv, 0.2), h, w, X, Y, X, p.dt, add, linear(0.2))
			case 1:
				b.conv(cv, scaleInput(cv, F, 5, 0.04), scaleBias(cv, 0.04), h, w, Y, Z, Y, p.dt, add)
			case 2:
				b.conv(cv, scaleInput(cv, F, 5, 0.04), scaleBias(cv, 0.04), h, w, Z, X, Z, p.dt, sum, add)
			}
		}
	}
	b.conv(&n.ConvBody, n.ConvBody.Weight, n.ConvBody.Bias, h, w, X, b.at(oF0), nil, p.dt, sum)
	b.rrdbTail(n, h, w, oF0, oU1, oT1, oU2, oT2, oOut)
}

// rrdbTail plans the upsampling convolutions after the body, from F0 (the
// arena offsets are the caller's).
func (b *builder) rrdbTail(n *graph.RRDBNet, h, w, oF0, oU1, oT1, oU2, oT2, oOut int) {
	p, F := b.p, n.NumFeat
	bl, outBl := p.block, p.block
	if p.nhwc {
		bl, outBl = F, 3
	}
	p.steps = append(p.steps, step{kind: stepUpsample, src: b.at(oF0), dst: b.at(oU1), c: F, h: h, w: w, block: bl})
	b.conv(&n.Up1, n.Up1.Weight, n.Up1.Bias, 2*h, 2*w, b.at(oU1), b.at(oT1), nil, p.dt, lrelu)
	p.steps = append(p.steps, step{kind: stepUpsample, src: b.at(oT1), dst: b.at(oU2), c: F, h: 2 * h, w: 2 * w, block: bl})
	b.conv(&n.Up2, n.Up2.Weight, n.Up2.Bias, 4*h, 4*w, b.at(oU2), b.at(oT2), nil, p.dt, lrelu)
	b.conv(&n.HR, n.HR.Weight, n.HR.Bias, 4*h, 4*w, b.at(oT2), b.at(oU2), nil, p.dt, lrelu)
	b.conv(&n.Last, n.Last.Weight, n.Last.Bias, 4*h, 4*w, b.at(oU2), b.at(oOut), nil, C.IE_F32)
	p.steps = append(p.steps, step{kind: stepUnpack, src: b.at(oOut), h: 4 * h, w: 4 * w, r: 1, block: outBl})
}

// rrdbNHWC plans RRDBNet in nhwc, the layout of oneDNN's brgemm kernels
// (AMX in bf16). Those accept only dense tensors, not channel slices, so a
// dense block keeps each convolution's input as its own dense buffer
// D[k] = cat(x, x1..x_{k-1}); every output is written once to T and copied
// into the later buffers' slots. The copies cost far less than the
// convolutions they feed. Residual scalings are folded as in rrdb: R0
// holds x, R1 0.2·y1, R2 0.2·y2.
func (b *builder) rrdbNHWC(n *graph.RRDBNet) {
	p := b.p
	r := 4 / n.Scale
	h, w := p.h/r, p.w/r
	F, G := n.NumFeat, n.NumGrow
	p.block = 16
	es, px := elemSize(p.dt), h*w
	f0B, tB, inB := F*px*es, G*px*es, roundUp(3*r*r, 16)*px*es
	u1B, u2B := 4*f0B, 16*f0B
	outB := 3 * 16 * px * 4
	off := 4 * f0B // after F0, R0, R1, R2
	var oD [5]int  // D[1..4] read by conv2..conv5
	for k := 1; k < 5; k++ {
		oD[k] = off
		off += (F + k*G) * px * es
	}
	oT, oIn := off, off+tB
	oF0, oR0, oR1, oR2 := 0, f0B, 2*f0B, 3*f0B
	oU1, oT1, oT2, oOut := f0B, f0B+u1B, 0, 0
	oU2 := max(oT1+u1B, u2B, outB)
	if !b.alloc(max(oIn+inB, oU2+u2B)) {
		return
	}
	R := [3]unsafe.Pointer{b.at(oR0), b.at(oR1), b.at(oR2)}
	T := b.at(oT)
	// spread copies a dense tensor of cs channels into channel c0 of D[from..4].
	spread := func(src unsafe.Pointer, cs, c0, from int) {
		st := step{kind: stepSpread, src: src, c: cs, c0: c0, h: h, w: w}
		for k := from; k < 5; k++ {
			st.dsts[st.n], st.cds[st.n] = b.at(oD[k]), C.int(F+k*G)
			st.n++
		}
		p.steps = append(p.steps, st)
	}
	p.steps = append(p.steps, step{kind: stepPack, dst: b.at(oIn), r: r, block: roundUp(3*r*r, 16)})
	first := padInput(&n.First, roundUp(n.First.In, 16)) // brgconv wants whole 16-channel groups
	b.conv(&first, first.Weight, first.Bias, h, w, b.at(oIn), b.at(oF0), nil, p.dt)
	p.steps = append(p.steps, step{kind: stepCopy, src: b.at(oF0), dst: R[0], c: f0B})
	for i := range n.Body {
		for j := range 3 {
			rdb := &n.Body[i][j]
			scale := float32(1) // what R[j] holds, relative to the RDB's input
			if j > 0 {
				scale = 0.2
			}
			spread(R[j], F, 0, 1)
			for k := 0; k < 4; k++ {
				src := R[j]
				if k > 0 {
					src = b.at(oD[k])
				}
				cv := &rdb[k]
				b.conv(cv, scaleInput(cv, F, 1/scale, 1), cv.Bias, h, w, src, T, nil, p.dt, lrelu)
				spread(T, G, F+k*G, k+1)
			}
			cv, D := &rdb[4], b.at(oD[4])
			switch j {
			case 0:
				b.conv(cv, scaleInput(cv, F, 1, 0.2), scaleBias(cv, 0.2), h, w, D, R[1], R[0], p.dt, add, linear(0.2))
			case 1:
				b.conv(cv, scaleInput(cv, F, 5, 0.04), scaleBias(cv, 0.04), h, w, D, R[2], R[1], p.dt, add)
			case 2:
				b.conv(cv, scaleInput(cv, F, 5, 0.04), scaleBias(cv, 0.04), h, w, D, R[0], R[2], p.dt, sum, add)
			}
		}
	}
	b.conv(&n.ConvBody, n.ConvBody.Weight, n.ConvBody.Bias, h, w, R[0], b.at(oF0), nil, p.dt, sum)
	b.rrdbTail(n, h, w, oF0, oU1, oT1, oU2, oT2, oOut)
}

// padInput returns cv widened to in input channels, the new ones with zero
// weights.
func padInput(cv *graph.Conv, in int) graph.Conv {
	kk := cv.K * cv.K
	w := make([]float32, cv.Out*in*kk)
	for o := 0; o < cv.Out; o++ {
		copy(w[o*in*kk:], cv.Weight[o*cv.In*kk:(o+1)*cv.In*kk])
	}
	return graph.Conv{Out: cv.Out, In: in, K: cv.K, Weight: w, Bias: cv.Bias}
}

// rrdbBlock picks the channel block: the widest that oneDNN's AVX-512
// kernels use and that keeps every dense-block slot aligned.
func rrdbBlock(f, g int) int {
	for _, bl := range []int{16, 8, 4} {
		if f%bl == 0 && g%bl == 0 {
			return bl
		}
	}
	return 1
}

// scaleInput returns cv's weights times out, with those reading input
// channels below f also times in.
func scaleInput(cv *graph.Conv, f int, in, out float32) []float32 {
	if in == 1 && out == 1 {
		return cv.Weight
	}
	kk := cv.K * cv.K
	w := make([]float32, len(cv.Weight))
	for o := 0; o < cv.Out; o++ {
		for i := 0; i < cv.In; i++ {
			s := out
			if i < f {
				s *= in
			}
			base := (o*cv.In + i) * kk
			for k := 0; k < kk; k++ {
				w[base+k] = cv.Weight[base+k] * s
			}
		}
	}
	return w
}

func scaleBias(cv *graph.Conv, s float32) []float32 {
	if cv.Bias == nil {
		return nil
	}
	b := make([]float32, len(cv.Bias))
	for i, v := range cv.Bias {
		b[i] = v * s
	}
	return b
}

// srvgg plans SRVGG in nChw16c, ping-ponging between two feature buffers;
// PReLU runs in place after each convolution because oneDNN 2.6 only has
// a reference kernel for PReLU as a post-op.
func (b *builder) srvgg(n *graph.SRVGG) {
	p := b.p
	p.block = 16
	h, w, px := p.h, p.w, p.h*p.w
	es := elemSize(p.dt)
	last := n.Convs[len(n.Convs)-1]
	featC, outC := roundUp(n.NumFeat, p.block), roundUp(last.Out, p.block)
	featBl, outBl := p.block, p.block
	if p.nhwc {
		featC, outC = n.NumFeat, last.Out
		featBl, outBl = featC, outC
	}
	featB := featC * px * es
	inB := p.block * px * es
	outB := outC * px * 4
	oA, oB, oIn, oOut := 0, featB, 2*featB, 2*featB+inB
	if !b.alloc(oOut + outB) {
		return
	}
	p.steps = append(p.steps, step{kind: stepPack, dst: b.at(oIn), r: 1, block: 16})
	src, dst := b.at(oIn), b.at(oA)
	for i := range n.Convs {
		cv := &n.Convs[i]
		if i == 0 && p.nhwc {
			wide := padInput(cv, 16) // the packed input's 16 channels
			cv = &wide
		}
		if i == len(n.Convs)-1 {
			b.conv(cv, cv.Weight, cv.Bias, h, w, src, b.at(oOut), nil, C.IE_F32)
			break
		}
		b.conv(cv, cv.Weight, cv.Bias, h, w, src, dst, nil, p.dt)
		if b.err != nil {
			return
		}
		p.steps = append(p.steps, step{kind: stepPReLU, slope: n.PReLU[i], c: cv.Out, dst: dst, block: featBl})
		if dst == b.at(oA) {
			src, dst = dst, b.at(oB)
		} else {
			src, dst = dst, b.at(oA)
		}
	}
	p.steps = append(p.steps, step{kind: stepUnpack, src: b.at(oOut), h: h, w: w, r: n.Upscale, addInput: true, block: outBl})
}

// convImpl names the oneDNN implementation of a compiled convolution.
func convImpl(v *C.ie_conv) string { return C.GoString(C.ie_conv_impl(v)) }
