// Package enhance is the image pipeline of the service: decode, tile, run a
// Real-ESRGAN network, stitch, restore faces (face_enhance: package face
// finds, aligns and pastes them, GFPGAN restores them on the runtime),
// resize, encode. It also holds the model catalogue, the weights installer
// (`models fetch`) and Forward, the bare network run that every runtime is
// checked with.
//
// It deliberately does no arithmetic of the networks themselves: a Runtime
// (package cpu or gpu) runs one tensor of a known shape; tiling, padding,
// clamping and resizing are here.
package enhance

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sync"
	"time"

	"imageenhancer/enhance/graph"
	"imageenhancer/face"
)

// Error kinds of the pipeline. Errors returned by Enhancer wrap one of these
// (errors.Is) and their message names the field at fault.
var (
	ErrInvalidInput      = errors.New("entrada inválida")              // → 400
	ErrTooLarge          = errors.New("demasiado grande")              // → 413
	ErrModelNotInstalled = errors.New("modelo no instalado")           // → 400, message names the file to supply
	ErrBusy              = errors.New("cola de inferencia llena")      // → 503 with Retry-After
	ErrFaceUnavailable   = errors.New("mejora de caras no disponible") // → 400
	// ErrOutOfMemory is the runtimes' out-of-memory error (→ 503). The
	// pipeline retries a tile that does not fit at half its size, so
	// Enhancer returns it only when even the smallest tile (minTile) did
	// not fit, or when a face did not (GFPGAN runs whole faces).
	ErrOutOfMemory = graph.ErrOutOfMemory
)

// Request is one image to enhance.
type Request struct {
	Image        []byte // encoded PNG, JPEG or WEBP
	Model        string // catalogue id; "" means general_x4
	Scale        int    // 1–4; 0 means the model's default
	OutputWidth  int    // 0 = not asked for
	OutputHeight int
	// FaceEnhance restores the faces with GFPGAN and pastes them into the
	// upscaled image (see faces.go); without GFPGAN's weights, or on a
	// runtime that cannot run it, the request fails with ErrFaceUnavailable.
	FaceEnhance bool
	// Progress, when set, is called after each tile with tiles done and total.
	Progress func(done, total int)
	// Weights, when set, is a weights file (.pth, or .param with its .bin)
	// used instead of Model. For the command line; the API never sets it.
	Weights string
}

// Result is an enhanced image.
type Result struct {
	PNG                           []byte
	OriginalWidth, OriginalHeight int
	Width, Height                 int
	Scale                         int
	GPUUsed                       bool
	Elapsed                       time.Duration
	Stages                        Stages
}

// Stages is how Elapsed divides between the pipeline's stages.
type Stages struct {
	Decode time.Duration // the input to floats
	Queue  time.Duration // waiting for the inference semaphore
	// Infer is the network over every tile (with any retries at smaller
	// tiles), stitching and faces.
	Infer  time.Duration
	Encode time.Duration // resize, quantise, PNG
}

// ModelInfo is one catalogue entry as /api/models reports it.
type ModelInfo struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	DefaultScale    int      `json:"default_scale"`
	SupportedScales []int    `json:"supported_scales"`
	UseCase         string   `json:"use_case"`
	RecommendedFor  []string `json:"recommended_for"`
	Architecture    string   `json:"architecture"`
	Installed       bool     `json:"installed"`
	WeightsFile     string   `json:"weights_file"` // the file that installs it
}

