package main

import (
	"errors"
	"fmt"
	"log/slog"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
)

var _ enhance.Runtime = (*cpu.Runtime)(nil)

// newRuntime returns the runtime the service runs on: the GPU when useGPU
// is set and one is usable, else the CPU, as the original falls back when
// torch sees no CUDA device; the fallback is logged.
func newRuntime(useGPU bool, log *slog.Logger) (enhance.Runtime, error) {
	if useGPU {
		rt, err := runtimeFor("gpu")
		if err == nil {
			return rt, nil
		}
		log.Warn("USE_GPU is set but no GPU runtime is usable: running on the CPU", "err", err)
	}
	return runtimeFor("cpu")
}

// runtimeFor returns the runtime of a -device flag: "cpu" or "gpu".
func runtimeFor(device string) (enhance.Runtime, error) {
	switch device {
	case "cpu":
		return cpu.New(cpu.Config{})
	case "gpu":
		return nil, errors.New("GPU runtime not available")
	}
	return nil, fmt.Errorf("-device %q: want cpu or gpu", device)
}
