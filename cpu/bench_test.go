//go:build cgo && !noonednn

package cpu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"imageenhancer/enhance/graph"
)

// FLOPs per input pixel, 2 per multiply-add of every convolution, as
// srnets.flops_per_lr_pixel counts them.
const (
	x4plusFLOPs    = 35.85e6
	generalV3FLOPs = 2.42e6
)

// BenchmarkForward times RealESRGAN_x4plus (23 RRDBs, 64 features) and
// realesr-general-x4v3 (SRVGG, 32 convolutions) with random weights on one
// 128×128 tile, fp32 and bf16 (the default layouts, then the other ones):
//
//	go test -run '^$' -bench Forward -benchtime 3x ./cpu
func BenchmarkForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	nets := []struct {
		name  string
		net   graph.Network
		flops float64
	}{
		{"x4plus", randRRDBNet(rng, 4, 23, 64, 32), x4plusFLOPs},
		{"general_v3", randSRVGG(rng, 4, 64, 32), generalV3FLOPs},
	}
	const h, w = 128, 128
	in := randImage(rng, 1, h, w)
	for _, nt := range nets {
		for _, cfg := range []struct {
			name string
			bf16 bool
			lay  int
		}{{"fp32", false, layoutAuto}, {"bf16", true, layoutAuto}, {"fp32-nhwc", false, layoutNHWC}, {"bf16-blocked", true, layoutBlocked}, {"fp32-1thread", false, layoutAuto}} {
			name := fmt.Sprintf("%s/%dx%d/%s", nt.name, h, w, cfg.name)
			b.Run(name, func(b *testing.B) {
				c := Config{BF16: cfg.bf16, layout: cfg.lay}
				if cfg.name == "fp32-1thread" {
					c.Threads = 1
				}
				r, err := New(c)
				if err != nil {
					b.Fatal(err)
				}
				m, err := r.Load(nt.net)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				out := make([]float32, 3*h*w*16)
				ctx := context.Background()
				if err := m.Forward(ctx, in, 1, h, w, out); err != nil { // compile and warm up
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if err := m.Forward(ctx, in, 1, h, w, out); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(sec*1e3, "ms/op")
				b.ReportMetric(nt.flops*h*w/sec/1e9, "GFLOP/s")
			})
		}
	}
}
