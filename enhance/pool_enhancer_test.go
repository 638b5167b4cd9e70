package enhance_test

import (
	"bytes"
	"context"
	"image/png"
	"sync"
	"testing"

	"imageenhancer/enhance"
)

// TestEnhancerPool: an Enhancer on a pool of two runtimes keeps a batch in
// flight on each (one INFERENCE_CONCURRENCY slot per member), and its
// pictures are the single runtime's, pixel for pixel.
func TestEnhancerPool(t *testing.T) {
	in := astronaut(t, 0, 0, 64)
	enhanceWith := func(rt enhance.Runtime, requests int) [][]byte {
		e, err := enhance.New(enhance.Config{EnginesDir: enginesDir(), Runtime: rt, TileSize: 32, TilePad: 10, QueueLength: requests})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		outs := make([][]byte, requests)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Go(func() {
				res, err := e.Enhance(context.Background(), enhance.Request{Image: in, Model: "general_v3"})
				if err != nil {
					t.Error(err)
					return
				}
				outs[i] = res.PNG
			})
		}
		wg.Wait()
		return outs
	}
	want := enhanceWith(oneThreadCPU(t), 1)[0]
	c := newCounter()
	got := enhanceWith(enhance.NewPool(counting{oneThreadCPU(t), c}, counting{oneThreadCPU(t), c}), 4)
	wm, err := png.Decode(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		gm, err := png.Decode(bytes.NewReader(g))
		if err != nil {
			t.Fatal(err)
		}
		if p := psnr(t, gm, wm); p < 1000 {
			t.Errorf("request %d: PSNR %.1f dB from the single runtime's, want identical", i, p)
		}
	}
	if p := c.peak.Load(); p != 2 {
		t.Errorf("at most %d batches ran at once, want 2", p)
	}
}
