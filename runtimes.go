package main

import (
	"fmt"
	"log/slog"
	"os"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/gpu"
)

var (
	_ enhance.Runtime = (*cpu.Runtime)(nil)
	_ enhance.Runtime = (*gpu.Runtime)(nil)
)

// gpuLibrary is where the GPU runtime's CUDA library is looked for:
// GPU_LIBRARY, else the dynamic loader's search path (LD_LIBRARY_PATH).
func gpuLibrary() string {
	if v := os.Getenv("GPU_LIBRARY"); v != "" {
		return v
	}
	return "libiegpu.so"
}

// runtimeConfig is what the runtimes are built from.
type runtimeConfig struct {
	EnginesDir string // GPU plans are cached here
	CPUBF16    bool   // CPU_BF16
}

// newRuntime returns the runtime the service runs on: the GPU when useGPU
// is set and one is usable, else the CPU, as the original falls back when
// torch sees no CUDA device. gpuStatus is what /api/health shows for the
// GPU: its name and memory, or why it is not used; the fallback is logged.
func newRuntime(useGPU bool, rc runtimeConfig, log *slog.Logger) (rt enhance.Runtime, gpuStatus string, err error) {
	if !useGPU {
		rt, err = runtimeFor("cpu", rc)
		return rt, "not available (USE_GPU is off)", err
	}
	g, err := gpu.New(gpu.Config{LibPath: gpuLibrary(), EnginesDir: rc.EnginesDir})
	if err == nil {
		info, ierr := g.Info()
		if ierr == nil {
			return g, fmt.Sprintf("ok (%s, %.1f GiB)", info.Name, float64(info.TotalBytes)/(1<<30)), nil
		}
		g.Close()
		err = ierr
	}
	log.Warn("USE_GPU is set but the GPU runtime is not usable: running on the CPU", "err", err)
	rt, cerr := runtimeFor("cpu", rc)
	return rt, "not available (" + err.Error() + ")", cerr
}

// runtimeFor returns the runtime of a -device flag: "cpu" or "gpu".
func runtimeFor(device string, rc runtimeConfig) (enhance.Runtime, error) {
	switch device {
	case "cpu":
		return cpu.New(cpu.Config{BF16: rc.CPUBF16})
	case "gpu":
		return gpu.New(gpu.Config{LibPath: gpuLibrary(), EnginesDir: rc.EnginesDir})
	}
	return nil, fmt.Errorf("-device %q: want cpu or gpu", device)
}
