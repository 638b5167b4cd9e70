//go:build cgo && !noonednn

package cpu

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"imageenhancer/enhance/graph"
	"imageenhancer/internal/fixtures"
)

// reference runs the reference forward (fixtures.Reference) on each of n
// images.
func reference(net graph.Network, in []float32, n, h, w int) []float32 {
	var out []float32
	for i := 0; i < n; i++ {
		y, _, _, _ := fixtures.Reference(net, in[i*3*h*w:(i+1)*3*h*w], h, w)
		out = append(out, y...)
	}
	return out
}

// psnr treats the signal range as the reference's peak-to-peak.
func psnr(ref, got []float32) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	var mse float64
	for i := range ref {
		lo, hi = min(lo, float64(ref[i])), max(hi, float64(ref[i]))
		d := float64(ref[i]) - float64(got[i])
		mse += d * d
	}
	mse /= float64(len(ref))
	return 10 * math.Log10((hi-lo)*(hi-lo)/mse)
}

func forward(t *testing.T, m graph.Model, net graph.Network, in []float32, n, h, w int) []float32 {
	t.Helper()
	s := net.OutScale()
	out := make([]float32, n*3*h*s*w*s)
	if err := m.Forward(context.Background(), in, n, h, w, out); err != nil {
		t.Fatal(err)
	}
	return out
}

type testCase struct {
	name    string
	net     graph.Network
	n, h, w int
}

func testCases() []testCase {
	rng := rand.New(rand.NewPCG(1, 2))
	return []testCase{
		{"rrdb-x4-b1-f16-g16", randRRDBNet(rng, 4, 1, 16, 16), 1, 9, 7},
		{"rrdb-x4-b2-f16-g8", randRRDBNet(rng, 4, 2, 16, 8), 2, 6, 10},
		{"rrdb-x4-b1-f8-g8", randRRDBNet(rng, 4, 1, 8, 8), 1, 5, 5},
		{"rrdb-x4-b1-f12-g6", randRRDBNet(rng, 4, 1, 12, 6), 1, 4, 6},
		{"rrdb-x2-b2-f16-g16", randRRDBNet(rng, 2, 2, 16, 16), 2, 12, 8},
		{"rrdb-x1-b1-f16-g16", randRRDBNet(rng, 1, 1, 16, 16), 1, 16, 12},
		{"srvgg-x4-f8-c2", randSRVGG(rng, 4, 8, 2), 1, 11, 13},
		{"srvgg-x4-f8-c2-n2", randSRVGG(rng, 4, 8, 2), 2, 8, 5},
		{"srvgg-x2-f16-c3", randSRVGG(rng, 2, 16, 3), 1, 7, 9},
	}
}

func TestForwardMatchesReference(t *testing.T) {
	for _, layout := range []int{layoutBlocked, layoutNHWC} {
		r, err := New(Config{layout: layout})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range testCases() {
			testForward(t, r, tc, layout)
		}
	}
}

func testForward(t *testing.T, r *Runtime, tc testCase, layout int) {
	name := tc.name + "/blocked"
	if layout == layoutNHWC {
		name = tc.name + "/nhwc"
	}
	t.Run(name, func(t *testing.T) {
		{
			rng := rand.New(rand.NewPCG(3, 4))
			m, err := r.Load(tc.net)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := randImage(rng, tc.n, tc.h, tc.w)
			want := reference(tc.net, in, tc.n, tc.h, tc.w)
			got := forward(t, m, tc.net, in, tc.n, tc.h, tc.w)
			if d := fixtures.MaxAbsError(want, got); !(d <= 1e-4) {
				t.Errorf("max abs error %g > 1e-4", d)
			} else {
				t.Logf("max abs error %g", d)
			}
			// A second shape, then the first again from the plan cache.
			in2 := randImage(rng, 1, tc.h+4, tc.w+4)
			got2 := forward(t, m, tc.net, in2, 1, tc.h+4, tc.w+4)
			if d := fixtures.MaxAbsError(reference(tc.net, in2, 1, tc.h+4, tc.w+4), got2); !(d <= 1e-4) {
				t.Errorf("second shape: max abs error %g > 1e-4", d)
			}
			if d := fixtures.MaxAbsError(want, forward(t, m, tc.net, in, tc.n, tc.h, tc.w)); !(d <= 1e-4) {
				t.Errorf("cached plan: max abs error %g > 1e-4", d)
			}
		}
	})
}

func TestBF16(t *testing.T) {
	r32, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r16, err := New(Config{BF16: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []testCase{
		{"rrdb-x4-b2-f32-g16", randRRDBNet(rng, 4, 2, 32, 16), 1, 16, 16},
		{"srvgg-x4-f16-c4", randSRVGG(rng, 4, 16, 4), 2, 16, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := randImage(rng, tc.n, tc.h, tc.w)
			var outs [2][]float32
			for i, r := range []*Runtime{r32, r16} {
				m, err := r.Load(tc.net)
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = forward(t, m, tc.net, in, tc.n, tc.h, tc.w)
				m.Close()
			}
			p := psnr(outs[0], outs[1])
			t.Logf("bf16 vs fp32: %.1f dB", p)
			if p < 45 {
				t.Errorf("bf16 PSNR %.1f dB < 45", p)
			}
		})
	}
}

func TestCloseTwiceAndBadSizes(t *testing.T) {
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	net := randRRDBNet(rng, 2, 1, 16, 16)
	m, err := r.Load(net)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		n, h, w, in, out int
	}{
		{1, 8, 8, 3*8*8 - 1, 3 * 16 * 16},
		{1, 8, 8, 3 * 8 * 8, 3*16*16 + 1},
		{1, 7, 8, 3 * 7 * 8, 3 * 14 * 16},
		{0, 8, 8, 0, 0},
		{2, 8, 8, 3 * 8 * 8, 3 * 16 * 16},
		{1, -8, 8, 0, 0},
	} {
		err := m.Forward(ctx, make([]float32, c.in), c.n, c.h, c.w, make([]float32, c.out))
		if err == nil {
			t.Errorf("Forward(n=%d, %d×%d, %d in, %d out) = nil, want an error", c.n, c.h, c.w, c.in, c.out)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Forward(cctx, make([]float32, 3*8*8), 1, 8, 8, make([]float32, 3*16*16)); err == nil {
		t.Error("Forward with a cancelled context = nil, want an error")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(ctx, make([]float32, 3*8*8), 1, 8, 8, make([]float32, 3*16*16)); err == nil {
		t.Error("Forward after Close = nil, want an error")
	}
	if _, err := r.Load(&graph.RRDBNet{Scale: 3}); err == nil {
		t.Error("Load(scale 3) = nil, want an error")
	}
	bad := randSRVGG(rng, 4, 8, 1)
	bad.Convs[1].Weight = bad.Convs[1].Weight[:5]
	if _, err := r.Load(bad); err == nil {
		t.Error("Load(truncated weights) = nil, want an error")
	}
}
