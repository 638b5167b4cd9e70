package enhance_test

// Tests of enhance.NewPool with real CPU runtimes standing in for GPUs: a
// real network from the shared fixtures, run from several goroutines.

import (
	"context"
	"errors"
	"image"
	"image/color"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
)

// overlapWait bounds how long the first Forward on one member waits for a
// Forward on another to start; only a pool that serialises its members
// waits that long.
const overlapWait = 30 * time.Second

// poolNet is the smallest real network of the shared fixtures (SRVGG, four
// convolutions, ×4).
func poolNet(t *testing.T) graph.Network {
	t.Helper()
	path := filepath.Join(shared, "fixtures", "sr", "weights", "srvgg_x4_c4.pth")
	needWeights(t, path)
	net, err := enhance.LoadNetwork(path)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// oneThreadCPU is a CPU runtime on one thread, so that every member and the
// reference compute alike, bit for bit.
func oneThreadCPU(t *testing.T) *cpu.Runtime {
	t.Helper()
	rt, err := cpu.New(cpu.Config{Threads: 1})
	if err != nil {
		t.Fatalf("CPU runtime: %v", err)
	}
	return rt
}

// poolInput is one 3×h×w input: the fixture pictures, with their channels
// rotated by k/2 and, for k ≥ 6, mirrored, so that every k differs.
type poolInput struct {
	pix  []float32
	h, w int
}

func poolInputs(t *testing.T, count int) []poolInput {
	dir := filepath.Join(shared, "fixtures", "sr", "inputs")
	pics := []image.Image{readPNG(t, filepath.Join(dir, "astro_face_24x20.png")), readPNG(t, filepath.Join(dir, "coffee_17x13.png"))}
	ins := make([]poolInput, count)
	for k := range ins {
		img := pics[k%len(pics)]
		r := img.Bounds()
		w, h := r.Dx(), r.Dy()
		n := w * h
		pix := make([]float32, 3*n)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				sx := x
				if k >= 6 {
					sx = w - 1 - x
				}
				c := color.NRGBAModel.Convert(img.At(r.Min.X+sx, r.Min.Y+y)).(color.NRGBA)
				rgb := [3]uint8{c.R, c.G, c.B}
				for ch := range 3 {
					pix[ch*n+y*w+x] = float32(rgb[(ch+k/2)%3]) / 255
				}
			}
		}
		ins[k] = poolInput{pix: pix, h: h, w: w}
	}
	return ins
}

// forwardOne runs in through m and returns the output of scale s.
func forwardOne(ctx context.Context, m graph.Model, in poolInput, s int) ([]float32, error) {
	out := make([]float32, len(in.pix)*s*s)
	err := m.Forward(ctx, in.pix, 1, in.h, in.w, out)
	return out, err
}

// counting is a runtime whose models count the Forward calls running on
// all of its kind at once (active, and the most seen, peak). Until two
// have run at once, the first Forward waits (up to overlapWait) for another
// to start, so that overlap does not depend on timing; before leaving, each
// waits for release when set.
type counting struct {
	enhance.Runtime
	c *counter
}

type counter struct {
	active, peak atomic.Int32
	calls        atomic.Int32
	overlapped   chan struct{} // closed when two ran at once
	once         sync.Once
	release      chan struct{} // nil: no waiting
}

func newCounter() *counter { return &counter{overlapped: make(chan struct{})} }

func (r counting) Load(net graph.Network) (graph.Model, error) {
	m, err := r.Runtime.Load(net)
	if err != nil {
		return nil, err
	}
	return countingModel{m, r.c}, nil
}

type countingModel struct {
	graph.Model
	c *counter
}

func (m countingModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	c := m.c
	c.calls.Add(1)
	a := c.active.Add(1)
	defer c.active.Add(-1)
	for p := c.peak.Load(); a > p && !c.peak.CompareAndSwap(p, a); p = c.peak.Load() {
	}
	if a >= 2 {
		c.once.Do(func() { close(c.overlapped) })
	}
	select {
	case <-c.overlapped:
	case <-time.After(overlapWait): // serialised: peak stays 1, and no one waits again
		c.once.Do(func() { close(c.overlapped) })
	}
	err := m.Model.Forward(ctx, in, n, h, w, out)
	if c.release != nil {
		<-c.release
	}
	return err
}

