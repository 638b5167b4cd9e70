// Package gpu is the GPU inference runtime: Real-ESRGAN's networks on our own
// CUDA library (csrc/, built into libiegpu.so by nvcc), with fp16 storage,
// fp32 accumulation on tensor cores, fused epilogues and one CUDA graph per
// tile shape; and GFPGANv1Clean, in fp32, as steps over one device arena
// (gfpgan.go).
//
// The library is loaded at run time (dlopen), so one binary runs everywhere:
// New reports why the GPU cannot be used (no library, no device, old driver)
// and the caller falls back to the CPU. The first Load of a network on a GPU
// tunes a kernel choice per layer and keeps it as a plan under
// Config.EnginesDir, keyed by model, GPU and driver; later loads read it.
//
// It deliberately does no tiling, clamping or scheduling: package enhance
// splits images into tiles and serialises calls; a Model runs one batch of
// tiles of a known shape.
package gpu

import (
	"errors"
	"fmt"

	"imageenhancer/enhance/graph"
)

// ErrOutOfMemory is returned (wrapped) by Forward when a batch of one tile
// does not fit on the GPU; the caller should halve its tile and retry.
// Batches of several tiles are split internally before this is returned.
// It wraps graph.ErrOutOfMemory, so callers that know only package graph
// (enhance's tiling) recognise it too.
var ErrOutOfMemory = fmt.Errorf("gpu: %w", graph.ErrOutOfMemory)

// ErrUnavailable is wrapped by New's errors: the library or a usable device
// is missing. The message says which.
var ErrUnavailable = errors.New("gpu: unavailable")

// Config configures the runtime.
type Config struct {
	// LibPath is the path of libiegpu.so; empty means "libiegpu.so" on the
	// dynamic loader's search path (LD_LIBRARY_PATH).
	LibPath string
	// EnginesDir is where tuned plans are kept; empty disables the cache
	// (every Load tunes, unless NoTune).
	EnginesDir string
	// Device is the CUDA device index.
	Device int
	// NoTune skips tuning when no plan is cached: default kernels are used.
	NoTune bool
	// TuneTile is the tile side tuning measures on; 0 means 256.
	TuneTile int
}

// Info describes the GPU a Runtime runs on, for /api/health.
type Info struct {
	Device       int    `json:"device"`
	Name         string `json:"name"`
	TotalBytes   uint64 `json:"total_bytes"`
	FreeBytes    uint64 `json:"free_bytes"`
	Driver       string `json:"driver"`       // kernel module version, or the CUDA driver API version
	CUDARuntime  int    `json:"cuda_runtime"` // e.g. 13000
	ComputeMajor int    `json:"compute_major"`
	ComputeMinor int    `json:"compute_minor"`
}