// Config configures an Enhancer.
type Config struct {
	EnginesDir string
	Runtime    Runtime
	// TileSize is the side of the tiles images are cut into (Real-ESRGAN's
	// tile). 0 runs images whole up to the largest window the model can
	// take (TileLimiter; on the CPU 288 for RRDBNet and 768 for
	// SRVGGNetCompact) and tiles larger ones at that size.
	TileSize int
	TilePad  int // context around each tile (tile_pad)
	// DefaultScale, when 1–4, is the scale of requests that give none for
	// models whose own scale is 4 (the original's DEFAULT_SCALE=4);
	// general_x2 keeps 2.
	DefaultScale    int
	MaxInputPixels  int64 // 0 = no limit
	MaxOutputPixels int64 // 0 = no limit
	// Concurrency is how many inference batches run at once (the GPU
	// semaphore's size); QueueLength how many more may wait before ErrBusy.
	Concurrency int
	QueueLength int
	// Log receives the pipeline's warnings (a tile halved for want of
	// device memory); nil means slog.Default().
	Log *slog.Logger
}

// Defaults for the Config fields left zero.
const (
	DefaultConcurrency = 1
	DefaultQueueLength = 16
)

// Enhancer is the image pipeline: decode, tile, run, stitch, resize, encode.
// It owns the inference semaphore shared by images and videos.
type Enhancer struct {
	cfg  Config
	gate *gate
	// read is LoadNetwork; tests replace it to run the pipeline on
	// networks that need no weights.
	read func(string) (graph.Network, error)

	mu     sync.Mutex
	models map[string]*slot // by model id, "file:" + path, or gfpganKey

	face faces
}

// slot holds one model once loaded; its mutex serialises loading.
type slot struct {
	mu sync.Mutex
	l  *loaded
}

// New returns an Enhancer. Models are loaded lazily on first use.
func New(cfg Config) (*Enhancer, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("enhance: Config.Runtime is nil")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	// Concurrency is per device: a Pool of GPUs runs a batch on each.
	if c, ok := cfg.Runtime.(Concurrent); ok && c.Concurrency() > 1 {
		cfg.Concurrency *= c.Concurrency()
	}
	if cfg.QueueLength < 0 {
		cfg.QueueLength = 0
	} else if cfg.QueueLength == 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.TileSize < 0 || cfg.TilePad < 0 {
		return nil, fmt.Errorf("enhance: tile size %d and pad %d must not be negative", cfg.TileSize, cfg.TilePad)
	}
	return &Enhancer{
		cfg:    cfg,
		gate:   newGate(cfg.Concurrency, cfg.QueueLength),
		read:   LoadNetwork,
		models: map[string]*slot{},
	}, nil
}

// Models lists the catalogue with what is installed in EnginesDir.
func (e *Enhancer) Models() []ModelInfo {
	var out []ModelInfo
	for _, m := range Catalogue() {
		out = append(out, m.info(e.cfg.EnginesDir))
	}
	return out
}

