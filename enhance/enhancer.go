package enhance

// This file is the pipeline's public face, as the api and video packages use
// it. Bodies marked TODO are filled in by the pipeline work.

import (
	"context"
	"errors"
	"image"
	"time"
)

// Error kinds of the pipeline. Errors returned by Enhancer wrap one of these
// (errors.Is) and their message names the field at fault.
var (
	ErrInvalidInput      = errors.New("invalid input")                // → 400
	ErrTooLarge          = errors.New("too large")                    // → 413
	ErrModelNotInstalled = errors.New("model not installed")          // → 400, message names the file to supply
	ErrBusy              = errors.New("inference queue full")         // → 503 with Retry-After
	ErrFaceUnavailable   = errors.New("face enhancement unavailable") // → 400
)

// Request is one image to enhance.
type Request struct {
	Image        []byte // encoded PNG, JPEG or WEBP
	Model        string // catalogue id; "" means general_x4
	Scale        int    // 1–4; 0 means the model's default
	OutputWidth  int    // 0 = not asked for
	OutputHeight int
	FaceEnhance  bool
	// Progress, when set, is called after each tile with tiles done and total.
	Progress func(done, total int)
}

// Result is an enhanced image.
type Result struct {
	PNG                           []byte
	OriginalWidth, OriginalHeight int
	Width, Height                 int
	Scale                         int
	GPUUsed                       bool
	Elapsed                       time.Duration
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
	EnginesDir      string
	Runtime         Runtime
	TileSize        int // 0 = whole image
	TilePad         int
	DefaultScale    int
	MaxInputPixels  int64
	MaxOutputPixels int64
	// Concurrency is how many inference batches run at once (the GPU
	// semaphore's size); QueueLength how many more may wait before ErrBusy.
	Concurrency int
	QueueLength int
}

// Enhancer is the image pipeline: decode, tile, run, stitch, resize, encode.
// It owns the inference semaphore shared by images and videos.
type Enhancer struct {
	cfg Config
}

// New returns an Enhancer. Models are loaded lazily on first use.
func New(cfg Config) (*Enhancer, error) { return &Enhancer{cfg: cfg}, nil } // TODO

// Models lists the catalogue with what is installed in EnginesDir.
func (e *Enhancer) Models() []ModelInfo { return nil } // TODO

// Enhance runs one request.
func (e *Enhancer) Enhance(ctx context.Context, req Request) (*Result, error) {
	return nil, errors.New("not implemented") // TODO
}

// Check reports whether model and scale could be served now (the model is
// known and installed, the scale in 1–4), without running anything. Video
// submission uses it to refuse a job before accepting it.
func (e *Enhancer) Check(model string, scale int) error { return nil } // TODO

// EnhanceFrames upscales video frames (8-bit RGB, all the same size) by scale
// with model, batching them through the same semaphore as images. The
// returned frames are new images of the scaled size, in order.
func (e *Enhancer) EnhanceFrames(ctx context.Context, model string, scale int, frames []*image.RGBA) ([]*image.RGBA, error) {
	return nil, errors.New("not implemented") // TODO
}

// RuntimeName is the name of the runtime in use ("cpu" or "gpu").
func (e *Enhancer) RuntimeName() string { return e.cfg.Runtime.Name() }

// Close releases loaded models.
func (e *Enhancer) Close() error { return nil } // TODO
