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
	const tol = 1e-3 // the bound for fp32 on every runtime
	dir := filepath.Join(shared, "fixtures", "gfpgan")
	cases, err := fixtures.ReadManifest(dir)
	if err != nil {
		t.Fatalf("%v: ../shared must sit beside the repository", err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in the manifest")
	}
	rt := cpuRuntime(t)
	for _, c := range cases {
		t.Run(filepath.Base(c.Expected), func(t *testing.T) {
			weights := filepath.Join(dir, c.Weights)
			img := readPNG(t, filepath.Join(dir, c.Input))
			got, shape, err := enhance.Forward(rt, weights, img)
			if err != nil {
				t.Fatal(err)
			}
			if shape != c.Shape {
				t.Fatalf("shape %v, want %v", shape, c.Shape)
			}
			want, err := fixtures.ReadF32(filepath.Join(dir, c.Expected))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(got) {
				t.Fatalf("%d values, expected file has %d", len(got), len(want))
			}
			if e := fixtures.MaxAbsError(got, want); !(e <= tol) {
				t.Errorf("max abs error %.3g, want ≤ %g", e, tol)
			} else {
				t.Logf("max abs error %.3g", e)
			}

			small := image.NewRGBA(image.Rect(0, 0, shape[3]/2, shape[2]/2))
			if _, _, err := enhance.Forward(rt, weights, small); err == nil {
				t.Errorf("%v input: no error", small.Bounds().Size())
			} else {
				t.Log(err)
			}
		})
	}
}
