package enhance

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"

	"imageenhancer/enhance/graph"
)

// Batcher is implemented by models that run several tiles in one Forward
// call faster than one after another (a GPU that a single tile leaves
// idle). MaxBatch says how many h×w tiles one call may take; models without
// it get one tile per call.
type Batcher interface {
	MaxBatch(h, w int) int
}

// TileLimiter is implemented by models whose memory bounds the tile they
// can run (the GPU runtime): MaxTile is the largest square window side of
// which an n-tile batch fits now.
type TileLimiter interface {
	MaxTile(n int) (int, error)
}

// Quantizer is implemented by models that can hand their output back as
// 8-bit images: the GPU runtime quantises on the device and copies a quarter
// of the bytes. ForwardRGBA is Forward with out receiving n opaque RGBA
// images of (h·s)×(w·s) pixels, each value v as q8(v), which is what the
// pipeline makes of Forward's output when it keeps it whole.
type Quantizer interface {
	ForwardRGBA(ctx context.Context, in []float32, n, h, w int, out []byte) error
}

// Window sides that the pipeline runs whole when the configured tile size
// is 0 and the model does not say (TileLimiter): larger images are tiled
// at this size. Measured on the CPU runtime, whose buffers for
// RealESRGAN_x4plus take about 0.9 GB at 276² (64 channels at four times
// the input size) and for realesr-general-x4v3 about 1 GB at 1024²: these
// keep a 1024² request under 1.5 GB of RSS with the pipeline's own 0.3 GB.
const (
	autoSideRRDB  = 288
	autoSideSRVGG = 768
)

// loaded is a network on the runtime, shared by every request for it.
type loaded struct {
	mu       sync.Mutex // a graph.Model is for one goroutine at a time
	model    graph.Model
	scale    int // the network's OutScale
	multiple int // its InputMultiple
	autoSide int // see autoSideRRDB
}

// tileSize is the tile to cut a w×h (padded) input into: the configured
// size, or with none, 0 (whole) when the image fits the model's largest
// window and that window less the padding when it does not.
func (l *loaded) tileSize(size, pad, w, h int) int {
	if size > 0 {
		return size
	}
	side := l.autoSide
	if tl, ok := l.model.(TileLimiter); ok {
		unlock := l.lock()
		s, err := tl.MaxTile(1)
		unlock()
		if err == nil && s > 0 {
			side = s
		}
	}
	if w <= side && h <= side {
		return 0
	}
	pad = roundUp(pad, l.multiple)
	return max((side-2*pad)/l.multiple*l.multiple, l.minTile())
}

// minTile is the smallest tile the pipeline halves down to when the device
// runs out of memory, and the smallest tileSize chooses: 16 multiples of
// the network's input (16 px for x4plus, 32 for x2plus), below which the
// padding around each tile is most of the work.
func (l *loaded) minTile() int { return 16 * l.multiple }

// smaller is the tile to retry a w×h input with after tiles of size (0 or
// larger than the input: the whole image) ran out of device memory: half
// of it, rounded down to the network's multiple, and not below minTile.
// ok is false when size is already minTile or less.
func (l *loaded) smaller(size, w, h int) (next int, ok bool) {
	if size <= 0 || size > max(w, h) {
		size = max(w, h)
	}
	if size <= l.minTile() {
		return 0, false
	}
	return max(size/2/l.multiple*l.multiple, l.minTile()), true
}

// withTile calls run with tiles of size for a w×h input and, each time it
// fails for want of device memory (graph.ErrOutOfMemory), again from the
// start with smaller tiles, logging each step. It returns the size that
// ran, for callers with more inputs of the same shape. When even minTile
// does not fit, the error still matches ErrOutOfMemory and says so.
//
// The device's memory is not known in advance (other requests and
// processes share it, and the runtime's own estimate, TileLimiter, keeps
// only a margin), so running out is an expected event, not a fault.
func (e *Enhancer) withTile(l *loaded, size, w, h int, run func(size int) error) (int, error) {
	for {
		err := run(size)
		if err == nil || !errors.Is(err, graph.ErrOutOfMemory) {
			return size, err
		}
		next, ok := l.smaller(size, w, h)
		if !ok {
			if size <= 0 || size > max(w, h) {
				size = max(w, h)
			}
			return size, fmt.Errorf("sin memoria en el dispositivo ni con teselas de %d px: %w", size, err)
		}
		e.cfg.Log.Warn("out of device memory: retrying with smaller tiles",
			"input", fmt.Sprintf("%dx%d", w, h), "tile", size, "next_tile", next, "pad", e.cfg.TilePad, "err", err)
		size = next
	}
}

