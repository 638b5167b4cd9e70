package video

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
	"imageenhancer/gpu"
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// realEnhancer is the service's enhancer on the runtime IE_DEVICE names:
// "cpu" (default) or "gpu" (libiegpu.so from IEGPU_LIB), with the weights
// in IE_ENGINES (default ../engines, filled by `make models`).
func realEnhancer(t testing.TB) *enhance.Enhancer {
	t.Helper()
	var rt enhance.Runtime
	switch dev := env("IE_DEVICE", "cpu"); dev {
	case "gpu":
		r, err := gpu.New(gpu.Config{LibPath: env("IEGPU_LIB", ""), EnginesDir: env("IE_ENGINES", "../engines")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rt = r
	case "cpu":
		r, err := cpu.New(cpu.Config{})
		if err != nil {
			t.Fatal(err)
		}
		rt = r
	default:
		t.Fatalf("IE_DEVICE=%q: want cpu or gpu", dev)
	}
	e, err := enhance.New(enhance.Config{EnginesDir: env("IE_ENGINES", "../engines"), Runtime: rt,
		TileSize: atoi(env("IE_TILE", "0"))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(fmt.Sprintf("%q is not a number", s))
	}
	return n
}

// The whole pipeline with the compact anime_video network. On two cores the
// network costs about 1.3 MFLOP per input pixel, so only the 160×120 clip
// runs it in CI; the other containers and codecs go through
// TestProcessResize.
func TestRealPipeline(t *testing.T) {
	enh := realEnhancer(t)
	for _, c := range []struct {
		clip  string
		scale int
	}{
		{"movie.avi", 2}, // MJPEG + PCM 11024 Hz → H.264 + AAC 48 kHz
	} {
		t.Run(c.clip, func(t *testing.T) {
			src := media(t, c.clip)
			in, err := Probe(src)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "enhanced.mkv")
			up := func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error) {
				return enh.EnhanceFrames(ctx, "anime_video", c.scale, false, frames)
			}
			st, err := Process(context.Background(), src, out, up, Options{Scale: c.scale})
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, in, out, c.scale)
			t.Logf("%d frames in %v (%.2f fps)", st.Frames, st.Total.Round(time.Millisecond), st.FPS())
		})
	}
}

// make480p writes an 854×480 H.264 rendition of the 1080p phone clip (41
// frames, its AAC audio kept), shrunk with Catmull-Rom, for the benchmark's
// "480p" clip: no test package ships a 480p video.
func make480p(b *testing.B) string {
	src := media(b, "VID_20191220_170832.mp4")
	dec, err := OpenDecoder(src)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	const w, h = 854, 480
	path := filepath.Join(b.TempDir(), "480p.mkv")
	enc, err := NewEncoder(path, EncoderConfig{Width: w, Height: h, TimeBase: dec.TimeBase(), FrameRate: dec.FrameRate(), AudioFrom: src})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	for {
		f, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		small := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.CatmullRom.Scale(small, small.Bounds(), f.Image, f.Image.Bounds(), draw.Src, nil)
		if err := enc.Write(Frame{Image: small, PTS: f.PTS}); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Finish(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkProcess measures frames per second end to end and the share of
// the wall time each stage was busy (they overlap, so shares can add up to
// more than 100%). Defaults: anime_video ×4 on movie.avi. Set IE_BENCH_CLIP,
// IE_BENCH_MODEL, IE_BENCH_SCALE, IE_DEVICE (IE_BENCH_CLIP=480p makes an
// 854×480 clip first, see make480p); IE_DEVICE=resize replaces the
// network by bilinear upscaling to see the cost of decoding and encoding.
//
//	go test ./video -run XXX -bench Process -benchtime 1x
func BenchmarkProcess(b *testing.B) {
	clip := env("IE_BENCH_CLIP", "movie.avi")
	model := env("IE_BENCH_MODEL", "anime_video")
	scale := atoi(env("IE_BENCH_SCALE", "4"))
	src := clip
	if _, ok := clips[clip]; ok {
		src = media(b, clip)
	} else if clip == "480p" {
		src = make480p(b)
	}
	in, err := Probe(src)
	if err != nil {
		b.Fatal(err)
	}
	var up EnhanceFunc
	if env("IE_DEVICE", "") == "resize" {
		up = resizer(scale)
	} else {
		enh := realEnhancer(b)
		up = func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error) {
			return enh.EnhanceFrames(ctx, model, scale, false, frames)
		}
		// Load the model, and on the GPU tune it for a batch of frames of
		// this size, outside the measurement.
		warm := make([]*image.RGBA, DefaultBatch)
		for i := range warm {
			warm[i] = image.NewRGBA(image.Rect(0, 0, in.Width, in.Height))
		}
		if _, err := up(context.Background(), warm); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "out.mkv")
	var sum Stats
	for b.Loop() {
		st, err := Process(context.Background(), src, out, up,
			Options{Scale: scale, Encoder: env("IE_ENCODER", ""), Preset: env("IE_X264_PRESET", "")})
		if err != nil {
			b.Fatal(err)
		}
		sum.Frames += st.Frames
		sum.Decode += st.Decode
		sum.Enhance += st.Enhance
		sum.Encode += st.Encode
		sum.Total += st.Total
		sum.Width, sum.Height, sum.Encoder = st.Width, st.Height, st.Encoder
	}
	share := func(d time.Duration) float64 { return 100 * d.Seconds() / sum.Total.Seconds() }
	b.ReportMetric(sum.FPS(), "fps")
	b.ReportMetric(share(sum.Decode), "%decode")
	b.ReportMetric(share(sum.Enhance), "%infer")
	b.ReportMetric(share(sum.Encode), "%encode")
	b.Logf("%s %s ×%d → %dx%d %s (x264 preset %s): %d frames in %v", clip, model, scale, sum.Width, sum.Height,
		sum.Encoder, env("IE_X264_PRESET", DefaultX264Preset), sum.Frames, sum.Total.Round(time.Millisecond))
}
