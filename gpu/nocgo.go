//go:build !cgo

package gpu

import (
	"context"
	"fmt"

	"imageenhancer/enhance/graph"
)

var errNoCgo = fmt.Errorf("%w: gpu: not built with cgo", ErrUnavailable)

// Runtime is the GPU runtime; without cgo it cannot be created.
type Runtime struct{}

// New reports that this binary was built without cgo.
func New(cfg Config) (*Runtime, error) { return nil, errNoCgo }

// Name is "gpu".
func (r *Runtime) Name() string { return "gpu" }

// Info reports nothing: there is no GPU.
func (r *Runtime) Info() (Info, error) { return Info{}, errNoCgo }

// Load fails: there is no GPU.
func (r *Runtime) Load(net graph.Network) (graph.Model, error) { return nil, errNoCgo }

// LoadModel fails: there is no GPU.
func (r *Runtime) LoadModel(net graph.Network) (*Model, error) { return nil, errNoCgo }

// Close does nothing.
func (r *Runtime) Close() error { return nil }

// Model is a network loaded on the GPU; without cgo there are none.
type Model struct {
	// Plan is where the tuned plan came from; empty here.
	Plan string
}

// Tune fails: there is no GPU.
func (m *Model) Tune(n, h, w int) error { return errNoCgo }

// Time fails: there is no GPU.
func (m *Model) Time(n, h, w, iters int) (float64, error) { return 0, errNoCgo }

// PlanText is empty: there is no GPU.
func (m *Model) PlanText() string { return "" }

// SetPlan fails: there is no GPU.
func (m *Model) SetPlan(text string) error { return errNoCgo }

// Memory reports nothing: there is no GPU.
func (m *Model) Memory() (weights, activations uint64) { return 0, 0 }

// Forward fails: there is no GPU.
func (m *Model) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	return errNoCgo
}

// ForwardRGBA fails: there is no GPU.
func (m *Model) ForwardRGBA(ctx context.Context, in []float32, n, h, w int, out []byte) error {
	return errNoCgo
}

// MaxTile fails: there is no GPU.
func (m *Model) MaxTile(n int) (int, error) { return 0, errNoCgo }

// Close does nothing.
func (m *Model) Close() error { return nil }