// Enhance runs one request.
func (e *Enhancer) Enhance(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	entry, scale, err := e.resolve(req.Model, req.Scale, req.Weights != "")
	if err != nil {
		return nil, err
	}
	if req.OutputWidth < 0 || req.OutputHeight < 0 {
		return nil, fmt.Errorf("output_width/output_height: %w: los tamaños deben ser positivos (recibido %d×%d)", ErrInvalidInput, req.OutputWidth, req.OutputHeight)
	}
	var l *loaded
	if req.Weights != "" { // loaded first: its scale is the default
		if l, err = e.loadFile(req.Weights); err != nil {
			return nil, err
		}
		if req.Scale == 0 {
			scale = l.scale
		}
	}
	// Face enhancement is checked before any work: without GFPGAN's
	// weights, or on a runtime that cannot run it, the request is refused.
	var (
		det *face.Detector
		gfp *loaded
	)
	if req.FaceEnhance {
		if det, gfp, err = e.faceStage(); err != nil {
			return nil, err
		}
	}
	var st Stages
	mark := time.Now()
	lap := func(d *time.Duration) {
		now := time.Now()
		*d, mark = now.Sub(mark), now
	}
	pic, err := decode(req.Image, e.cfg.MaxInputPixels)
	if err != nil {
		return nil, err
	}
	ow, oh := outputSize(pic.w, pic.h, scale, req.OutputWidth, req.OutputHeight)
	// The product in float64: asked sizes are any JSON integers, and an
	// int64 product of two of them can wrap round to a small number.
	if lim := e.cfg.MaxOutputPixels; lim > 0 && float64(ow)*float64(oh) > float64(lim) {
		field := "scale"
		if req.OutputWidth > 0 || req.OutputHeight > 0 {
			field = "output_width/output_height"
		}
		return nil, fmt.Errorf("%s: %w: la salida de %d×%d píxeles supera el límite de %d", field, ErrTooLarge, ow, oh, lim)
	}

	if l == nil {
		if l, err = e.load(entry); err != nil {
			return nil, err
		}
	}
	// The face stage, when asked for: the faces are found before the
	// semaphore is taken, since detection runs in Go, not on the runtime.
	var (
		src   *image.RGBA
		found []face.Face
	)
	if det != nil {
		src = rgba8(pic)
		if found, err = detectFaces(det, src); err != nil {
			return nil, fmt.Errorf("face_enhance: detecting faces: %w", err)
		}
	}
	lap(&st.Decode) // with the model's loading and face detection, if any
	if err := e.gate.acquire(ctx, true); err != nil {
		return nil, err
	}
	lap(&st.Queue)
	// One tile size for both paths: asking a GPU model for it reads the
	// device's free memory.
	size := l.tileSize(e.cfg.TileSize, e.cfg.TilePad, roundUp(pic.w, l.multiple), roundUp(pic.h, l.multiple))
	var col, alpha *planes
	q, err := e.upscaleRGBA(ctx, l, pic, size, det == nil && ow == pic.w*l.scale && oh == pic.h*l.scale, req.Progress)
	if err == nil && q == nil {
		col, alpha, err = e.upscale(ctx, l, pic, size, req.Progress)
		if err == nil && len(found) > 0 {
			col, err = pasteFaces(ctx, src, col, found, scale, gfp)
		}
	}
	e.gate.release()
	if err != nil {
		return nil, err
	}
	lap(&st.Infer)
	var img image.Image = q
	if q == nil {
		img = toImage(resize(col, ow, oh), resizeOpt(alpha, ow, oh), pic.deep)
	}
	b, err := encodePNG(img)
	if err != nil {
		return nil, fmt.Errorf("encoding PNG: %v", err)
	}
	lap(&st.Encode)
	return &Result{
		PNG:           b,
		OriginalWidth: pic.w, OriginalHeight: pic.h,
		Width: ow, Height: oh,
		Scale:   scale,
		GPUUsed: e.cfg.Runtime.Name() == "gpu",
		Elapsed: time.Since(start),
		Stages:  st,
	}, nil
}

func resizeOpt(p *planes, w, h int) *planes {
	if p == nil {
		return nil
	}
	return resize(p, w, h)
}

// outputSize is w×h times scale, unless the request asks for sizes: both
// are taken as they are; one alone keeps the input's aspect ratio.
func outputSize(w, h, scale, ow, oh int) (int, int) {
	switch {
	case ow > 0 && oh > 0:
		return ow, oh
	case ow > 0:
		return ow, max(1, int(math.Round(float64(h)*float64(ow)/float64(w))))
	case oh > 0:
		return max(1, int(math.Round(float64(w)*float64(oh)/float64(h)))), oh
	}
	return w * scale, h * scale
}

// upscale runs the network, in tiles of size, over the picture's colour
// and, when it has any, its alpha replicated to three channels
// (Real-ESRGAN's alpha_upsampler='realesrgan'). It returns the
// network-scale output, clamped, unpadded: 3 colour planes (1 for a gray
// picture) and the alpha.
// When a tile does not fit in the device's memory the picture is done
// again, both passes, with smaller tiles (see withTile); progress then
// starts over with the new count of tiles.
func (e *Enhancer) upscale(ctx context.Context, l *loaded, pic *picture, size int, progress func(done, total int)) (col, alpha *planes, err error) {
	pw, ph := roundUp(pic.w, l.multiple), roundUp(pic.h, l.multiple)
	_, err = e.withTile(l, size, pw, ph, func(size int) error {
		col, alpha, err = e.upscaleAt(ctx, l, pic, size, progress)
		return err
	})
	return col, alpha, err
}

// upscaleRGBA is upscale for an opaque 8-bit colour picture whose output
// is the network's (ok: no faces to paste, no resize), on a model that
// quantises itself, when the picture fits one tile: the 8-bit image
// straight from the device. Otherwise it returns nil and upscale runs.
func (e *Enhancer) upscaleRGBA(ctx context.Context, l *loaded, pic *picture, size int, ok bool, progress func(done, total int)) (*image.RGBA, error) {
	if !ok || pic.alpha != nil || pic.gray || pic.deep {
		return nil, nil
	}
	in := padReflect(&planes{c: 3, w: pic.w, h: pic.h, pix: pic.rgb}, l.multiple)
	q, err := wholeRGBA(ctx, l, []*planes{in}, size, pic.w*l.scale, pic.h*l.scale)
	if q == nil {
		return nil, err
	}
	if progress != nil {
		progress(1, 1)
	}
	return q[0], nil
}

// upscaleAt is upscale with tiles of size.
func (e *Enhancer) upscaleAt(ctx context.Context, l *loaded, pic *picture, size int, progress func(done, total int)) (col, alpha *planes, err error) {
	s := l.scale
	W, H := pic.w*s, pic.h*s
	passes := 1
	if pic.alpha != nil {
		passes = 2
	}
	pw, ph := roundUp(pic.w, l.multiple), roundUp(pic.h, l.multiple)
	// Progress counts the tiles of both passes.
	tilesPerPass := len(plan(0, pw, ph, size, e.cfg.TilePad, l.multiple))
	report := func(pass int) func(int, int) {
		if progress == nil {
			return nil
		}
		return func(done, _ int) { progress(pass*tilesPerPass+done, passes*tilesPerPass) }
	}

	channels := 3
	if pic.gray {
		channels = 1
	}
	col = newPlanes(channels, W, H)
	in := padReflect(&planes{c: 3, w: pic.w, h: pic.h, pix: pic.rgb}, l.multiple)
	err = runTiles(ctx, l, []*planes{in}, size, e.cfg.TilePad,
		func(t tile, out []float32) { stitch(col, t, s, out) }, report(0))
	if err != nil || pic.alpha == nil {
		return col, nil, err
	}
	n := pic.w * pic.h
	a3 := &planes{c: 3, w: pic.w, h: pic.h, pix: make([]float32, 3*n)}
	for c := 0; c < 3; c++ {
		copy(a3.pix[c*n:], pic.alpha)
	}
	alpha = newPlanes(1, W, H)
	err = runTiles(ctx, l, []*planes{padReflect(a3, l.multiple)}, size, e.cfg.TilePad,
		func(t tile, out []float32) { stitch(alpha, t, s, out) }, report(1))
	return col, alpha, err
}

// resolve checks a model id and scale, and turns scale 0 into the default.
// With a weights file given, the id is not needed.
func (e *Enhancer) resolve(model string, scale int, file bool) (Entry, int, error) {
	if scale < 0 || scale > 4 {
		return Entry{}, 0, fmt.Errorf("scale: %w: debe estar entre 1 y 4 (recibido %d)", ErrInvalidInput, scale)
	}
	if file && model == "" {
		return Entry{}, scale, nil // 0 becomes the network's own scale once loaded
	}
	if model == "" {
		model = DefaultModel
	}
	entry, ok := lookup(model)
	if !ok {
		return Entry{}, 0, fmt.Errorf("model_type: %w: modelo desconocido %q (modelos: %s)", ErrInvalidInput, model, modelIDs())
	}
	if scale == 0 {
		scale = entry.NativeScale
		if d := e.cfg.DefaultScale; d >= 1 && d <= 4 && entry.NativeScale == 4 {
			scale = d
		}
	}
	return entry, scale, nil
}

