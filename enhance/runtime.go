package enhance

import (
	"context"

	"imageenhancer/enhance/graph"
)

// Runtime compiles networks for one kind of device. The CPU runtime (package
// cpu, oneDNN) and the GPU runtime (package gpu, our CUDA library) implement it;
// main picks one and hands it to the pipeline.
type Runtime interface {
	// Name is "cpu" or "gpu"; it is what responses report as gpu_used.
	Name() string
	// Load prepares a network for repeated runs. The description is not kept:
	// the runtime copies the weights it needs.
	Load(net graph.Network) (Model, error)
}

// Model is one network loaded on a runtime. It is safe for use by one
// goroutine at a time; the pipeline serialises calls through its semaphore.
type Model interface {
	// Forward runs the network on n tiles of h×w pixels. in holds n×3×h×w
	// float32 values in NCHW order, RGB in [0,1]; out receives
	// n×3×(h·s)×(w·s) values (s the network's OutScale) before any clamping.
	// h and w are multiples of the network's InputMultiple.
	Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error
	// Close frees the runtime's memory; calling it twice is safe.
	Close() error
}
