package gpu_test

import (
	"context"
	"fmt"
	"image"
	"math"
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
			p := psnrFace(got, want)
			t.Logf("max abs error %.3g, PSNR %.1f dB on the 8-bit output", fixtures.MaxAbsError(got, want), p)
			if !(p >= minPSNR) {
				t.Errorf("PSNR %.1f dB < %d", p, minPSNR)
			}
		})
	}
}

// psnrFace compares two [-1,1] outputs as the 8-bit images they become.
func psnrFace(a, b []float32) float64 {
	q := func(v float32) float64 { return math.Round(math.Min(math.Max((float64(v)+1)/2, 0), 1) * 255) }
	var se float64
	for i := range a {
		d := q(a[i]) - q(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
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
	S := net.Size
	px := 3 * S * S
	rng := rand.New(rand.NewPCG(6, 1))
	in := make([]float32, 2*px)
	for i := range in {
		in[i] = rng.Float32()
	}
	ctx := context.Background()
	both := make([]float32, 2*px)
	if err := m.Forward(ctx, in, 2, S, S, both); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		one := make([]float32, px)
		if err := m.Forward(ctx, in[i*px:(i+1)*px], 1, S, S, one); err != nil {
			t.Fatal(err)
		}
		if e := fixtures.MaxAbsError(one, both[i*px:(i+1)*px]); e != 0 {
			t.Errorf("face %d: batch of 2 differs from a batch of 1 by %.3g", i, e)
		}
	}
	for _, sz := range [][2]int{{S / 2, S / 2}, {2 * S, 2 * S}, {S, 2 * S}} {
		h, w := sz[0], sz[1]
		if err := m.Forward(ctx, make([]float32, 3*h*w), 1, h, w, make([]float32, 3*h*w)); err == nil {
			t.Errorf("%d×%d input: no error", h, w)
		}
	}
	if err := m.Forward(ctx, in[:px-1], 1, S, S, both[:px]); err == nil {
		t.Error("short input: no error")
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
