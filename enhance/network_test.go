package enhance_test

// Tests and benchmarks on the real networks with real weights, through the
// CPU runtime: the reference outputs, tiling, and whole-pipeline timing.

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/image/draw"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/internal/fixtures"
)

// shared is ../shared beside the repository, seen from enhance/.
const shared = "../../shared"

const astronautPath = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

// enginesDir is ENGINES_DIR, or the repository's engines/.
func enginesDir() string {
	if d := os.Getenv("ENGINES_DIR"); d != "" {
		return d
	}
	return "../engines"
}

var cpuOnce struct {
	sync.Once
	rt  *cpu.Runtime
	err error
}

func cpuRuntime(t testing.TB) *cpu.Runtime {
	cpuOnce.Do(func() { cpuOnce.rt, cpuOnce.err = cpu.New(cpu.Config{}) })
	if cpuOnce.err != nil {
		t.Fatalf("CPU runtime: %v", cpuOnce.err)
	}
	return cpuOnce.rt
}

// needWeights fails (never skips: CI runs `models fetch` first) when a
// weights file is missing.
func needWeights(t testing.TB, path string) {
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v: run `go run . models fetch` at the repository root first", err)
	}
}

func readPNG(t testing.TB, path string) image.Image {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestForwardMatchesReference runs every case of the shared fixtures through
// enhance.Forward, the `forward` command's code path, on the CPU runtime.
func TestForwardMatchesReference(t *testing.T) {
	dir := filepath.Join(shared, "fixtures", "sr")
	forEachFixture(t, dir, func(t *testing.T, c fixtures.Case) {
		weights := filepath.Join(dir, c.Weights)
		if c.Format == "ncnn" {
			weights = filepath.Join(enginesDir(), c.Weights+".param")
		}
		needWeights(t, weights)
		forwardMatches(t, cpuRuntime(t), weights, dir, c)
	})
}

// forEachFixture runs check on every case of the manifest in dir.
func forEachFixture(t *testing.T, dir string, check func(*testing.T, fixtures.Case)) {
	cases, err := fixtures.ReadManifest(dir)
	if err != nil {
		t.Fatalf("%v: ../shared must sit beside the repository", err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in the manifest")
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.Expected), func(t *testing.T) { check(t, c) })
	}
}

// forwardMatches runs case c (under dir) with weights through enhance.Forward
// and checks the output's shape and that it is within 1e-3, the bound
// for fp32 on every runtime, of the reference.
func forwardMatches(t *testing.T, rt enhance.Runtime, weights, dir string, c fixtures.Case) {
	t.Helper()
	const tol = 1e-3
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
}

// astronaut returns a size² crop of skimage's astronaut at (x, y), or the
// whole image resized to size² when x is negative, as PNG.
func astronaut(t testing.TB, x, y, size int) []byte {
	src := readPNG(t, astronautPath)
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	if x < 0 {
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	} else {
		draw.Copy(dst, image.Point{}, src, image.Rect(x, y, x+size, y+size), draw.Src, nil)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, dst); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func psnr(t *testing.T, a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		t.Fatalf("sizes %v and %v", a.Bounds(), b.Bounds())
	}
	return fixtures.PSNRImage(a, b, a.Bounds())
}

// TestTiledX4plus: RealESRGAN_x4plus on a 128² photograph, tiled 32 with 10 of
// padding, stays within 40 dB of the whole-image run, and tile 0 is the
// bare network's output rounded, exactly.
func TestTiledX4plus(t *testing.T) {
	weights := filepath.Join(enginesDir(), "realesrgan-x4plus.param")
	needWeights(t, weights)
	// The top-left 128² of the photograph (astronaut[:128, :128]). How
	// close tiles come depends on the content, since x4plus sees far beyond
	// 10 pixels: measured with pad 10, 47.9 dB here, 38.2 on the face at
	// (176, 48), 35.7 on the whole picture resized to 128² (with
	// tile_process's clipped windows: 45.0, 37.4 and 35.5).
	in := astronaut(t, 0, 0, 128)
	rt := cpuRuntime(t)
	run := func(tile int) image.Image {
		e, err := enhance.New(enhance.Config{EnginesDir: enginesDir(), Runtime: rt, TileSize: tile, TilePad: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		res, err := e.Enhance(context.Background(), enhance.Request{Image: in, Model: "general_x4"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := png.Decode(bytes.NewReader(res.PNG))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	whole, tiled := run(0), run(32)
	if p := psnr(t, whole, tiled); p < 40 {
		t.Errorf("tiled vs whole: PSNR %.2f dB, want ≥ 40", p)
	} else {
		t.Logf("tiled (32, pad 10) vs whole: PSNR %.2f dB", p)
	}

	src, err := png.Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out, shape, err := enhance.Forward(rt, weights, src)
	if err != nil {
		t.Fatal(err)
	}
	h, w := shape[2], shape[3]
	q := func(v float32) uint8 { return uint8(math.RoundToEven(float64(min(max(v, 0), 1) * 255))) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			want := [3]uint8{q(out[y*w+x]), q(out[h*w+y*w+x]), q(out[2*h*w+y*w+x])}
			r, g, b, _ := whole.At(x, y).RGBA()
			if got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; got != want {
				t.Fatalf("tile 0 at (%d,%d): %v, bare network rounded: %v", x, y, got, want)
			}
		}
	}
}

// BenchmarkEnhance1024Tiled is the whole pipeline (decode, tiles, stitch,
// PNG) on a 1024² photograph: general_v3, tile 256, pad 10.
// IE_BENCH_MODEL picks another model (general_x4 takes minutes per run).
func BenchmarkEnhance1024Tiled(b *testing.B) {
	model := os.Getenv("IE_BENCH_MODEL")
	if model == "" {
		model = "general_v3"
	}
	benchEnhance(b, model, astronaut(b, -1, 0, 1024), 256)
}

// BenchmarkEnhance128 is one 128² crop, untiled, per model.
func BenchmarkEnhance128(b *testing.B) {
	in := astronaut(b, 176, 48, 128)
	for _, model := range []string{"general_v3", "anime_video", "general_x4"} {
		b.Run(model, func(b *testing.B) { benchEnhance(b, model, in, 0) })
	}
}

func benchEnhance(b *testing.B, model string, in []byte, tile int) {
	e, err := enhance.New(enhance.Config{EnginesDir: enginesDir(), Runtime: cpuRuntime(b), TileSize: tile, TilePad: 10})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	if err := e.Check(model, 0); err != nil {
		b.Fatal(err)
	}
	// Load the model outside the timing.
	if _, err := e.Enhance(context.Background(), enhance.Request{Image: astronaut(b, 0, 0, 16), Model: model}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Enhance(context.Background(), enhance.Request{Image: in, Model: model}); err != nil {
			b.Fatal(err)
		}
	}
}
