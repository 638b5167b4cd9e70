package main

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
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