// TestPoolForward runs a real network from eight goroutines through a pool
// of two CPU runtimes: every output is bit for bit the single runtime's, and
// two Forward calls ran at once.
func TestPoolForward(t *testing.T) {
	net := poolNet(t)
	s := net.OutScale()
	ins := poolInputs(t, 8)

	ref, err := oneThreadCPU(t).Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want := make([][]float32, len(ins))
	for i, in := range ins {
		if want[i], err = forwardOne(context.Background(), ref, in, s); err != nil {
			t.Fatal(err)
		}
	}

	c := newCounter()
	rt := enhance.NewPool(counting{oneThreadCPU(t), c}, counting{oneThreadCPU(t), c})
	if rt.Name() != "cpu" {
		t.Errorf("Name %q, want the members' %q", rt.Name(), "cpu")
	}
	if cc, ok := rt.(enhance.Concurrent); !ok || cc.Concurrency() != 2 {
		t.Errorf("the pool of two is not Concurrent with 2")
	}
	m, err := rt.Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if cc, ok := m.(enhance.Concurrent); !ok || cc.Concurrency() != 2 {
		t.Errorf("the pool's model is not Concurrent with 2")
	}

	got := make([][]float32, len(ins))
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() { got[i], errs[i] = forwardOne(context.Background(), m, in, s) })
	}
	wg.Wait()
	for i := range ins {
		if errs[i] != nil {
			t.Fatalf("input %d: %v", i, errs[i])
		}
		if len(got[i]) != len(want[i]) {
			t.Fatalf("input %d: %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("input %d, value %d: %v, the single runtime gives %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	if n := c.calls.Load(); n != int32(len(ins)) {
		t.Errorf("%d Forward calls on the members, want %d", n, len(ins))
	}
	if p := c.peak.Load(); p != 2 {
		t.Errorf("at most %d Forward calls ran at once, want 2 (one per member)", p)
	}
}

// TestPoolForwardCancelled: with both members busy, a Forward waits for one,
// and returns ctx.Err() when its context ends first, without running; the
// busy ones still finish with the right outputs.
func TestPoolForwardCancelled(t *testing.T) {
	net := poolNet(t)
	s := net.OutScale()
	in := poolInputs(t, 1)[0]
	ref, err := oneThreadCPU(t).Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want, err := forwardOne(context.Background(), ref, in, s)
	if err != nil {
		t.Fatal(err)
	}

	c := newCounter()
	c.release = make(chan struct{})
	m, err := enhance.NewPool(counting{oneThreadCPU(t), c}, counting{oneThreadCPU(t), c}).Load(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	type result struct {
		out []float32
		err error
	}
	busy := make(chan result, 2)
	for range 2 {
		go func() {
			out, err := forwardOne(context.Background(), m, in, s)
			busy <- result{out, err}
		}()
	}
	select {
	case <-c.overlapped:
	case <-time.After(overlapWait):
		t.Fatal("the two Forward calls never ran at once")
	}

	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline while waiting", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := forwardOne(ctx, m, in, s)
			if err != tc.want {
				t.Errorf("Forward: %v, want %v", err, tc.want)
			}
		})
	}
	if n := c.calls.Load(); n != 2 {
		t.Errorf("%d Forward calls reached the members, want the 2 busy ones", n)
	}

	close(c.release)
	for range 2 {
		r := <-busy
		if r.err != nil {
			t.Fatal(r.err)
		}
		for j := range r.out {
			if r.out[j] != want[j] {
				t.Fatalf("value %d: %v, the single runtime gives %v", j, r.out[j], want[j])
			}
		}
	}
	// The members are free again.
	if _, err := forwardOne(context.Background(), m, in, s); err != nil {
		t.Fatalf("Forward after the busy ones: %v", err)
	}
}

// limits adds fixed TileLimiter and Batcher answers to a real runtime's
// models.
type limits struct {
	enhance.Runtime
	tile, batch int
	tileErr     error
}

func (r limits) Load(net graph.Network) (graph.Model, error) {
	m, err := r.Runtime.Load(net)
	if err != nil {
		return nil, err
	}
	return limitedModel{m, r}, nil
}

type limitedModel struct {
	graph.Model
	l limits
}

func (m limitedModel) MaxTile(n int) (int, error) { return m.l.tile / n, m.l.tileErr }
func (m limitedModel) MaxBatch(h, w int) int      { return m.l.batch }

// TestPoolLimits: the pool's model answers MaxTile and MaxBatch with its
// most conservative member.
func TestPoolLimits(t *testing.T) {
	net := poolNet(t)
	cpuRT := oneThreadCPU(t)
	errFull := errors.New("full")
	for _, tc := range []struct {
		name     string
		members  []enhance.Runtime
		tile     int
		tileErr  bool
		batch    int
		noLimits bool
	}{
		{name: "smallest of each", members: []enhance.Runtime{
			limits{cpuRT, 1024, 8, nil}, limits{cpuRT, 512, 16, nil}, limits{cpuRT, 2048, 4, nil},
		}, tile: 512, batch: 4},
		{name: "a member that is neither counts as one tile per call and no tile bound", members: []enhance.Runtime{
			limits{cpuRT, 1024, 8, nil}, cpuRT,
		}, tile: 1024, batch: 1},
		{name: "a member's error", members: []enhance.Runtime{
			limits{cpuRT, 1024, 8, nil}, limits{cpuRT, 0, 8, errFull},
		}, tileErr: true, batch: 8},
		{name: "no member limits", members: []enhance.Runtime{cpuRT, cpuRT}, tileErr: true, batch: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := enhance.NewPool(tc.members...).Load(net)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tl, ok := m.(enhance.TileLimiter)
			if !ok {
				t.Fatal("the pool's model is not a TileLimiter")
			}
			side, err := tl.MaxTile(1)
			if tc.tileErr != (err != nil) || (!tc.tileErr && side != tc.tile) {
				t.Errorf("MaxTile(1) = %d, %v; want %d (error: %v)", side, err, tc.tile, tc.tileErr)
			}
			if tc.name == "a member's error" && !errors.Is(err, errFull) {
				t.Errorf("MaxTile's error %v does not wrap the member's", err)
			}
			b, ok := m.(enhance.Batcher)
			if !ok {
				t.Fatal("the pool's model is not a Batcher")
			}
			if got := b.MaxBatch(64, 64); got != tc.batch {
				t.Errorf("MaxBatch = %d, want %d", got, tc.batch)
			}
		})
	}
}

// TestPoolClose: closing the pool's model closes every member's (a Forward
// then fails), and twice is safe.
func TestPoolClose(t *testing.T) {
	net := poolNet(t)
	m, err := enhance.NewPool(oneThreadCPU(t), oneThreadCPU(t)).Load(net)
	if err != nil {
		t.Fatal(err)
	}
	in := poolInputs(t, 1)[0]
	if _, err := forwardOne(context.Background(), m, in, net.OutScale()); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for i := range 2 { // whichever member each lands on
		if _, err := forwardOne(context.Background(), m, in, net.OutScale()); err == nil {
			t.Fatalf("Forward %d after Close succeeded", i)
		}
	}
}
