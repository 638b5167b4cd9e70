//go:build cgo

package gpu

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"imageenhancer/enhance/graph"
)

// Model is a network compiled for the GPU: weights in device memory and
// activations reserved for the largest tile seen. It implements graph.Model.
type Model struct {
	mu    sync.Mutex
	rt    *Runtime
	eng   *C.iegpu_engine
	scale int
	mult  int
	// Plan is where the tuned plan came from: "cache", "tuned" or "default".
	Plan string
}

// Load compiles net for this GPU, tuning it (or reading its cached plan).
// A GFPGAN runs on the library's fp32 primitives instead (see gfpgan.go)
// and has no plan.
func (r *Runtime) Load(net graph.Network) (graph.Model, error) {
	if g, ok := net.(*graph.GFPGAN); ok {
		return r.loadGFPGAN(g)
	}
	m, err := r.LoadModel(net)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// LoadModel is Load with the concrete type, for MaxTile and Time.
func (r *Runtime) LoadModel(net graph.Network) (*Model, error) {
	cn, err := describe(net)
	if err != nil {
		return nil, err
	}
	defer cn.free()
	r.mu.Lock()
	if r.ctx == nil || r.closed {
		r.mu.Unlock()
		return nil, errors.New("gpu: runtime closed")
	}
	m := &Model{rt: r, scale: net.OutScale(), mult: net.InputMultiple()}
	err = call(func() C.int { return C.ie_engine_create(r.ctx, cn.net, &m.eng) })
	cn.unpin()
	if err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("gpu: building the engine: %w", err)
	}
	r.models++
	r.mu.Unlock()
	runtime.SetFinalizer(m, (*Model).Close)
	if err := m.applyPlan(net); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Forward implements graph.Model. A batch that does not fit is split in
// halves; a single tile that does not fit returns an error wrapping
// ErrOutOfMemory, and the caller should retry with a smaller tile.
func (m *Model) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	return forward(ctx, m, in, n, h, w, out, 3, func(in []float32, n int, out []float32) C.int {
		return C.ie_engine_run(m.eng, (*C.float)(&in[0]), C.int(n), C.int(h), C.int(w), (*C.float)(&out[0]))
	})
}

// ForwardRGBA is Forward with the output quantised on the GPU to opaque
// RGBA, as enhance's pipeline would quantise Forward's: out receives n
// images of (h·s)×(w·s) pixels, 4 bytes each, a quarter of the bytes to
// copy back. It implements enhance.Quantizer.
func (m *Model) ForwardRGBA(ctx context.Context, in []float32, n, h, w int, out []byte) error {
	return forward(ctx, m, in, n, h, w, out, 4, func(in []float32, n int, out []byte) C.int {
		return C.ie_engine_run_rgba8(m.eng, (*C.float)(&in[0]), C.int(n), C.int(h), C.int(w), (*C.uchar)(&out[0]))
	})
}

// forward runs n tiles through run, which writes per values an output
// pixel, splitting a batch that does not fit in halves.
func forward[T float32 | byte](ctx context.Context, m *Model, in []float32, n, h, w int, out []T, per int,
	run func(in []float32, n int, out []T) C.int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 || h <= 0 || w <= 0 || h%m.mult != 0 || w%m.mult != 0 {
		return fmt.Errorf("gpu: bad tile shape %dx%dx%d (multiple of %d needed)", n, h, w, m.mult)
	}
	inN, outN := 3*h*w, per*h*w*m.scale*m.scale
	if len(in) < n*inN || len(out) < n*outN {
		return fmt.Errorf("gpu: buffers too short for %d tiles of %dx%d", n, h, w)
	}
	m.mu.Lock()
	if m.eng == nil {
		m.mu.Unlock()
		return errors.New("gpu: model closed")
	}
	err := call(func() C.int { return run(in, n, out) })
	m.mu.Unlock()
	if err != nil && errors.Is(err, ErrOutOfMemory) && n > 1 {
		k := n / 2
		if err := forward(ctx, m, in[:k*inN], k, h, w, out[:k*outN], per, run); err != nil {
			return err
		}
		return forward(ctx, m, in[k*inN:n*inN], n-k, h, w, out[k*outN:n*outN], per, run)
	}
	return err
}

// MaxTile is the largest square tile side (a multiple of 16) whose n-tile
// batch fits in the GPU's free memory with a margin, counting what this
// model already holds as reusable. enhance uses it to choose its tile.
func (m *Model) MaxTile(n int) (int, error) {
	info, err := m.rt.Info()
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return 0, errors.New("gpu: model closed")
	}
	var held C.size_t
	C.ie_engine_memory(m.eng, nil, &held)
	// 10% of the card stays free for the CUDA graphs, cuBLAS-free kernels'
	// launch state and other processes.
	budget := int64(info.FreeBytes) + int64(held) - int64(info.TotalBytes/10)
	// The workspace grows with the side: search the sides 16, 32, … 8192
	// for the first that does not fit (the pipeline asks on every image).
	const step, steps = 16, 8192 / 16
	k := sort.Search(steps, func(i int) bool {
		var b C.size_t
		side := (i + 1) * step
		C.ie_engine_workspace(m.eng, C.int(n), C.int(side), C.int(side), &b)
		return int64(b) > budget
	})
	best := k * step // k sides fit
	if best == 0 {
		return 0, fmt.Errorf("%w: not even a 16x16 tile fits", ErrOutOfMemory)
	}
	return best, nil
}

// Time runs the network iters times on n random tiles of h×w already on the
// device and returns the median milliseconds of one pass (CUDA events).
func (m *Model) Time(n, h, w, iters int) (float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return 0, errors.New("gpu: model closed")
	}
	var ms C.float
	err := call(func() C.int { return C.ie_engine_time(m.eng, C.int(n), C.int(h), C.int(w), C.int(iters), &ms) })
	return float64(ms), err
}

// PlanText is the engine's plan: the kernel variant of each layer and, after
// tuning, each variant's time per layer shape.
func (m *Model) PlanText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return ""
	}
	var need C.size_t
	C.ie_engine_plan(m.eng, nil, 0, &need)
	buf := make([]C.char, int(need)+1)
	C.ie_engine_plan(m.eng, &buf[0], C.size_t(len(buf)), nil)
	return C.GoString(&buf[0])
}

// Tune re-times every kernel variant on n tiles of h×w and keeps the
// fastest per layer, for a caller that knows its tile shape (the cached plan
// is tuned on Config.TuneTile squares). It does not write the plan cache.
func (m *Model) Tune(n, h, w int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return errors.New("gpu: model closed")
	}
	return call(func() C.int { return C.ie_engine_tune(m.eng, C.int(n), C.int(h), C.int(w)) })
}

// SetPlan replaces the engine's kernel choices by a plan (as PlanText
// writes it); tests use it to run every kernel variant.
func (m *Model) SetPlan(text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return errors.New("gpu: model closed")
	}
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	return call(func() C.int { return C.ie_engine_set_plan(m.eng, cs) })
}

// Memory reports the device bytes held for weights and activations.
func (m *Model) Memory() (weights, activations uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return 0, 0
	}
	var wb, ab C.size_t
	C.ie_engine_memory(m.eng, &wb, &ab)
	return uint64(wb), uint64(ab)
}

// Close frees the model's device memory; calling it twice is safe.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng == nil {
		return nil
	}
	runtime.SetFinalizer(m, nil)
	err := call(func() C.int { return C.ie_engine_destroy(m.eng) })
	m.eng = nil
	if e := m.rt.release(); err == nil {
		err = e
	}
	return err
}