// Check reports whether model and scale could be served now (the model is
// known and installed, the scale in 1–4), without running anything. Video
// submission uses it to refuse a job before accepting it.
func (e *Enhancer) Check(model string, scale int) error {
	entry, _, err := e.resolve(model, scale, false)
	if err != nil {
		return err
	}
	if entry.Installed(e.cfg.EnginesDir) == "" {
		return entry.notInstalled(e.cfg.EnginesDir)
	}
	return nil
}

// load returns the catalogue model, loading it on first use.
func (e *Enhancer) load(entry Entry) (*loaded, error) {
	return e.loadKey(entry.ID, func() (*loaded, error) {
		path := entry.Installed(e.cfg.EnginesDir)
		if path == "" {
			return nil, entry.notInstalled(e.cfg.EnginesDir)
		}
		return loadModel(e.read, e.cfg.Runtime, path, entry.matches)
	})
}

// loadFile returns the network of a weights file, loading it on first use.
func (e *Enhancer) loadFile(path string) (*loaded, error) {
	return e.loadKey("file:"+path, func() (*loaded, error) {
		return loadModel(e.read, e.cfg.Runtime, path, nil)
	})
}

func (e *Enhancer) loadKey(key string, load func() (*loaded, error)) (*loaded, error) {
	e.mu.Lock()
	s := e.models[key]
	if s == nil {
		s = &slot{}
		e.models[key] = s
	}
	e.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l == nil {
		l, err := load() // a failure is not kept: installing the file fixes it
		if err != nil {
			return nil, err
		}
		s.l = l
	}
	return s.l, nil
}

