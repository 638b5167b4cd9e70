//go:build cgo && !noonednn

package gpu_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/face"
	"imageenhancer/gpu"
	"imageenhancer/internal/fixtures"
)

// TestFaceEnhanceGPU runs face_enhance end to end (MTCNN, alignment, the
// fixture GFPGAN checkpoint as GFPGANv1.4.pth, paste-back over
// anime_video's upscale) on the GPU runtime and on the CPU runtime (fp32),
// holds the two results within 45 dB, and logs what one face adds to a
// request on each: the time with face_enhance less the time without.
// Weights: IE_MODELS (anime_video's ncnn files and mtcnn/), IE_SHARED
// (the GFPGAN fixture), IE_PHOTOS (astronaut.png).
func TestFaceEnhanceGPU(t *testing.T) {
	g := newRuntime(t, gpu.Config{NoTune: true})
	c, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	models := env("IE_MODELS", "../engines")
	engines := t.TempDir()
	ckpt := filepath.Join(env("IE_SHARED", "../../shared"), "fixtures/gfpgan/weights/gfpgan_narrow.pth")
	if err := fixtures.LinkEngines(engines, fixtures.FaceEngineLinks(models, face.WeightsDir, ckpt, "realesr-animevideov3-x4")); err != nil {
		t.Skipf("weights missing (set IE_MODELS and IE_SHARED): %v", err)
	}
	in, err := os.ReadFile(filepath.Join(env("IE_PHOTOS", "/usr/lib/python3/dist-packages/skimage/data"), "astronaut.png"))
	if err != nil {
		t.Skipf("photo missing (set IE_PHOTOS): %v", err)
	}
	const scale = 2
	var outs [2]image.Image
	for i, rt := range []enhance.Runtime{g, c} {
		enh, err := enhance.New(enhance.Config{EnginesDir: engines, Runtime: rt, TilePad: 10})
		if err != nil {
			t.Fatal(err)
		}
		run := func(faces bool) (*enhance.Result, time.Duration) {
			start := time.Now()
			res, err := enh.Enhance(context.Background(), enhance.Request{Image: in, Model: "anime_video", Scale: scale, FaceEnhance: faces})
			if err != nil {
				t.Fatalf("%s: %v", rt.Name(), err)
			}
			return res, time.Since(start)
		}
		run(true) // loads the networks (and on the GPU captures its graphs)
		best := [2]time.Duration{math.MaxInt64, math.MaxInt64}
		var res *enhance.Result
		for range 3 {
			for j, faces := range []bool{false, true} {
				var d time.Duration
				res, d = run(faces)
				best[j] = min(best[j], d)
			}
		}
		t.Logf("%s: 512² astronaut ×%d, one face: %v without face_enhance, %v with: %v for the face",
			rt.Name(), scale, best[0].Round(time.Millisecond), best[1].Round(time.Millisecond), (best[1] - best[0]).Round(time.Millisecond))
		if res.GPUUsed != (rt.Name() == "gpu") {
			t.Errorf("%s: GPUUsed = %v", rt.Name(), res.GPUUsed)
		}
		if outs[i], err = png.Decode(bytes.NewReader(res.PNG)); err != nil {
			t.Fatal(err)
		}
		enh.Close()
	}
	if outs[0].Bounds() != outs[1].Bounds() {
		t.Fatalf("GPU output %v, CPU output %v", outs[0].Bounds(), outs[1].Bounds())
	}
	p := fixtures.PSNRImage(outs[0], outs[1], outs[0].Bounds())
	t.Logf("face_enhance, GPU against CPU: %.1f dB over the %v result", p, outs[0].Bounds().Size())
	if p < 45 {
		t.Errorf("GPU against CPU %.1f dB < 45", p)
	}
}
