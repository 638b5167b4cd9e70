package main

import (
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"imageenhancer/enhance"
)

// TestEnhanceCommand upscales a fixture with general_v3 (installed by
// `models fetch`), flags before and after the file names.
func TestEnhanceCommand(t *testing.T) {
	if _, err := os.Stat("engines/realesrgan-x4fast.param"); err != nil {
		t.Fatalf("%v: run `go run . models fetch` first", err)
	}
	out := filepath.Join(t.TempDir(), "out.png")
	for _, tc := range []struct {
		args []string
		w, h int
	}{
		{[]string{"-model", "general_v3", "-engines", "engines", "../shared/fixtures/sr/inputs/astro_face_24x20.png", out}, 96, 80},
		{[]string{"-model", "general_v3", "../shared/fixtures/sr/inputs/astro_face_24x20.png", out, "-tile", "8", "-scale", "2", "-engines", "engines"}, 48, 40},
		{[]string{"-model", "general_v3", "-width", "30", "-engines", "engines", "../shared/fixtures/sr/inputs/astro_face_24x20.png", out}, 30, 25},
	} {
		if err := runEnhance(tc.args); err != nil {
			t.Fatalf("enhance %q: %v", tc.args, err)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("enhance %q: %dx%d %v, want %dx%d", tc.args, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
	}
	for _, args := range [][]string{
		{"../shared/fixtures/sr/inputs/astro_face_24x20.png"},
		{"-model", "general_v3", "-weights", "x.pth", "a.png", "b.png"},
		{"-model", "nope", "-engines", "engines", "../shared/fixtures/sr/inputs/astro_face_24x20.png", out},
	} {
		if err := runEnhance(args); err == nil {
			t.Errorf("enhance %q: no error", args)
		}
	}
}

// TestEnhanceCommandFace: -face is face_enhance, refused naming the GFPGAN
// file without it and run with the fixture checkpoint linked in as
// GFPGANv1.4.pth.
func TestEnhanceCommandFace(t *testing.T) {
	// skimage's astronaut at 160², to keep it quick.
	src, err := os.Open("/usr/lib/python3/dist-packages/skimage/data/astronaut.png")
	if err != nil {
		t.Fatal(err)
	}
	full, err := png.Decode(src)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	small := image.NewRGBA(image.Rect(0, 0, 160, 160))
	draw.CatmullRom.Scale(small, small.Rect, full, full.Bounds(), draw.Src, nil)
	in := filepath.Join(t.TempDir(), "astronaut.png")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, small)
	f.Close()
	out := filepath.Join(t.TempDir(), "out.png")
	engines := t.TempDir()
	for name, target := range map[string]string{
		"realesrgan-x4fast.param": "engines/realesrgan-x4fast.param",
		"realesrgan-x4fast.bin":   "engines/realesrgan-x4fast.bin",
		"mtcnn":                   "engines/mtcnn",
	} {
		abs, _ := filepath.Abs(target)
		if err := os.Symlink(abs, filepath.Join(engines, name)); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-model", "general_v3", "-scale", "2", "-face", "-engines", engines, in, out}
	if err := runEnhance(args); !errors.Is(err, enhance.ErrFaceUnavailable) || !strings.Contains(err.Error(), "GFPGANv1.4.pth") {
		t.Fatalf("enhance -face without GFPGAN: %v, want ErrFaceUnavailable naming GFPGANv1.4.pth", err)
	}
	abs, _ := filepath.Abs("../shared/fixtures/gfpgan/weights/gfpgan_narrow.pth")
	if err := os.Symlink(abs, filepath.Join(engines, "GFPGANv1.4.pth")); err != nil {
		t.Fatal(err)
	}
	if err := runEnhance(args); err != nil {
		t.Fatalf("enhance -face: %v", err)
	}
}