func (l *loaded) maxBatch(h, w int) int {
	if b, ok := l.model.(Batcher); ok {
		if n := b.MaxBatch(h, w); n > 1 {
			return n
		}
	}
	return 1
}

func (l *loaded) forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	return l.call(ctx, func() error { return l.model.Forward(ctx, in, n, h, w, out) })
}

// call runs f, a call into the model, under its lock unless ctx is done.
func (l *loaded) call(ctx context.Context, f func() error) error {
	defer l.lock()()
	if err := ctx.Err(); err != nil {
		return err
	}
	return f()
}

// wholeRGBA runs pictures that need no tiles (size 0), all of one padded
// size, through a Quantizer model, as many at a time as it takes, and
// returns them as opaque RGBA images of the unpadded output size ow×oh. It
// returns nil, and no error, when the model is no Quantizer, when there
// are tiles, or when the device ran out of memory: the float path (which
// halves tiles) then does the work.
func wholeRGBA(ctx context.Context, l *loaded, ins []*planes, size, ow, oh int) ([]*image.RGBA, error) {
	q, ok := l.model.(Quantizer)
	if !ok || size != 0 || len(ins) == 0 {
		return nil, nil
	}
	h, w, s := ins[0].h, ins[0].w, l.scale
	nb := l.maxBatch(h, w)
	px := 3 * h * w
	inBuf := scratch.Get().(*[]float32)
	defer scratch.Put(inBuf)
	in := grow(inBuf, min(nb, len(ins))*px)
	imgs := make([]*image.RGBA, 0, len(ins))
	for len(ins) > 0 {
		n := min(nb, len(ins))
		for i, p := range ins[:n] {
			copy(in[i*px:(i+1)*px], p.pix)
		}
		W, H := w*s, h*s
		out := make([]byte, n*W*H*4)
		err := l.call(ctx, func() error { return q.ForwardRGBA(ctx, in[:n*px], n, h, w, out) })
		if errors.Is(err, graph.ErrOutOfMemory) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inference: %w", err)
		}
		for i := range n {
			m := &image.RGBA{Pix: out[i*W*H*4 : (i+1)*W*H*4], Stride: 4 * W, Rect: image.Rect(0, 0, W, H)}
			imgs = append(imgs, m.SubImage(image.Rect(0, 0, ow, oh)).(*image.RGBA))
		}
		ins = ins[n:]
	}
	return imgs, nil
}

// lock takes l.mu for a call into the model and returns its release, or
// does nothing for a model that is safe for concurrent use (Concurrent: a
// Pool, whose members each run one call at a time).
func (l *loaded) lock() (unlock func()) {
	if _, ok := l.model.(Concurrent); ok {
		return func() {}
	}
	l.mu.Lock()
	return l.mu.Unlock
}

// planes is c planes of h×w floats.
type planes struct {
	c, w, h int
	pix     []float32
}

func newPlanes(c, w, h int) *planes {
	return &planes{c: c, w: w, h: h, pix: make([]float32, c*w*h)}
}

