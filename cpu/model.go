//go:build cgo && !noonednn

package cpu

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"unsafe"

	"imageenhancer/enhance/graph"
)

// maxPlans is how many input shapes a Model keeps compiled at once: the
// pipeline's interior tiles and its edge tiles.
const maxPlans = 2

// errClosed is returned by Forward after Close.
var errClosed = errors.New("cpu: model is closed")

// Model is a network loaded on the CPU runtime. Its oneDNN calls all run on
// one goroutine locked to one OS thread, so that OpenMP keeps a single thread
// pool and the thread count set at creation.
type Model struct {
	net  graph.Network
	jobs chan func()
	done chan struct{} // closed when the worker has freed everything
	st   *state        // touched only by the worker

	mu     sync.Mutex
	closed bool
}

// state is what the worker owns. It is separate from Model so that the
// worker does not keep a Model reachable and its finalizer can run.
type state struct {
	cfg   Config
	net   graph.Network
	ctx   *C.ie_ctx
	plans []*plan // most recently used last
}

func newModel(cfg Config, net graph.Network) (*Model, error) {
	net = cloneNet(net)
	m := &Model{net: net, jobs: make(chan func()), done: make(chan struct{}), st: &state{cfg: cfg, net: net}}
	started := make(chan error)
	go worker(m.st, m.jobs, m.done, started)
	if err := <-started; err != nil {
		return nil, err
	}
	goruntime.SetFinalizer(m, func(m *Model) { m.Close() })
	return m, nil
}

// worker runs every oneDNN call of a Model until Close closes jobs.
func worker(st *state, jobs <-chan func(), done chan<- struct{}, started chan<- error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	defer close(done)
	if rc := C.ie_ctx_create(&st.ctx, C.int(st.cfg.threads())); rc != 0 {
		started <- statusError("creating the oneDNN engine", rc)
		return
	}
	started <- nil
	for job := range jobs {
		job()
	}
	for _, p := range st.plans {
		p.free()
	}
	st.plans = nil
	C.ie_ctx_destroy(st.ctx)
	st.ctx = nil
}

// do runs f on the worker and waits for it.
func (m *Model) do(f func() error) error {
	done := make(chan error, 1)
	m.jobs <- func() { done <- f() }
	return <-done
}

// Forward implements graph.Model: it runs the network on n tiles of h×w.
func (m *Model) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	s := m.net.OutScale()
	mult := m.net.InputMultiple()
	switch {
	case n <= 0 || h <= 0 || w <= 0:
		return fmt.Errorf("cpu: bad shape %d×%d×%d", n, h, w)
	case h%mult != 0 || w%mult != 0:
		return fmt.Errorf("cpu: %d×%d input is not a multiple of %d", h, w, mult)
	case wrongGFPGANSize(m.net, h, w):
		return fmt.Errorf("cpu: GFPGAN input is %d×%d, want %d×%d", h, w, m.net.InputMultiple(), m.net.InputMultiple())
	case len(in) != n*3*h*w:
		return fmt.Errorf("cpu: input has %d values, want %d for %d×3×%d×%d", len(in), n*3*h*w, n, h, w)
	case len(out) != n*3*h*s*w*s:
		return fmt.Errorf("cpu: output has %d values, want %d", len(out), n*3*h*s*w*s)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	st := m.st
	return m.do(func() error {
		p, err := st.plan(h, w)
		if err != nil {
			return err
		}
		inSize, outSize := 3*h*w, 3*h*s*w*s
		for i := 0; i < n; i++ {
			if err := p.run(ctx, st.ctx, in[i*inSize:(i+1)*inSize], out[i*outSize:(i+1)*outSize]); err != nil {
				return err
			}
		}
		return nil
	})
}

// wrongGFPGANSize reports whether net is a GFPGAN and h×w not its one size.
func wrongGFPGANSize(net graph.Network, h, w int) bool {
	g, ok := net.(*graph.GFPGAN)
	return ok && (h != g.Size || w != g.Size)
}

// plan returns the compiled plan for h×w, building it (and dropping the
// least recently used one) if needed. It runs on the worker.
func (st *state) plan(h, w int) (*plan, error) {
	for i, p := range st.plans {
		if p.h == h && p.w == w {
			st.plans = append(append(st.plans[:i:i], st.plans[i+1:]...), p)
			return p, nil
		}
	}
	if len(st.plans) == maxPlans {
		st.plans[0].free()
		st.plans = st.plans[1:]
	}
	p, err := buildPlan(st.ctx, st.net, st.cfg, h, w)
	if err != nil {
		return nil, err
	}
	st.plans = append(st.plans, p)
	return p, nil
}

// Close frees the model's primitives and buffers; calling it twice is safe.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	goruntime.SetFinalizer(m, nil)
	close(m.jobs) // the worker frees everything and exits
	<-m.done
	return nil
}

// Impls lists the oneDNN implementation of each convolution compiled for an
// h×w input, for benchmarks and debugging.
func (m *Model) Impls(h, w int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	var impls []string
	st := m.st
	err := m.do(func() error {
		p, err := st.plan(h, w)
		if err != nil {
			return err
		}
		for _, s := range p.steps {
			if s.conv != nil {
				impls = append(impls, convImpl(s.conv))
			}
		}
		if p.gfp != nil {
			for _, v := range p.gfp.convs {
				impls = append(impls, convImpl(v))
			}
		}
		return nil
	})
	return impls, err
}

// unsafeAt returns the address of s[0] for one cgo call.
func unsafeAt(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }
