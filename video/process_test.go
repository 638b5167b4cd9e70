package video

import (
	"context"
	"image"
	"math"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/image/draw"
)

// resizer is a real, cheap stand-in for the network: bilinear upscaling.
func resizer(scale int) EnhanceFunc {
	return func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error) {
		out := make([]*image.RGBA, len(frames))
		for i, f := range frames {
			b := f.Bounds()
			out[i] = image.NewRGBA(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
			draw.ApproxBiLinear.Scale(out[i], out[i].Bounds(), f, b, draw.Src, nil)
		}
		return out, ctx.Err()
	}
}

// checkOutput probes out and holds it to the contract: MKV, H.264, AAC or
// no audio as the input, same frame count, size × scale, duration within a
// frame, audio duration within 50 ms.
func checkOutput(t *testing.T, in Info, out string, scale int) Info {
	t.Helper()
	o, err := Probe(out)
	if err != nil {
		t.Fatalf("probe output: %v", err)
	}
	if o.Format != "matroska,webm" || o.VideoCodec != "h264" {
		t.Errorf("output is %s/%s, want matroska/h264", o.Format, o.VideoCodec)
	}
	if o.FrameCount != in.FrameCount {
		t.Errorf("output has %d frames, input %d", o.FrameCount, in.FrameCount)
	}
	if o.Width != in.Width*scale&^1 || o.Height != in.Height*scale&^1 {
		t.Errorf("output is %dx%d, want %dx%d", o.Width, o.Height, in.Width*scale, in.Height*scale)
	}
	frame := time.Duration(float64(time.Second) / in.FPS)
	if d := o.Duration - in.Duration; d.Abs() > frame {
		t.Errorf("output lasts %v, input %v (one frame is %v)", o.Duration, in.Duration, frame)
	}
	if o.HasAudio != in.HasAudio {
		t.Errorf("output has audio %v, input %v", o.HasAudio, in.HasAudio)
	}
	if in.HasAudio {
		if o.AudioCodec != "aac" {
			t.Errorf("output audio is %s, want aac", o.AudioCodec)
		}
		if d := o.AudioDuration - in.AudioDuration; d.Abs() > 50*time.Millisecond {
			t.Errorf("output audio lasts %v, input %v", o.AudioDuration, in.AudioDuration)
		}
	}
	return o
}

func TestProcessResize(t *testing.T) {
	for _, c := range []struct {
		name  string
		scale int
	}{
		{"movie.avi", 2}, {"mp4.mp4", 1}, {"mov.mov", 1}, {"webm.webm", 1}, {"ogg.ogv", 1},
		{"3gp.3gp", 1}, {"flv.flv", 1}, {"oa4_launch.webm", 1}, {"VID_20191220_170832.mp4", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := media(t, c.name)
			in, err := Probe(src)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.mkv")
			st, err := Process(context.Background(), src, out, resizer(c.scale), Options{Scale: c.scale})
			if err != nil {
				t.Fatal(err)
			}
			o := checkOutput(t, in, out, c.scale)
			t.Logf("%d frames %.1f fps; in %+v\nout %+v", st.Frames, st.FPS(), in, o)
			_ = math.Abs
		})
	}
}
