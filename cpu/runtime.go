//go:build cgo && !noonednn

package cpu

/*
#cgo CFLAGS: -O3 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp -lm
#include "shim.h"
*/
import "C"

import (
	"fmt"

	"imageenhancer/enhance/graph"
)

// Runtime compiles networks for the CPU. It holds no C memory itself: each
// Model owns its oneDNN engine, primitives and buffers.
type Runtime struct {
	cfg Config
}

// New checks that oneDNN can create a CPU engine and returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	var ctx *C.ie_ctx
	if rc := C.ie_ctx_create(&ctx, C.int(cfg.threads())); rc != 0 {
		return nil, statusError("creating the oneDNN engine", rc)
	}
	C.ie_ctx_destroy(ctx)
	return &Runtime{cfg: cfg}, nil
}

// Name returns "cpu".
func (r *Runtime) Name() string { return "cpu" }

// Load copies the network's weights and prepares it for Forward; the
// primitives themselves are compiled on the first Forward of each shape.
func (r *Runtime) Load(net graph.Network) (graph.Model, error) {
	switch n := net.(type) {
	case *graph.RRDBNet:
		if err := checkRRDB(n); err != nil {
			return nil, err
		}
	case *graph.SRVGG:
		if err := checkSRVGG(n); err != nil {
			return nil, err
		}
	case *graph.GFPGAN:
		if err := checkGFPGAN(n); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cpu: unsupported network %T", net)
	}
	return newModel(r.cfg, net)
}

// statusError turns a shim status (a dnnl_status_t or IE_E*) into an error.
func statusError(what string, rc C.int) error {
	var s string
	switch rc {
	case C.IE_EINVAL:
		s = "invalid argument"
	case C.IE_ENOMEM:
		s = "out of memory"
	case 1:
		s = "out of memory"
	case 2:
		s = "invalid arguments"
	case 3:
		s = "unimplemented"
	default:
		s = fmt.Sprintf("status %d", int(rc))
	}
	return fmt.Errorf("cpu: %s: oneDNN: %s", what, s)
}
