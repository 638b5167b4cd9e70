//go:build !cgo || noonednn

package cpu

import "imageenhancer/enhance/graph"

// Runtime is the CPU runtime; in this build it cannot be created.
type Runtime struct{}

// New reports ErrNotBuilt: this binary was built without oneDNN.
func New(cfg Config) (*Runtime, error) { return nil, ErrNotBuilt }

// Name returns "cpu".
func (r *Runtime) Name() string { return "cpu" }

// Load reports ErrNotBuilt.
func (r *Runtime) Load(net graph.Network) (graph.Model, error) { return nil, ErrNotBuilt }
