package video

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// rotated writes a copy of an MP4 whose track headers carry a display
// matrix turning the picture by 90°, 180° or 270° clockwise, as phones
// record it.
func rotated(t *testing.T, src string, deg int) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// ISO 14496-12 tkhd matrix {a b u; c d v; x y w}, 16.16 fixed point.
	one, neg := uint32(0x00010000), uint32(0xffff0000)
	m := map[int][4]uint32{
		90:  {0, one, neg, 0},
		180: {neg, 0, 0, neg},
		270: {0, neg, one, 0},
	}[deg]
	n := 0
	for i := bytes.Index(b, []byte("tkhd")); i >= 0; {
		off := i + 4 + 40 // version 0: matrix after 40 bytes of fields
		if b[i+4] == 1 {
			off = i + 4 + 52
		}
		binary.BigEndian.PutUint32(b[off:], m[0])
		binary.BigEndian.PutUint32(b[off+4:], m[1])
		binary.BigEndian.PutUint32(b[off+12:], m[2])
		binary.BigEndian.PutUint32(b[off+16:], m[3])
		n++
		j := bytes.Index(b[i+4:], []byte("tkhd"))
		if j < 0 {
			break
		}
		i += 4 + j
	}
	if n == 0 {
		t.Fatal("no tkhd box")
	}
	p := filepath.Join(t.TempDir(), "rotated.mp4")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstFrame(t *testing.T, path string) Frame {
	t.Helper()
	d, err := OpenDecoder(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRotation(t *testing.T) {
	src := media(t, "mp4.mp4") // 560×320
	upright := firstFrame(t, src).Image
	w, h := upright.Rect.Dx(), upright.Rect.Dy()
	for _, deg := range []int{90, 180, 270} {
		p := rotated(t, src, deg)
		in, err := Probe(p)
		if err != nil {
			t.Fatal(err)
		}
		ww, wh := w, h
		if deg != 180 {
			ww, wh = h, w
		}
		if in.Rotation != deg || in.Width != ww || in.Height != wh {
			t.Errorf("%d°: probed rotation %d, %dx%d", deg, in.Rotation, in.Width, in.Height)
		}
		got := firstFrame(t, p).Image
		if got.Rect.Dx() != ww || got.Rect.Dy() != wh {
			t.Fatalf("%d°: frame is %v", deg, got.Rect)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var dx, dy int
				switch deg {
				case 90:
					dx, dy = h-1-y, x
				case 180:
					dx, dy = w-1-x, h-1-y
				case 270:
					dx, dy = y, w-1-x
				}
				if got.RGBAAt(dx, dy) != upright.RGBAAt(x, y) {
					t.Fatalf("%d°: pixel (%d,%d) went elsewhere", deg, x, y)
				}
			}
		}
	}

	// The output keeps the turned picture and carries no rotation.
	p := rotated(t, src, 90)
	in, _ := Probe(p)
	out := filepath.Join(t.TempDir(), "out.mkv")
	if _, err := Process(t.Context(), p, out, resizer(1), Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	o := checkOutput(t, in, out, 1)
	if o.Rotation != 0 || o.Width != 320 || o.Height != 560 {
		t.Errorf("output: rotation %d, %dx%d", o.Rotation, o.Width, o.Height)
	}
}
