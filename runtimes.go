package main

import (
	"errors"
	"fmt"
	"log/slog"

	"imageenhancer/enhance"
)

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
		return nil, errors.New("CPU runtime not built in yet (package cpu)") // TODO: cpu.New once it lands
	case "gpu":
		return nil, errors.New("GPU runtime not available")
	}
	return nil, fmt.Errorf("-device %q: want cpu or gpu", device)
}
