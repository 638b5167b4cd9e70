//go:build cgo && !noonednn

package gpu_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
	"imageenhancer/gpu"
	"imageenhancer/internal/fixtures"
)

// TestGPUMatchesCPUOnPhotos runs the three shipped networks on real photos
// (skimage's, from IE_PHOTOS, default Debian's python3-skimage folder) on
// both runtimes, the CPU's in fp32, and holds the GPU's clamped 8-bit output
// to 50 dB of the CPU's. x4plus takes a 256² crop, the compact networks the
// whole photo. On Hopper every pipelined wgmma variant runs too, with the
// tiles of its last rounds whole and split between blocks: these photos have
// more tiles than the GPU has multiprocessors (the fixtures are too small to
// split any).
func TestGPUMatchesCPUOnPhotos(t *testing.T) {
	g := newRuntime(t, gpu.Config{NoTune: true})
	c, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := g.Info()
	if err != nil {
		t.Fatal(err)
	}
	variants := []int{-1} // untuned default
	if info.ComputeMajor == 9 {
		for v := 13; v <= 20; v++ {
			variants = append(variants, v)
		}
	}
	photos := env("IE_PHOTOS", "/usr/lib/python3/dist-packages/skimage/data")
	models := env("IE_MODELS", "../engines")
	for _, mc := range []struct {
		file string
		side int // crop to side×side from the top left; 0 keeps the photo
	}{
		{"realesrgan-x4plus", 256},
		{"realesrgan-x4fast", 0},
		{"realesr-animevideov3-x4", 0},
	} {
		base := filepath.Join(models, mc.file)
		net, err := enhance.LoadNetwork(base + ".param")
		if err != nil {
			t.Skipf("model %s: %v (set IE_MODELS)", mc.file, err)
		}
		gm, err := g.LoadModel(net)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := c.Load(net)
		if err != nil {
			t.Fatal(err)
		}
		untuned := gm.PlanText()
		for _, photo := range []string{"astronaut.png", "coffee.png", "chelsea.png"} {
			t.Run(fmt.Sprintf("%s/%s", mc.file, photo), func(t *testing.T) {
				in, h, w := readInput(t, filepath.Join(photos, photo))
				if mc.side > 0 {
					in, h, w = crop(in, h, w, mc.side, mc.side), mc.side, mc.side
				}
				want := forward(t, cm, net, in, h, w)
				for _, v := range variants {
					for _, split := range []bool{false, true} {
						name, plan := "default", untuned
						if v >= 0 {
							name, plan = fmt.Sprintf("v%d split %v", v, split), uniformPlan(gm, v, split)
						} else if split {
							continue
						}
						if err := gm.SetPlan(plan); err != nil {
							t.Fatal(err)
						}
						got := forward(t, gm, net, in, h, w)
						p := fixtures.PSNR8(got, want, 0, 1)
						t.Logf("%dx%d %s: GPU vs CPU %.2f dB (8-bit, clamped), max abs error %.3g", w, h, name, p,
							fixtures.MaxAbsError(got, want))
						if p < 50 {
							t.Errorf("%s: GPU vs CPU PSNR %.2f dB < 50", name, p)
						}
					}
				}
			})
		}
		gm.Close()
		cm.Close()
	}
}

func forward(t *testing.T, m graph.Model, net graph.Network, in []float32, h, w int) []float32 {
	t.Helper()
	s := net.OutScale()
	out := make([]float32, 3*h*s*w*s)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	if err := m.Forward(context.Background(), in, 1, h, w, out); err != nil {
		t.Fatal(err)
	}
	return out
}
