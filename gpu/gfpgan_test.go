package gpu_test

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/gpu"
	"imageenhancer/internal/fixtures"
)

// gfpganDir is the GFPGAN fixture folder (IE_SHARED, see env).
func gfpganDir() string { return filepath.Join(env("IE_SHARED", "../../shared"), "fixtures", "gfpgan") }

// TestGFPGANReference runs every case of the GFPGAN fixtures through
// enhance.Forward (the `forward` command's path) on the GPU and compares
// with the PyTorch reference: PSNR of the [-1,1] output as the 8-bit image
// it becomes, at least 45 dB.
func TestGFPGANReference(t *testing.T) {
	const minPSNR = 45
	r := newRuntime(t, gpu.Config{NoTune: true})
	dir := gfpganDir()
	cases, err := fixtures.ReadManifest(dir)
	if err != nil {
		t.Fatalf("fixtures: %v (set IE_SHARED)", err)
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.Expected), func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, c.Input))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			got, shape, err := enhance.Forward(r, filepath.Join(dir, c.Weights), img)
			if err != nil {
				t.Fatal(err)
			}
			if shape != c.Shape {
				t.Fatalf("output shape %v, want %v", shape, c.Shape)
			}
			want, err := fixtures.ReadF32(filepath.Join(dir, c.Expected))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(got) {
				t.Fatalf("%d reference values, %d outputs", len(want), len(got))
			}
			p := fixtures.PSNR8(got, want, -1, 1)
			t.Logf("max abs error %.3g, PSNR %.1f dB on the 8-bit output", fixtures.MaxAbsError(got, want), p)
			if !(p >= minPSNR) {
				t.Errorf("PSNR %.1f dB < %d", p, minPSNR)
			}
		})
	}
}

// TestGFPGANBatch checks that two faces in one call give exactly what two
// calls give, that any other size is refused and that Close is idempotent.
func TestGFPGANBatch(t *testing.T) {
	r := newRuntime(t, gpu.Config{NoTune: true})
	net, err := enhance.LoadGFPGAN(filepath.Join(gfpganDir(), "weights", "gfpgan_narrow.pth"))
	if err != nil {
		t.Fatalf("fixtures: %v (set IE_SHARED)", err)
	}
	m, err := r.Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer m.Close() // twice is safe
	for _, err := range fixtures.CheckGFPGANModel(m, net.Size) {
		t.Error(err)
	}
}

// BenchmarkGFPGAN times faces of a GFPGANv1.4-shaped network (512²,
// channel multiplier 2, num_style_feat 512, random weights) through
// Forward, host copies included, in batches of 1 and 4:
//
//	go test -run '^$' -bench GFPGAN -benchtime 5x ./gpu
func BenchmarkGFPGAN(b *testing.B) {
	r := newRuntime(b, gpu.Config{NoTune: true})
	net := fixtures.RandomGFPGAN(rand.New(rand.NewPCG(1, 4)))
	m, err := r.Load(net)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	S := net.Size
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("v1.4-shaped/batch%d", n), func(b *testing.B) {
			in := make([]float32, n*3*S*S)
			for i := range in {
				in[i] = float32(i%251) / 250
			}
			out := make([]float32, len(in))
			ctx := context.Background()
			if err := m.Forward(ctx, in, n, S, S, out); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := m.Forward(ctx, in, n, S, S, out); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N*n)
			b.ReportMetric(sec*1e3, "ms/face")
			b.ReportMetric(fixtures.GFPGANFLOPs(net)/sec/1e12, "TFLOP/s")
		})
	}
}
