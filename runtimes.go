package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

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
	GPUDevices []int  // GPU_DEVICES; nil: every device
}

// newRuntime returns the runtime the service runs on: the GPUs when useGPU
// is set and one is usable, else the CPU, as the original falls back when
// torch sees no CUDA device. Several GPUs become one enhance.NewPool, one
// worker per device. gpuStatus is what /api/health shows for the GPU: the
// name and memory of each, or why none is used; the fallback is logged.
func newRuntime(useGPU bool, rc runtimeConfig, log *slog.Logger) (rt enhance.Runtime, gpuStatus string, err error) {
	if !useGPU {
		rt, err = runtimeFor("cpu", rc)
		return rt, "not available (USE_GPU is off)", err
	}
	rt, gpuStatus, err = newGPURuntime(rc)
	if err == nil {
		return rt, gpuStatus, nil
	}
	if errors.Is(err, errNoSuchDevice) {
		return nil, "", err // a configuration error, not a machine without GPU
	}
	log.Warn("USE_GPU is set but the GPU runtime is not usable: running on the CPU", "err", err)
	rt, cerr := runtimeFor("cpu", rc)
	return rt, "not available (" + err.Error() + ")", cerr
}

// errNoSuchDevice is wrapped by newGPURuntime's error when GPU_DEVICES names
// a device the machine lacks.
var errNoSuchDevice = errors.New("GPU_DEVICES names a device this machine lacks")

// newGPURuntime opens a gpu.Runtime on each device of rc.GPUDevices (every
// device when nil) and pools them when there are several.
func newGPURuntime(rc runtimeConfig) (enhance.Runtime, string, error) {
	n, err := gpu.DeviceCount(gpuLibrary())
	if err != nil {
		return nil, "", err
	}
	if n == 0 {
		return nil, "", fmt.Errorf("%w: no CUDA device", gpu.ErrUnavailable)
	}
	devices := rc.GPUDevices
	if devices == nil {
		for i := range n {
			devices = append(devices, i)
		}
	}
	for _, d := range devices {
		if d >= n {
			return nil, "", fmt.Errorf("%w: device %d, of %d (0 to %d)", errNoSuchDevice, d, n, n-1)
		}
	}
	var (
		gpus  []*gpu.Runtime
		rts   []enhance.Runtime
		infos []gpu.Info
	)
	for _, d := range devices {
		g, err := gpu.New(gpu.Config{LibPath: gpuLibrary(), EnginesDir: rc.EnginesDir, Device: d})
		if err == nil {
			var info gpu.Info
			if info, err = g.Info(); err == nil {
				gpus, rts, infos = append(gpus, g), append(rts, g), append(infos, info)
				continue
			}
			g.Close()
		}
		for _, g := range gpus {
			g.Close()
		}
		return nil, "", fmt.Errorf("GPU %d: %w", d, err)
	}
	gib := func(info gpu.Info) float64 { return float64(info.TotalBytes) / (1 << 30) }
	if len(rts) == 1 {
		return rts[0], fmt.Sprintf("ok (%s, %.1f GiB)", infos[0].Name, gib(infos[0])), nil
	}
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = fmt.Sprintf("%s (%.1f GiB)", info.Name, gib(info))
	}
	return enhance.NewPool(rts...), fmt.Sprintf("ok (%d GPUs: %s)", len(rts), strings.Join(names, ", ")), nil
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
