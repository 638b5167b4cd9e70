//go:build cgo && !noonednn

package cpu_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
	"imageenhancer/internal/fixtures"
)

const gfpganDir = sharedDir + "/fixtures/gfpgan/"

// TestGFPGANReference runs the GFPGAN fixture through enhance.Forward (the
// `forward` command's path) on this runtime, fp32, against the PyTorch
// reference, and bf16 against fp32.
func TestGFPGANReference(t *testing.T) {
	const tol = 1e-3 // the bound for every runtime, fp32
	cases, err := fixtures.ReadManifest(gfpganDir)
	if err != nil {
		t.Fatalf("%v: ../shared must sit beside the repo", err)
	}
	r32, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r16, err := cpu.New(cpu.Config{BF16: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Expected, func(t *testing.T) {
			img := readPNG(t, gfpganDir+c.Input)
			got, shape, err := enhance.Forward(r32, gfpganDir+c.Weights, img)
			if err != nil {
				t.Fatal(err)
			}
			if shape != c.Shape {
				t.Fatalf("output shape %v, want %v", shape, c.Shape)
			}
			checkReference(t, got, gfpganDir+c.Expected, tol)
			b16, _, err := enhance.Forward(r16, gfpganDir+c.Weights, img)
			if err != nil {
				t.Fatal(err)
			}
			p := fixtures.PSNR8(got, b16, -1, 1)
			t.Logf("bf16 vs fp32: %.1f dB on 8-bit output, max abs error %.3g", p, fixtures.MaxAbsError(b16, got))
			if p < 40 {
				t.Errorf("bf16 PSNR %.1f dB < 40", p)
			}
		})
	}
}

// TestGFPGANBatch checks that two faces in one call give what two calls
// give, and that any other size than the network's is refused.
func TestGFPGANBatch(t *testing.T) {
	net, err := enhance.LoadGFPGAN(gfpganDir + "weights/gfpgan_narrow.pth")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer m.Close() // twice is safe
	for _, err := range fixtures.CheckGFPGANModel(m, net.Size) {
		t.Error(err)
	}
}

// BenchmarkGFPGAN times one 512² face: the narrow fixture network and a
// GFPGANv1.4-shaped one with random weights, fp32 and bf16:
//
//	go test -run '^$' -bench GFPGAN -benchtime 5x ./cpu
func BenchmarkGFPGAN(b *testing.B) {
	nets := []struct {
		name string
		load func() (*graph.GFPGAN, error)
	}{
		{"narrow", func() (*graph.GFPGAN, error) { return enhance.LoadGFPGAN(gfpganDir + "weights/gfpgan_narrow.pth") }},
		{"v1.4-shaped", func() (*graph.GFPGAN, error) { return fixtures.RandomGFPGAN(rand.New(rand.NewPCG(1, 4))), nil }},
	}
	for _, nt := range nets {
		var net *graph.GFPGAN // built by the first sub-benchmark that runs
		for _, bf16 := range []bool{false, true} {
			name := fmt.Sprintf("%s/fp32", nt.name)
			if bf16 {
				name = fmt.Sprintf("%s/bf16", nt.name)
			}
			b.Run(name, func(b *testing.B) {
				if net == nil {
					var err error
					if net, err = nt.load(); err != nil {
						b.Fatal(err)
					}
				}
				r, err := cpu.New(cpu.Config{BF16: bf16})
				if err != nil {
					b.Fatal(err)
				}
				m, err := r.Load(net)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				S := net.Size
				in := make([]float32, 3*S*S)
				for i := range in {
					in[i] = float32(i%251) / 250
				}
				out := make([]float32, len(in))
				ctx := context.Background()
				if err := m.Forward(ctx, in, 1, S, S, out); err != nil { // compile and warm up
					b.Fatal(err)
				}
				runtime.GC() // not during the timing: it shares the cores with OpenMP
				b.ResetTimer()
				for b.Loop() {
					if err := m.Forward(ctx, in, 1, S, S, out); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(sec*1e3, "ms/face")
				b.ReportMetric(fixtures.GFPGANFLOPs(net)/sec/1e9, "GFLOP/s")
			})
		}
	}
}
