package gpu_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
	"imageenhancer/gpu"
	"imageenhancer/internal/fixtures"
)

var (
	_ enhance.Runtime = (*gpu.Runtime)(nil)
	_ graph.Model     = (*gpu.Model)(nil)
)

// Environment: IEGPU_LIB is libiegpu.so's path (default: the loader's search
// path, then csrc/libiegpu.so); IE_SHARED is the shared folder with
// fixtures/ (default ../../shared); IE_MODELS holds the ncnn models the
// fixtures name (default ../engines).
func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// newRuntime returns a runtime or skips the test: a machine without a GPU
// or the library is not a failure.
func newRuntime(t testing.TB, cfg gpu.Config) *gpu.Runtime {
	t.Helper()
	var errs []string
	for _, p := range []string{env("IEGPU_LIB", "libiegpu.so"), "csrc/libiegpu.so"} {
		cfg.LibPath = p
		r, err := gpu.New(cfg)
		if err == nil {
			t.Cleanup(func() { r.Close() })
			return r
		}
		errs = append(errs, err.Error())
	}
	t.Skipf("no GPU runtime: %s", strings.Join(errs, "; "))
	return nil
}

func loadCase(t testing.TB, c fixtures.Case) graph.Network {
	t.Helper()
	root := filepath.Join(env("IE_SHARED", "../../shared"), "fixtures", "sr")
	var net graph.Network
	var err error
	if c.Format == "ncnn" {
		base := filepath.Join(env("IE_MODELS", "../engines"), c.Weights)
		if _, e := os.Stat(base + ".param"); e != nil {
			t.Skipf("model %s not present (set IE_MODELS): %v", c.Weights, e)
		}
		net, err = enhance.LoadNetwork(base + ".param")
	} else {
		net, err = enhance.LoadNetwork(filepath.Join(root, c.Weights))
	}
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// readInput decodes a fixture input or photo (fixtures.ReadInput).
func readInput(t testing.TB, path string) ([]float32, int, int) {
	in, h, w, err := fixtures.ReadInput(path)
	if err != nil {
		t.Fatal(err)
	}
	return in, h, w
}

func TestFixtures(t *testing.T) {
	r := newRuntime(t, gpu.Config{NoTune: true})
	root := filepath.Join(env("IE_SHARED", "../../shared"), "fixtures", "sr")
	cases, err := fixtures.ReadManifest(root)
	if err != nil {
		t.Fatalf("fixtures: %v (set IE_SHARED)", err)
	}
	// Every kernel variant the tuner may choose is checked ("default" is
	// what runs untuned).
	for _, variant := range []int{-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20} {
		for _, c := range cases {
			name := strings.TrimSuffix(filepath.Base(c.Expected), ".f32")
			vname := "default"
			if variant >= 0 {
				vname = fmt.Sprintf("v%d", variant)
			}
			if testing.Short() && variant >= 0 {
				continue
			}
			t.Run(vname+"/"+name, func(t *testing.T) {
				runFixture(t, r, root, c, name, variant)
			})
		}
	}
}

// uniformPlan is a plan that runs every layer of m with one kernel variant,
// Hopper's launched with programmatic stream serialization (the untuned
// default runs them without), the tiles of their last rounds split by
// chunks or not.
func uniformPlan(m *gpu.Model, variant int, split bool) string {
	layers := 0
	fmt.Sscanf(strings.Split(m.PlanText(), "\n")[1], "layers %d", &layers)
	sp := 0
	if split {
		sp = 1
	}
	return fmt.Sprintf("iegpu-plan 1\nlayers %d\nvariants%s\npdl 1\nsplit %d\n", layers,
		strings.Repeat(" "+fmt.Sprint(variant), layers), sp)
}

func runFixture(t *testing.T, r *gpu.Runtime, root string, c fixtures.Case, name string, variant int) {
	net := loadCase(t, c)
	m, err := r.LoadModel(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if variant >= 0 {
		if err := m.SetPlan(uniformPlan(m, variant, false)); err != nil {
			t.Fatal(err)
		}
	}
	in, h, w := readInput(t, filepath.Join(root, c.Input))
	// The reference runs the whole image; crop to the input multiple as enhance does.
	mult := net.InputMultiple()
	in = crop(in, h, w, h-h%mult, w-w%mult)
	h, w = h-h%mult, w-w%mult
	s := net.OutScale()
	out := make([]float32, 3*h*s*w*s)
	for i := range out {
		out[i] = float32(math.NaN()) // every element must be written
	}
	if err := m.Forward(context.Background(), in, 1, h, w, out); err != nil {
		t.Fatal(err)
	}
	want, err := fixtures.ReadF32(filepath.Join(root, c.Expected))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(out) {
		t.Fatalf("reference has %d values (shape %v), output %d", len(want), c.Shape, len(out))
	}
	var num, den float64
	for i := range out {
		if math.IsNaN(float64(out[i])) {
			t.Fatalf("output %d not written", i)
		}
		d := float64(out[i] - want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	p := fixtures.PSNR8(out, want, 0, 1)
	t.Logf("%s: PSNR %.2f dB (8-bit, clamped), relative L2 error %.2e", name, p, math.Sqrt(num/den))
	if p < 50 {
		t.Errorf("PSNR %.2f dB < 50 dB", p)
	}
	if variant < 0 {
		checkRGBA(t, m, in, h, w, s, out)
	}
}

// checkRGBA holds ForwardRGBA to Forward's output quantised as enhance
// does it (q8: clamped, v*255 in float32 rounded half to even), byte for
// byte.
func checkRGBA(t *testing.T, m *gpu.Model, in []float32, h, w, s int, out []float32) {
	rgba := make([]byte, 4*h*s*w*s)
	if err := m.ForwardRGBA(context.Background(), in, 1, h, w, rgba); err != nil {
		t.Fatal(err)
	}
	q8 := func(v float32) byte {
		if !(v > 0) {
			return 0
		}
		if v >= 1 {
			return 255
		}
		return byte(math.RoundToEven(float64(v * 255)))
	}
	plane := h * s * w * s
	for i := range plane {
		for c := range 4 {
			want := byte(255)
			if c < 3 {
				want = q8(out[c*plane+i])
			}
			if rgba[4*i+c] != want {
				t.Fatalf("ForwardRGBA pixel %d channel %d = %d, Forward quantised %d", i, c, rgba[4*i+c], want)
			}
		}
	}
}

// crop keeps the top-left h×w of a 3×H×W image.
func crop(in []float32, H, W, h, w int) []float32 {
	if H == h && W == w {
		return in
	}
	out := make([]float32, 3*h*w)
	for c := range 3 {
		for y := range h {
			copy(out[(c*h+y)*w:(c*h+y+1)*w], in[(c*H+y)*W:])
		}
	}
	return out
}

// TestBatch checks that tiles in one batch give what they give alone, and
// that a tuned plan is stored and read back.
func TestBatchAndPlan(t *testing.T) {
	dir := t.TempDir()
	r := newRuntime(t, gpu.Config{EnginesDir: dir, TuneTile: 64})
	net, err := enhance.LoadNetwork(filepath.Join(env("IE_SHARED", "../../shared"), "fixtures/sr/weights/rrdb_x4_nb2.pth"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.LoadModel(net)
	if err != nil {
		t.Fatal(err)
	}
	if m.Plan != "tuned" {
		t.Errorf("first load: plan %q, want tuned", m.Plan)
	}
	const h, w = 40, 24
	in := make([]float32, 2*3*h*w)
	for i := range in {
		in[i] = float32((i*7919)%1000) / 1000
	}
	out2 := make([]float32, 2*3*h*w*16)
	if err := m.Forward(context.Background(), in, 2, h, w, out2); err != nil {
		t.Fatal(err)
	}
	out1 := make([]float32, 3*h*w*16)
	if err := m.Forward(context.Background(), in[3*h*w:], 1, h, w, out1); err != nil {
		t.Fatal(err)
	}
	for i := range out1 {
		if d := math.Abs(float64(out1[i] - out2[len(out1)+i])); d > 1e-5 {
			t.Fatalf("tile 2 alone differs from tile 2 in a batch at %d by %g", i, d)
		}
	}
	tuned := strings.SplitN(m.PlanText(), "\n", 6)
	if len(tuned) < 6 || !strings.HasPrefix(tuned[3], "pdl ") || !strings.HasPrefix(tuned[4], "split ") {
		t.Errorf("tuned plan has no pdl and split lines: %q", tuned)
	}
	if side, err := m.MaxTile(1); err != nil || side < 64 {
		t.Errorf("MaxTile(1) = %d, %v", side, err)
	} else {
		t.Logf("MaxTile(1) = %d", side)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	m2, err := r.LoadModel(net)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Plan != "cache" {
		files, _ := filepath.Glob(filepath.Join(dir, "plans", "*"))
		t.Errorf("second load: plan %q, want cache (plans: %v)", m2.Plan, files)
	}
	if got := strings.SplitN(m2.PlanText(), "\n", 6); len(got) < 5 || len(tuned) < 5 ||
		strings.Join(got[:5], "\n") != strings.Join(tuned[:5], "\n") {
		t.Errorf("cached plan %q, tuned %q", got, tuned)
	}
	info, err := r.Info()
	t.Logf("GPU: %+v %v", info, err)
}

func TestMissingLibrary(t *testing.T) {
	_, err := gpu.New(gpu.Config{LibPath: "/nonexistent/libiegpu.so"})
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Fatalf("New with no library: %v, want ErrUnavailable", err)
	}
}

// BenchmarkForward times the x4plus, general_v3 and anime_video networks on
// the shapes of the issue: gpu_ms is one pass on the device (CUDA graph
// replay, events, median); ns/op is a whole Forward with host copies.
func BenchmarkForward(b *testing.B) {
	r := newRuntime(b, gpu.Config{EnginesDir: env("IE_ENGINES", ""), NoTune: true})
	models := env("IE_MODELS", "../engines")
	for _, bc := range []struct {
		model, file string
		gflop       float64 // GFLOP per input kilopixel (x4plus: 35.85 MFLOP a pixel), so GFLOP·px/ms = TFLOP/s
		n, h, w     int
	}{
		{"x4plus", "realesrgan-x4plus", 35.85e-3, 1, 256, 256},
		{"x4plus", "realesrgan-x4plus", 35.85e-3, 4, 256, 256},
		{"x4plus", "realesrgan-x4plus", 35.85e-3, 1, 480, 640},
		{"general_v3", "realesrgan-x4fast", 2.42e-3, 1, 480, 640},
		{"anime_video", "realesr-animevideov3-x4", 1.25e-3, 1, 480, 640},
	} {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", bc.model, bc.n, bc.h, bc.w), func(b *testing.B) {
			base := filepath.Join(models, bc.file)
			net, err := enhance.LoadNetwork(base + ".param")
			if err != nil {
				b.Skip(err)
			}
			m, err := r.LoadModel(net)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if err := m.Tune(bc.n, bc.h, bc.w); err != nil {
				b.Fatal(err)
			}
			b.Logf("plan (tuned on this shape):\n%s", m.PlanText())
			ms, err := m.Time(bc.n, bc.h, bc.w, 30)
			if err != nil {
				b.Fatal(err)
			}
			in := make([]float32, bc.n*3*bc.h*bc.w)
			for i := range in {
				in[i] = float32(i%251) / 251
			}
			out := make([]float32, len(in)*16)
			b.ResetTimer()
			for range b.N {
				if err := m.Forward(context.Background(), in, bc.n, bc.h, bc.w, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ms, "gpu_ms")
			b.ReportMetric(ms/float64(bc.n), "gpu_ms/tile")
			b.ReportMetric(bc.gflop*float64(bc.n*bc.h*bc.w)/ms, "TFLOP/s")
		})
	}
}
