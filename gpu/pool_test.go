package gpu_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"imageenhancer/enhance"
	"imageenhancer/gpu"
)

// TestPoolOfGPUs runs x4plus on every GPU of the machine at once through
// enhance.NewPool, as the service does with several GPUs: every output must
// equal, bit for bit, what GPU 0 gives alone (the same kernels on the same
// model of GPU), and the pool's throughput is logged against GPU 0's alone.
// Skipped with fewer than two GPUs.
func TestPoolOfGPUs(t *testing.T) {
	r0 := newRuntime(t, gpu.Config{NoTune: true})
	lib := env("IEGPU_LIB", "libiegpu.so")
	n, err := gpu.DeviceCount(lib)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Skipf("%d GPU: a pool needs two", n)
	}
	rts := []enhance.Runtime{r0}
	for d := 1; d < n; d++ {
		g, err := gpu.New(gpu.Config{LibPath: lib, Device: d, NoTune: true})
		if err != nil {
			t.Fatalf("GPU %d: %v", d, err)
		}
		defer g.Close()
		rts = append(rts, g)
	}
	net, err := enhance.LoadNetwork(filepath.Join(env("IE_MODELS", "../engines"), "realesrgan-x4plus.param"))
	if err != nil {
		t.Skipf("x4plus: %v (set IE_MODELS)", err)
	}
	const side, jobs = 256, 8
	in := make([]float32, 3*side*side)
	for i := range in {
		in[i] = float32((i*7919)%1000) / 1000
	}
	run := func(t *testing.T, rt enhance.Runtime, concurrent bool) ([][]float32, time.Duration) {
		m, err := rt.Load(net)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		outs := make([][]float32, jobs)
		errs := make([]error, jobs)
		one := func(i int) {
			outs[i] = make([]float32, len(in)*16)
			errs[i] = m.Forward(context.Background(), in, 1, side, side, outs[i])
		}
		one(0) // warm up: graph capture
		start := time.Now()
		var wg sync.WaitGroup
		for i := range jobs {
			if !concurrent {
				one(i)
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); one(i) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("forward %d: %v", i, err)
			}
		}
		return outs, time.Since(start)
	}
	alone, tAlone := run(t, r0, false)
	pooled, tPool := run(t, enhance.NewPool(rts...), true)
	for i, out := range pooled {
		for k, v := range out {
			if v != alone[0][k] {
				t.Fatalf("forward %d on the pool: value %d is %g, GPU 0 alone gives %g", i, k, v, alone[0][k])
			}
		}
	}
	t.Logf("%d forwards of %dx%d: GPU 0 alone %v, %d GPUs pooled %v (%.2fx)", jobs, side, side,
		tAlone.Round(time.Millisecond), n, tPool.Round(time.Millisecond), tAlone.Seconds()/tPool.Seconds())
}
