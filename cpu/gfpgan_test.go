//go:build cgo && !noonednn

package cpu_test

import (
	"context"
	"fmt"
	"math"
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
			p := psnr8(got, b16)
			t.Logf("bf16 vs fp32: %.1f dB on 8-bit output, max abs error %.3g", p, fixtures.MaxAbsError(b16, got))
			if p < 40 {
				t.Errorf("bf16 PSNR %.1f dB < 40", p)
			}
		})
	}
}

// psnr8 compares two [-1,1] outputs as the 8-bit images they become.
func psnr8(a, b []float32) float64 {
	q := func(v float32) float64 {
		return math.Round(math.Min(math.Max((float64(v)+1)/2, 0), 1) * 255)
	}
	var mse float64
	for i := range a {
		d := q(a[i]) - q(b[i])
		mse += d * d
	}
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(len(a))/mse)
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
	for _, sz := range [][2]int{{S / 2, S / 2}, {2 * S, 2 * S}, {S, 2 * S}, {S + 1, S}} {
		h, w := sz[0], sz[1]
		err := m.Forward(ctx, make([]float32, 3*h*w), 1, h, w, make([]float32, 3*h*w))
		if err == nil {
			t.Errorf("%d×%d input: no error", h, w)
		}
	}
	if err := m.Forward(ctx, in[:px-1], 1, S, S, both[:px]); err == nil {
		t.Error("short input: no error")
	}
}

// randGFPGAN builds GFPGANv1Clean with random weights and the official
// GFPGANv1.3/1.4 sizes at 512² (channel_multiplier 2, narrow 1, U-Net
// at half width, num_style_feat 512, sft_half), for timing.
func randGFPGAN(rng *rand.Rand) *graph.GFPGAN {
	const stages, nstyle = 7, 512
	// StyleGAN2 channels by side, channel_multiplier 2.
	ch := map[int]int{4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64}
	unet := func(side int) int { return ch[side] / 2 }
	conv := func(out, in, k int, bias bool) graph.Conv {
		c := graph.Conv{Out: out, In: in, K: k, Weight: make([]float32, out*in*k*k)}
		s := float32(1 / math.Sqrt(float64(in*k*k)))
		for i := range c.Weight {
			c.Weight[i] = (rng.Float32()*2 - 1) * s
		}
		if bias {
			c.Bias = make([]float32, out)
			for i := range c.Bias {
				c.Bias[i] = (rng.Float32()*2 - 1) * 0.1
			}
		}
		return c
	}
	vec := func(n int, s float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = (rng.Float32()*2 - 1) * s
		}
		return v
	}
	mod := func(out, in, k, latent int, demod, up bool) graph.ModulatedConv {
		return graph.ModulatedConv{Conv: conv(out, in, k, false), Modulation: conv(in, nstyle, 1, true), Demodulate: demod, Upsample: up, Latent: latent}
	}
	n := &graph.GFPGAN{Size: 512, NumStyleFeat: nstyle, NumLatent: 2*stages + 2, SFTHalf: true}
	n.First = conv(unet(512), 3, 1, true)
	for k := range stages {
		side := 512 >> k
		n.Down = append(n.Down, graph.UNetBlock{Conv1: conv(unet(side), unet(side), 3, true), Conv2: conv(unet(side/2), unet(side), 3, true), Skip: conv(unet(side/2), unet(side), 1, false)})
	}
	n.FinalConv = conv(unet(4), unet(4), 3, true)
	n.FinalLinear = conv(n.NumLatent*nstyle, unet(4)*16, 1, true)
	for k := range stages {
		side := 8 << k
		in, out := unet(side/2), unet(side)
		n.Up = append(n.Up, graph.UNetBlock{Conv1: conv(in, in, 3, true), Conv2: conv(out, in, 3, true), Skip: conv(out, in, 1, false), Up: true})
		half := ch[side] / 2
		n.CondScale = append(n.CondScale, graph.SFTCondition{Conv1: conv(out, out, 3, true), Conv2: conv(half, out, 3, true)})
		n.CondShift = append(n.CondShift, graph.SFTCondition{Conv1: conv(out, out, 3, true), Conv2: conv(half, out, 3, true)})
	}
	n.ConstChannels = ch[4]
	n.Constant = vec(ch[4]*16, 1)
	n.StyleConv1 = graph.StyleConv{ModulatedConv: mod(ch[4], ch[4], 3, 0, true, false), NoiseWeight: 0.1, Noise: vec(16, 1), Bias: vec(ch[4], 0.1)}
	n.ToRGB1 = graph.StyleToRGB{ModulatedConv: mod(3, ch[4], 1, 1, false, false), Bias: vec(3, 0.1)}
	for k := range stages {
		side := 8 << k
		in, out := ch[side/2], ch[side]
		n.StyleConvs = append(n.StyleConvs,
			graph.StyleConv{ModulatedConv: mod(out, in, 3, 2*k+1, true, true), NoiseWeight: 0.1, Noise: vec(side*side, 1), Bias: vec(out, 0.1)},
			graph.StyleConv{ModulatedConv: mod(out, out, 3, 2*k+2, true, false), NoiseWeight: 0.1, Noise: vec(side*side, 1), Bias: vec(out, 0.1)})
		n.ToRGBs = append(n.ToRGBs, graph.StyleToRGB{ModulatedConv: mod(3, out, 1, 2*k+3, false, false), Bias: vec(3, 0.1)})
	}
	return n
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
		{"v1.4-shaped", func() (*graph.GFPGAN, error) { return randGFPGAN(rand.New(rand.NewPCG(1, 4))), nil }},
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
				b.ReportMetric(gfpganFLOPs(net)/sec/1e9, "GFLOP/s")
			})
		}
	}
}

// gfpganFLOPs counts 2 per multiply-add of every convolution and linear
// layer of one face (the modulations and element-wise steps are left out).
func gfpganFLOPs(n *graph.GFPGAN) float64 {
	var f float64
	conv := func(c *graph.Conv, side int) { f += 2 * float64(c.Out*c.In*c.K*c.K) * float64(side*side) }
	side := n.Size
	conv(&n.First, side)
	for _, b := range n.Down {
		conv(&b.Conv1, side)
		side /= 2
		conv(&b.Conv2, side)
		conv(&b.Skip, side)
	}
	conv(&n.FinalConv, side)
	conv(&n.FinalLinear, 1)
	for k, b := range n.Up {
		conv(&b.Conv1, side)
		side *= 2
		conv(&b.Conv2, side)
		conv(&b.Skip, side)
		for _, c := range []*graph.SFTCondition{&n.CondScale[k], &n.CondShift[k]} {
			conv(&c.Conv1, side)
			conv(&c.Conv2, side)
		}
	}
	conv(&n.StyleConv1.Conv, 4)
	conv(&n.ToRGB1.Conv, 4)
	for k := range n.ToRGBs {
		side := 8 << k
		conv(&n.StyleConvs[2*k].Conv, side)
		conv(&n.StyleConvs[2*k+1].Conv, side)
		conv(&n.ToRGBs[k].Conv, side)
	}
	return f
}
