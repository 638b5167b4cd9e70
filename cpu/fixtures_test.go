//go:build cgo && !noonednn

package cpu_test

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/internal/fixtures"
)

var _ enhance.Runtime = (*cpu.Runtime)(nil)

// sharedDir is ../shared beside the repository, as the issue lays it out.
const sharedDir = "../../shared"

func enginesDir() string {
	if d := os.Getenv("ENGINES_DIR"); d != "" {
		return d
	}
	return "../engines"
}

// readPNG decodes the PNG at path.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestReferenceOutputs runs every case of ../shared/fixtures/sr/manifest.json
// through enhance.Forward (the `forward` command's code path) on this
// runtime and compares with the PyTorch reference outputs. A missing weights
// file is a failure: CI installs them (`models fetch`).
func TestReferenceOutputs(t *testing.T) {
	const tol = 1e-3 // the bound for every runtime, fp32
	dir := sharedDir + "/fixtures/sr/"
	cases, err := fixtures.ReadManifest(dir)
	if err != nil {
		t.Fatalf("%v: ../shared must sit beside the repo", err)
	}
	rt, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.Expected), func(t *testing.T) {
			path := dir + c.Weights
			if c.Format == "ncnn" {
				path = filepath.Join(enginesDir(), c.Weights+".param")
			}
			img := readPNG(t, dir+c.Input)
			got, shape, err := enhance.Forward(rt, path, img)
			if err != nil {
				t.Fatal(err)
			}
			if shape != c.Shape {
				t.Fatalf("output shape %v, want %v", shape, c.Shape)
			}
			checkReference(t, got, dir+c.Expected, tol)
		})
	}
}

// checkReference fails t unless got has as many values as the reference
// file and is within tol of each.
func checkReference(t *testing.T, got []float32, file string, tol float64) {
	t.Helper()
	want, err := fixtures.ReadF32(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d reference values, %d outputs", len(want), len(got))
	}
	if e := fixtures.MaxAbsError(got, want); !(e <= tol) {
		t.Errorf("max abs error %.3g, want ≤ %g", e, tol)
	} else {
		t.Logf("max abs error %.3g", e)
	}
}

// TestBF16RealWeights checks the bf16 mode against fp32 with the real
// weights on a real photo: PSNR ≥ 45 dB over the [0,1] range.
func TestBF16RealWeights(t *testing.T) {
	img := readPNG(t, sharedDir+"/fixtures/sr/inputs/astro_face_24x20.png")
	r32, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r16, err := cpu.New(cpu.Config{BF16: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"realesrgan-x4plus", "realesrgan-x4fast", "realesr-animevideov3-x4"} {
		t.Run(model, func(t *testing.T) {
			path := filepath.Join(enginesDir(), model+".param")
			a, _, err := enhance.Forward(r32, path, img)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := enhance.Forward(r16, path, img)
			if err != nil {
				t.Fatal(err)
			}
			var mse float64
			for i := range a {
				d := float64(a[i]) - float64(b[i])
				mse += d * d
			}
			psnr := 10 * math.Log10(float64(len(a))/mse)
			t.Logf("bf16 vs fp32: %.1f dB", psnr)
			if psnr < 45 {
				t.Errorf("bf16 PSNR %.1f dB < 45", psnr)
			}
		})
	}
}