// padReflect pads p on the right and bottom to multiples of m by
// reflection without repeating the edge, as Real-ESRGAN's pre_process does
// with F.pad(..., 'reflect'). It returns p itself when no padding is needed.
func padReflect(p *planes, m int) *planes {
	W, H := roundUp(p.w, m), roundUp(p.h, m)
	if W == p.w && H == p.h {
		return p
	}
	q := newPlanes(p.c, W, H)
	reflect := func(i, n int) int {
		if i >= n {
			i = 2*(n-1) - i
		}
		return max(i, 0) // a 1-pixel side has nothing to reflect: repeat it
	}
	for c := 0; c < p.c; c++ {
		src, dst := p.pix[c*p.w*p.h:], q.pix[c*W*H:]
		for y := 0; y < H; y++ {
			sy := reflect(y, p.h)
			copy(dst[y*W:y*W+p.w], src[sy*p.w:sy*p.w+p.w])
			for x := p.w; x < W; x++ {
				dst[y*W+x] = src[sy*p.w+reflect(x, p.w)]
			}
		}
	}
	return q
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// tile is one piece of Real-ESRGAN's tile_process: a window of the input
// (the tile plus context around it) and, inside it, the tile whose output
// is kept.
type tile struct {
	img        int // which input of the batch
	x, y, w, h int // the window, in input pixels
	tx, ty     int // the tile's offset inside the window
	tw, th     int // the tile's size
}

// plan cuts a W×H image into the tiles of Real-ESRGAN's tile_process: a
// grid of size×size tiles (smaller at the right and bottom edges), each run
// with pad pixels of context. size ≤ 0 means one tile. Sizes are rounded
// up to multiples of m so that every window suits the network.
//
// Unlike tile_process, a window that would stick out of the image is moved
// inside it rather than clipped, so every window has the same shape, up to
// (size+2·pad)²: edge tiles get more context, never less; the runtime keeps
// one compiled plan and one set of buffers instead of four; and all tiles
// can go through Forward as one batch.
func plan(img, W, H, size, pad, m int) []tile {
	if size <= 0 || (size >= W && size >= H) {
		return []tile{{img: img, w: W, h: H, tw: W, th: H}}
	}
	size, pad = roundUp(size, m), roundUp(pad, m)
	ww, wh := min(size+2*pad, W), min(size+2*pad, H)
	var ts []tile
	for y0 := 0; y0 < H; y0 += size {
		for x0 := 0; x0 < W; x0 += size {
			x1, y1 := min(x0+size, W), min(y0+size, H)
			px0 := min(max(x0-pad, 0), W-ww)
			py0 := min(max(y0-pad, 0), H-wh)
			ts = append(ts, tile{img: img, x: px0, y: py0, w: ww, h: wh,
				tx: x0 - px0, ty: y0 - py0, tw: x1 - x0, th: y1 - y0})
		}
	}
	return ts
}

// runTiles runs the network over every tile of the inputs (3 planes each,
// sizes multiples of l.multiple) and hands each tile's output to put with
// the tile. Tiles of one shape go through Forward together when the model
// prefers batches.
func runTiles(ctx context.Context, l *loaded, ins []*planes, size, pad int,
	put func(t tile, out []float32), progress func(done, total int)) error {
	var order [][2]int // shapes in order of first appearance
	groups := map[[2]int][]tile{}
	total := 0
	for i, in := range ins {
		for _, t := range plan(i, in.w, in.h, size, pad, l.multiple) {
			k := [2]int{t.w, t.h}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], t)
			total++
		}
	}
	s := l.scale
	inBuf, outBuf := scratch.Get().(*[]float32), scratch.Get().(*[]float32)
	defer scratch.Put(inBuf)
	defer scratch.Put(outBuf)
	done := 0
	for _, k := range order {
		ts := groups[k]
		w, h := k[0], k[1]
		nb := min(l.maxBatch(h, w), len(ts))
		in, out := grow(inBuf, nb*3*w*h), grow(outBuf, nb*3*w*h*s*s)
		for len(ts) > 0 {
			n := min(nb, len(ts))
			batch := ts[:n]
			ts = ts[n:]
			in, out := in[:n*3*w*h], out[:n*3*w*h*s*s]
			for i, t := range batch {
				crop(ins[t.img], t.x, t.y, w, h, in[i*3*w*h:(i+1)*3*w*h])
			}
			if err := l.forward(ctx, in, n, h, w, out); err != nil {
				return fmt.Errorf("inference: %w", err)
			}
			for i, t := range batch {
				put(t, out[i*3*w*h*s*s:(i+1)*3*w*h*s*s])
			}
			done += n
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return nil
}

// scratch holds runTiles' input and output buffers between calls: a
// video's frames need the same sizes batch after batch, and the outputs
// (4×4×3 floats an input pixel for a ×4 network) cost more to allocate and
// clear than to stitch.
var scratch = sync.Pool{New: func() any { return new([]float32) }}

// grow returns *b with at least n elements, reallocating it when short.
// Its contents are whatever the last user left.
func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// crop copies the w×h window at (x, y) of every plane of p into dst.
func crop(p *planes, x, y, w, h int, dst []float32) {
	for c := 0; c < p.c; c++ {
		src := p.pix[c*p.w*p.h:]
		d := dst[c*w*h:]
		for j := 0; j < h; j++ {
			copy(d[j*w:(j+1)*w], src[(y+j)*p.w+x:(y+j)*p.w+x+w])
		}
	}
}

// stitch writes the kept part of one tile's output (3 planes of the window
// size times s) into dst, clamped to [0,1] and clipped to dst, which is the
// unpadded output. With a one-plane dst the three channels become gray with
// the weights of OpenCV's COLOR_BGR2GRAY, as Real-ESRGAN's post-processing
// for gray images and alpha does.
func stitch(dst *planes, t tile, s int, out []float32) {
	n := t.w * s * t.h * s
	R, G, B := out[:n], out[n:2*n], out[2*n:3*n]
	plane := dst.w * dst.h
	keptRows(dst.w, dst.h, t, s, func(si, di, w int) {
		if dst.c == 1 {
			row := dst.pix[di : di+w]
			for i := range row {
				row[i] = 0.299*clamp01(R[si+i]) + 0.587*clamp01(G[si+i]) + 0.114*clamp01(B[si+i])
			}
			return
		}
		for c, ch := range [3][]float32{R, G, B} {
			row := dst.pix[c*plane+di : c*plane+di+w]
			for i := range row {
				row[i] = clamp01(ch[si+i])
			}
		}
	})
}

// stitchRGBA is stitch into an opaque 8-bit image of the unpadded output's
// size, quantised as toImage does: the video frames' way, which skips the
// float planes.
func stitchRGBA(dst *image.RGBA, t tile, s int, out []float32) {
	n := t.w * s * t.h * s
	R, G, B := out[:n], out[n:2*n], out[2*n:3*n]
	W, H := dst.Rect.Dx(), dst.Rect.Dy()
	keptRows(W, H, t, s, func(si, di, w int) {
		y, x := di/W, di%W
		row := dst.Pix[y*dst.Stride+4*x:][:4*w]
		for i := 0; i < w; i++ {
			row[4*i], row[4*i+1], row[4*i+2], row[4*i+3] = q8(R[si+i]), q8(G[si+i]), q8(B[si+i]), 255
		}
	})
}

// keptRows calls row for each row of tile t's kept output that lands inside
// a dstW×dstH output: si indexes the row's start in the tile's output
// plane, di in the output, w is its length. Large tiles go row by row
// over all the cores.
func keptRows(dstW, dstH int, t tile, s int, row func(si, di, w int)) {
	ow := t.w * s
	x0, y0 := (t.x+t.tx)*s, (t.y+t.ty)*s // where the tile lands
	w, h := min(t.tw*s, dstW-x0), min(t.th*s, dstH-y0)
	if w <= 0 || h <= 0 {
		return // all padding
	}
	sx, sy := t.tx*s, t.ty*s
	one := func(j int) { row((sy+j)*ow+sx, (y0+j)*dstW+x0, w) }
	if w*h < 1<<16 { // not worth the goroutines
		for j := 0; j < h; j++ {
			one(j)
		}
		return
	}
	rows(h, one)
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v // NaN stays NaN; quantize turns it into 0
}

// loadModel reads a weights file with read, checks the network with check
// when given, and loads it on the runtime.
func loadModel(read func(string) (graph.Network, error), rt Runtime, path string, check func(graph.Network) error) (*loaded, error) {
	net, err := read(path)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(net); err != nil {
			return nil, err
		}
	}
	m, err := rt.Load(net)
	if err != nil {
		return nil, fmt.Errorf("loading %s on %s: %w", path, rt.Name(), err)
	}
	side := autoSideSRVGG
	if _, ok := net.(*graph.RRDBNet); ok {
		side = autoSideRRDB
	}
	return &loaded{model: m, scale: net.OutScale(), multiple: net.InputMultiple(), autoSide: side}, nil
}
