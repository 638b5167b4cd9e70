package video

import (
	"context"
	"errors"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// frameTimes decodes path and returns each frame's time from the first.
func frameTimes(t *testing.T, path string) []float64 {
	t.Helper()
	d, err := OpenDecoder(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var ts []float64
	for {
		f, err := d.Next()
		if err != nil {
			break
		}
		ts = append(ts, float64(f.PTS)*d.TimeBase().Float())
	}
	for i := len(ts) - 1; i >= 0; i-- {
		ts[i] -= ts[0]
	}
	return ts
}

// checkTimes holds out's frames to in's timing, variable frame rate
// included, within MKV's millisecond.
func checkTimes(t *testing.T, in, out string) {
	t.Helper()
	a, b := frameTimes(t, in), frameTimes(t, out)
	if len(a) != len(b) {
		t.Fatalf("%d frames decoded from the output, %d from the input", len(b), len(a))
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 0.0015 {
			t.Fatalf("frame %d shown at %.4f s, in the input at %.4f s", i, b[i], a[i])
		}
	}
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
			checkOutput(t, in, out, c.scale)
			checkTimes(t, src, out)
			t.Logf("%d frames, %.1f fps", st.Frames, st.FPS())
		})
	}
}

// h264_nvenc falls back to libx264 where no NVIDIA encoder opens (here, CI).
func TestEncoderFallback(t *testing.T) {
	src := media(t, "movie.avi")
	out := filepath.Join(t.TempDir(), "out.mkv")
	st, err := Process(context.Background(), src, out, resizer(1), Options{Scale: 1, Encoder: "h264_nvenc"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Encoder != "h264_nvenc" && st.Encoder != "libx264" {
		t.Errorf("encoder %q", st.Encoder)
	}
	in, _ := Probe(src)
	checkOutput(t, in, out, 1)
	if _, err := NewEncoder(out, EncoderConfig{Codec: "libx265"}); err == nil {
		t.Error("an encoder other than H.264 was accepted")
	}
}

// The preset reaches x264: ultrafast gives up CABAC, B-frames and most of
// the motion search, so at the same crf its file is larger than the
// default's, and both hold to the contract.
func TestX264Preset(t *testing.T) {
	for _, c := range []struct {
		name  string
		scale int
	}{{"movie.avi", 2}, {"mp4.mp4", 1}} {
		t.Run(c.name, func(t *testing.T) {
			src := media(t, c.name)
			in, err := Probe(src)
			if err != nil {
				t.Fatal(err)
			}
			size := map[string]int64{}
			for _, preset := range []string{"ultrafast", ""} {
				out := filepath.Join(t.TempDir(), "out.mkv")
				st, err := Process(context.Background(), src, out, resizer(c.scale), Options{Scale: c.scale, Preset: preset})
				if err != nil {
					t.Fatalf("preset %q: %v", preset, err)
				}
				if st.Encoder != "libx264" {
					t.Fatalf("preset %q: encoder %q", preset, st.Encoder)
				}
				checkOutput(t, in, out, c.scale)
				fi, err := os.Stat(out)
				if err != nil {
					t.Fatal(err)
				}
				size[preset] = fi.Size()
			}
			t.Logf("ultrafast %d bytes, %s %d bytes", size["ultrafast"], DefaultX264Preset, size[""])
			if size["ultrafast"] <= size[""] {
				t.Errorf("ultrafast made %d bytes, no more than %s's %d: the preset did not reach x264",
					size["ultrafast"], DefaultX264Preset, size[""])
			}
		})
	}
}

// An unknown preset is refused, naming it, before any file is created.
func TestX264PresetUnknown(t *testing.T) {
	src := media(t, "movie.avi")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.mkv")
	_, err := Process(context.Background(), src, out, resizer(1), Options{Scale: 1, Preset: "turbo"})
	if err == nil || !strings.Contains(err.Error(), `"turbo"`) {
		t.Errorf("Process with preset turbo: err %v, want one naming it", err)
	}
	for _, codec := range []string{"libx264", "h264_nvenc"} {
		e, err := NewEncoder(out, EncoderConfig{Codec: codec, Preset: "Fast", Width: 64, Height: 64,
			TimeBase: Rational{1, 25}, FrameRate: Rational{25, 1}})
		if err == nil {
			e.Close()
			t.Errorf("%s accepted preset Fast", codec)
		} else if !strings.Contains(err.Error(), `"Fast"`) {
			t.Errorf("%s: err %v does not name the preset", codec, err)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a rejected preset left %s: %v", out, err)
	}
}

// Cancelling the context stops all three stages and Process returns.
func TestProcessCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	slow := func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return resizer(1)(ctx, frames)
	}
	_, err := Process(ctx, media(t, "webm.webm"), filepath.Join(t.TempDir(), "out.mkv"), slow, Options{Scale: 1})
	if err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if calls > 4 {
		t.Errorf("%d batches enhanced after the cancellation", calls-3)
	}
}

// A video without sound comes out without sound. The input is made here
// with Decoder and Encoder, which also checks them alone.
func TestNoAudio(t *testing.T) {
	d, err := OpenDecoder(media(t, "movie.avi"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, h := d.Size()
	silent := filepath.Join(t.TempDir(), "silent.mkv")
	e, err := NewEncoder(silent, EncoderConfig{Width: w, Height: h, TimeBase: d.TimeBase(), FrameRate: d.FrameRate()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for {
		f, err := d.Next()
		if err != nil {
			break
		}
		if err := e.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close() // twice is fine
	in, err := Probe(silent)
	if err != nil {
		t.Fatal(err)
	}
	if in.HasAudio || in.FrameCount != 68 {
		t.Fatalf("made %+v", in)
	}
	out := filepath.Join(t.TempDir(), "out.mkv")
	if _, err := Process(context.Background(), silent, out, resizer(2), Options{Scale: 2}); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, in, out, 2)
	checkTimes(t, silent, out)
}
