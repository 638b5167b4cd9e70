package enhance

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"
)

// TestEncodePNG: every image type the pipeline makes decodes back to the
// same pixels with image/png, at sizes that give one piece and many.
func TestEncodePNG(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, size := range []image.Point{{1, 1}, {3, 5}, {300, 200}, {1500, 900}} {
		rect := image.Rectangle{Max: size}
		smooth := func(x, y, c int) uint16 { return uint16(x*37+y*11+c*5000) + uint16(r.IntN(300)) }
		ims := map[string]image.Image{}
		g, g16 := image.NewGray(rect), image.NewGray16(rect)
		rgb, rgba := image.NewRGBA(rect), image.NewNRGBA(rect)
		rgb16, rgba16 := image.NewRGBA64(rect), image.NewNRGBA64(rect)
		for y := 0; y < size.Y; y++ {
			for x := 0; x < size.X; x++ {
				v := [4]uint16{smooth(x, y, 0), smooth(x, y, 1), smooth(x, y, 2), smooth(x, y, 3)}
				g.SetGray(x, y, color.Gray{uint8(v[0] >> 8)})
				g16.SetGray16(x, y, color.Gray16{v[0]})
				rgb.SetRGBA(x, y, color.RGBA{uint8(v[0] >> 8), uint8(v[1] >> 8), uint8(v[2] >> 8), 255})
				rgba.SetNRGBA(x, y, color.NRGBA{uint8(v[0] >> 8), uint8(v[1] >> 8), uint8(v[2] >> 8), uint8(v[3] >> 8)})
				rgb16.SetRGBA64(x, y, color.RGBA64{v[0], v[1], v[2], 65535})
				rgba16.SetNRGBA64(x, y, color.NRGBA64{v[0], v[1], v[2], v[3]})
			}
		}
		ims["gray"], ims["gray16"], ims["rgb"], ims["rgba"], ims["rgb16"], ims["rgba16"] = g, g16, rgb, rgba, rgb16, rgba16
		for name, m := range ims {
			for _, f := range []pngFilter{filterNone, filterSub, filterUp, filterPaeth} {
				t.Run(fmt.Sprintf("%s/%v/%d", name, size, f), func(t *testing.T) {
					b, err := encodePNGFilter(m, f)
					if err != nil {
						t.Fatal(err)
					}
					got, err := png.Decode(bytes.NewReader(b))
					if err != nil {
						t.Fatal(err)
					}
					if got.ColorModel() != m.ColorModel() {
						t.Errorf("colour model changed")
					}
					samePixels(t, got, m)
				})
			}
		}
	}
}

// BenchmarkEncodePNG compares the pipeline's encoder with image/png on a
// 4096² upscale of skimage's astronaut (what a 1024² input at ×4 gives).
func BenchmarkEncodePNG(b *testing.B) {
	m := astronautUpscaled(b, 4096)
	for _, bc := range []struct {
		name string
		enc  func(image.Image) ([]byte, error)
	}{
		{"pipeline-paeth", func(m image.Image) ([]byte, error) { return encodePNGFilter(m, filterPaeth) }},
		{"pipeline-sub", func(m image.Image) ([]byte, error) { return encodePNGFilter(m, filterSub) }},
		{"pipeline-up", func(m image.Image) ([]byte, error) { return encodePNGFilter(m, filterUp) }},
		{"image-png-bestspeed", func(m image.Image) ([]byte, error) {
			var buf bytes.Buffer
			err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m)
			return buf.Bytes(), err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				out, err := bc.enc(m)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n)/1e6, "MB")
		})
	}
}

const astronautPath = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

// astronautUpscaled is skimage's astronaut resized to size² with the
// pipeline's Lanczos, as an RGBA image like toImage makes.
func astronautUpscaled(b testing.TB, size int) image.Image {
	f, err := os.ReadFile(astronautPath)
	if err != nil {
		b.Fatalf("%v (Debian: apt-get install python3-skimage)", err)
	}
	p, err := decode(f, 0)
	if err != nil {
		b.Fatal(err)
	}
	return toImage(resize(&planes{c: 3, w: p.w, h: p.h, pix: p.rgb}, size, size), nil, false)
}

// BenchmarkEncodePNG1024 is the encode stage of a 256² request at ×4: the
// pipeline's encoder on a 1024² opaque RGB picture.
func BenchmarkEncodePNG1024(b *testing.B) {
	m := astronautUpscaled(b, 1024)
	var n int
	for b.Loop() {
		out, err := encodePNG(m)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n)/1e6, "MB")
}
