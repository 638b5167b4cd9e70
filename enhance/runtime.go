package enhance

import "imageenhancer/enhance/graph"

// Runtime compiles networks for one kind of device. The CPU runtime (package
// cpu, oneDNN) and the GPU runtime (package gpu, our CUDA library) implement it
// without importing this package, which is why Load returns graph.Model; main
// picks one and hands it to the pipeline.
type Runtime interface {
	// Name is "cpu" or "gpu"; "gpu" is what responses report as gpu_used.
	Name() string
	// Load prepares a network for repeated runs. The description is not kept:
	// the runtime copies the weights it needs.
	Load(net graph.Network) (graph.Model, error)
}
