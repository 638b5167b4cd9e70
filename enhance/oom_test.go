package enhance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"sync/atomic"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
)

// oomRuntime loads networks on rt and wraps them in oomModel.
type oomRuntime struct {
	rt    enhance.Runtime
	limit int           // windows with a side over this many pixels fail
	fails *atomic.Int64 // Forward calls refused
}

func (r *oomRuntime) Name() string { return r.rt.Name() }

func (r *oomRuntime) Load(net graph.Network) (graph.Model, error) {
	m, err := r.rt.Load(net)
	if err != nil {
		return nil, err
	}
	return &oomModel{Model: m, r: r}, nil
}

// oomModel is a real model on a device with room for windows of
// r.limit pixels a side: larger ones fail as the GPU runtime fails.
type oomModel struct {
	graph.Model
	r *oomRuntime
}

func (m *oomModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	if h > m.r.limit || w > m.r.limit {
		m.r.fails.Add(1)
		return fmt.Errorf("test: %d tiles of %dx%d: %w", n, w, h, graph.ErrOutOfMemory)
	}
	return m.Model.Forward(ctx, in, n, h, w, out)
}

// TestOutOfMemoryHalvesTile: realesr-general-x4v3 on the CPU runtime, on a
// device that takes windows of up to 40 pixels. A 72² photograph, run
// whole (TileSize 0) and with pad 4, falls to tiles of 36 and then 18
// (windows of 44 and 26), and the result is exactly that of a run
// configured with tile 18. When no window fits, Enhance fails with
// ErrOutOfMemory, which the API answers with 503.
func TestOutOfMemoryHalvesTile(t *testing.T) {
	needWeights(t, enginesDir()+"/realesrgan-x4fast.param")
	in := astronaut(t, 176, 48, 72)
	run := func(limit, tile int) (image.Image, int64, error) {
		fails := new(atomic.Int64)
		e, err := enhance.New(enhance.Config{EnginesDir: enginesDir(), TileSize: tile, TilePad: 4,
			Runtime: &oomRuntime{rt: cpuRuntime(t), limit: limit, fails: fails},
			Log:     slog.New(slog.NewTextHandler(t.Output(), nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		res, err := e.Enhance(context.Background(), enhance.Request{Image: in, Model: "general_v3"})
		if err != nil {
			return nil, fails.Load(), err
		}
		m, err := png.Decode(bytes.NewReader(res.PNG))
		if err != nil {
			t.Fatal(err)
		}
		return m, fails.Load(), nil
	}

	got, fails, err := run(40, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 72 whole fails once; 36+2·4 = 44 fails on its first window; 18 runs.
	if fails != 2 {
		t.Errorf("%d forwards refused, want 2 (whole image, then the first 44² window)", fails)
	}
	want, fails, err := run(1<<20, 18)
	if err != nil || fails != 0 {
		t.Fatalf("tile 18 on a device with room: %v, %d refused", err, fails)
	}
	if got.Bounds() != want.Bounds() || !bytes.Equal(got.(*image.RGBA).Pix, want.(*image.RGBA).Pix) {
		t.Errorf("after halving to 18: output differs from a run configured with tile 18")
	}

	_, fails, err = run(0, 0)
	if !errors.Is(err, enhance.ErrOutOfMemory) {
		t.Fatalf("no room at all: err %v, want one matching enhance.ErrOutOfMemory", err)
	}
	// 72 → 36 → 18 → 16, the floor (16 multiples of 1).
	if fails != 4 {
		t.Errorf("%d forwards refused, want 4 (72, 36, 18, 16)", fails)
	}
	t.Logf("error: %v", err)
}