// EnhanceFrames upscales video frames (8-bit RGB, all the same size) by scale
// with model, batching them through the same semaphore as images. With
// faces set, each frame's faces are restored and pasted back as Enhance
// does with FaceEnhance. The returned frames are new images of the scaled
// size, in order.
func (e *Enhancer) EnhanceFrames(ctx context.Context, model string, scale int, faces bool, frames []*image.RGBA) ([]*image.RGBA, error) {
	entry, scale, err := e.resolve(model, scale, false)
	if err != nil {
		return nil, err
	}
	var (
		det *face.Detector
		gfp *loaded
	)
	if faces {
		if det, gfp, err = e.faceStage(); err != nil {
			return nil, err
		}
	}
	if len(frames) == 0 {
		return nil, nil
	}
	fw, fh := frames[0].Rect.Dx(), frames[0].Rect.Dy()
	for i, f := range frames {
		if f.Rect.Dx() != fw || f.Rect.Dy() != fh {
			return nil, fmt.Errorf("frames: %w: el fotograma %d mide %v y el fotograma 0 mide %dx%d", ErrInvalidInput, i, f.Rect.Size(), fw, fh)
		}
	}
	if lim := e.cfg.MaxOutputPixels; lim > 0 && int64(fw*scale)*int64(fh*scale) > lim {
		return nil, fmt.Errorf("scale: %w: fotogramas de %d×%d píxeles superan el límite de %d", ErrTooLarge, fw*scale, fh*scale, lim)
	}
	l, err := e.load(entry)
	if err != nil {
		return nil, err
	}
	s := l.scale
	pw, ph := roundUp(fw, l.multiple), roundUp(fh, l.multiple)
	// Frames go through the network together as far as the model batches
	// their tiles, and no further: each costs its full output in floats.
	size := l.tileSize(e.cfg.TileSize, e.cfg.TilePad, pw, ph)
	first := plan(0, pw, ph, size, e.cfg.TilePad, l.multiple)[0]
	group := min(l.maxBatch(first.h, first.w), 4)

	// Without faces to paste or a resize to make, tiles go straight into
	// the 8-bit frames, skipping the float planes.
	direct := det == nil && scale == s
	out := make([]*image.RGBA, 0, len(frames))
	for len(frames) > 0 {
		n := min(group, len(frames))
		batch := frames[:n]
		frames = frames[n:]
		ins := make([]*planes, n)
		cols := make([]*planes, n)
		imgs := make([]*image.RGBA, n)
		for i, f := range batch {
			ins[i] = padReflect(&planes{c: 3, w: fw, h: fh, pix: fromImage(f).rgb}, l.multiple)
			if !direct {
				cols[i] = newPlanes(3, fw*s, fh*s)
			}
		}
		put := func(t tile, o []float32) { stitch(cols[t.img], t, s, o) }
		if direct {
			put = func(t tile, o []float32) { stitchRGBA(imgs[t.img], t, s, o) }
		}
		// Faces are found outside the semaphore, as for images.
		found := make([][]face.Face, n)
		for i, f := range batch {
			if det == nil {
				break
			}
			if found[i], err = detectFaces(det, f); err != nil {
				return nil, fmt.Errorf("face_enhance: detecting faces: %w", err)
			}
		}
		if err := e.gate.acquire(ctx, false); err != nil {
			return nil, err
		}
		var q []*image.RGBA
		if direct { // whole frames on a model that quantises them itself
			q, err = wholeRGBA(ctx, l, ins, size, fw*s, fh*s)
		}
		if q != nil {
			imgs = q
		} else if err == nil {
			if direct {
				for i := range imgs {
					imgs[i] = image.NewRGBA(image.Rect(0, 0, fw*s, fh*s))
				}
			}
			// A size that ran out of memory stays halved for the next frames.
			size, err = e.withTile(l, size, pw, ph, func(size int) error {
				return runTiles(ctx, l, ins, size, e.cfg.TilePad, put, nil)
			})
		}
		for i := 0; err == nil && i < n; i++ {
			if len(found[i]) > 0 {
				cols[i], err = pasteFaces(ctx, batch[i], cols[i], found[i], scale, gfp)
			}
		}
		e.gate.release()
		if err != nil {
			return nil, err
		}
		if direct {
			out = append(out, imgs...)
			continue
		}
		for _, c := range cols {
			out = append(out, toImage(resize(c, fw*scale, fh*scale), nil, false).(*image.RGBA))
		}
	}
	return out, nil
}

// RuntimeName is the name of the runtime in use ("cpu" or "gpu").
func (e *Enhancer) RuntimeName() string { return e.cfg.Runtime.Name() }

// Close releases loaded models.
func (e *Enhancer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for k, s := range e.models {
		s.mu.Lock()
		if s.l != nil {
			s.l.mu.Lock()
			errs = append(errs, s.l.model.Close())
			s.l.mu.Unlock()
			s.l = nil
		}
		s.mu.Unlock()
		delete(e.models, k)
	}
	return errors.Join(errs...)
}

// gate is the inference semaphore: slots run, up to queue more wait, and
// beyond that images are refused at once with ErrBusy.
type gate struct {
	slots   chan struct{}
	mu      sync.Mutex
	waiting int
	queue   int
}

func newGate(slots, queue int) *gate {
	return &gate{slots: make(chan struct{}, slots), queue: queue}
}

// acquire takes a slot. With limited set it refuses with ErrBusy when the
// queue is full; video frames pass false and wait their turn instead.
func (g *gate) acquire(ctx context.Context, limited bool) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.mu.Lock()
	if limited && g.waiting >= g.queue {
		g.mu.Unlock()
		return fmt.Errorf("%w: %d en curso y %d en espera; reintente más tarde", ErrBusy, cap(g.slots), g.waiting)
	}
	g.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) release() { <-g.slots }
