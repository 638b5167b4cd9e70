package api_test

import (
	"context"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
)

// testRuntime is the CPU runtime the tests run the real models on.
// TEMPORARY: nearest-neighbour stand-in until package cpu lands.
func testRuntime(t *testing.T) enhance.Runtime {
	t.Helper()
	return stubRuntime{}
}

type stubRuntime struct{}

func (stubRuntime) Name() string { return "cpu" }
func (stubRuntime) Load(net graph.Network) (graph.Model, error) {
	return stubModel{s: net.OutScale()}, nil
}

type stubModel struct{ s int }

func (m stubModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	s := m.s
	for i := 0; i < n*3; i++ {
		for y := 0; y < h*s; y++ {
			for x := 0; x < w*s; x++ {
				out[i*h*s*w*s+y*w*s+x] = in[i*h*w+(y/s)*w+x/s]
			}
		}
	}
	return nil
}
func (stubModel) Close() error { return nil }
