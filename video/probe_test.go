package video

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

func TestProbe(t *testing.T) {
	for _, c := range []struct {
		name          string
		codec         string
		width, height int
		frames        int
		audio         string
	}{
		{"movie.avi", "mjpeg", 160, 120, 68, "pcm_u8"},
		{"mp4.mp4", "h264", 560, 320, 166, "aac"},
		{"mov.mov", "h264", 560, 320, 166, "aac"},
		{"webm.webm", "vp8", 560, 320, 166, "vorbis"},
		{"ogg.ogv", "theora", 560, 320, 166, "vorbis"},
		{"3gp.3gp", "h263", 352, 288, 83, "amr_nb"},
		{"flv.flv", "flv1", 320, 240, 139, "mp3"},
		{"oa4_launch.webm", "vp8", 640, 360, 194, "vorbis"},
		// Variable frame rate: 41 frames in 1.52 s, while the nominal rate
		// (30.01) times the duration would say 45.
		{"VID_20191220_170832.mp4", "h264", 1920, 1080, 41, "aac"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := Probe(media(t, c.name))
			if err != nil {
				t.Fatal(err)
			}
			if in.VideoCodec != c.codec || in.Width != c.width || in.Height != c.height || in.FrameCount != c.frames ||
				in.AudioCodec != c.audio || !in.HasAudio {
				t.Errorf("got %s %dx%d %d frames audio %q, want %s %dx%d %d frames audio %q",
					in.VideoCodec, in.Width, in.Height, in.FrameCount, in.AudioCodec, c.codec, c.width, c.height, c.frames, c.audio)
			}
			if in.FPS <= 0 || in.Duration <= 0 {
				t.Errorf("fps %v duration %v", in.FPS, in.Duration)
			}

			// The decoder yields exactly the frames Probe counted, in order.
			d, err := OpenDecoder(media(t, c.name))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			n, last := 0, int64(-1<<62)
			for {
				f, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if b := f.Image.Bounds(); b.Dx() != c.width || b.Dy() != c.height {
					t.Fatalf("frame %d is %v", n, b)
				}
				if f.PTS <= last {
					t.Fatalf("frame %d: pts %d after %d", n, f.PTS, last)
				}
				last = f.PTS
				n++
			}
			if n != c.frames {
				t.Errorf("decoded %d frames, probed %d", n, c.frames)
			}
			d.Close() // twice is fine
		})
	}
}

// badInputs writes files that are not usable videos and returns their paths.
func badInputs(t *testing.T) map[string]string {
	dir := t.TempDir()
	var pngBuf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	img.Set(3, 3, color.White)
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	mp4, err := os.ReadFile(media(t, "mp4.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	mkv, err := os.ReadFile(media(t, "mkv.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(noise)
	files := map[string][]byte{
		"empty.mp4":     nil,
		"noise.mp4":     noise,
		"text.txt":      []byte("This is not a video.\nJust some text.\n"),
		"image.png":     pngBuf.Bytes(),
		"truncated.mp4": mp4[:4096],
		// Two recordings spliced: both streams' timestamps restart at 2.24 s.
		"spliced.mkv": mkv,
	}
	paths := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestProbeBad(t *testing.T) {
	for name, p := range badInputs(t) {
		t.Run(name, func(t *testing.T) {
			if in, err := Probe(p); err == nil {
				t.Errorf("Probe accepted it: %+v", in)
			} else {
				t.Log(err)
			}
		})
	}
}
