package enhance_test

import (
	"image"
	"path/filepath"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/internal/fixtures"
)

// TestForwardGFPGAN runs the GFPGAN fixture through enhance.Forward, the
// `forward` command's path, on the CPU runtime: a GFPGAN checkpoint, which
// LoadNetwork refuses, runs on the whole Size×Size image and returns the
// raw [-1,1] output. Any other size is invalid input.
func TestForwardGFPGAN(t *testing.T) {
	dir := filepath.Join(shared, "fixtures", "gfpgan")
	rt := cpuRuntime(t)
	forEachFixture(t, dir, func(t *testing.T, c fixtures.Case) {
		weights := filepath.Join(dir, c.Weights)
		forwardMatches(t, rt, weights, dir, c)

		small := image.NewRGBA(image.Rect(0, 0, c.Shape[3]/2, c.Shape[2]/2))
		if _, _, err := enhance.Forward(rt, weights, small); err == nil {
			t.Errorf("%v input: no error", small.Bounds().Size())
		} else {
			t.Log(err)
		}
	})
}
