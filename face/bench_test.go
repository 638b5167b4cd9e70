package face

import (
	"context"
	"image"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// Benchmarks for the closing note: go test ./face -run - -bench . -benchtime 10x
// BenchmarkDetect reports time per image; divide by faces/op for time per face.

func benchDetect(b *testing.B, name string) {
	img := loadImage(b, mediaPath(b, name))
	d := detector(b)
	n := 0
	b.ResetTimer()
	for range b.N {
		faces, err := d.Detect(img)
		if err != nil {
			b.Fatal(err)
		}
		n = len(faces)
	}
	b.ReportMetric(float64(n), "faces/op")
}

func BenchmarkDetect(b *testing.B) {
	b.Run("astronaut512", func(b *testing.B) { benchDetect(b, "skimage/astronaut.png") })
	b.Run("qtlogo800", func(b *testing.B) { benchDetect(b, "media/usr/share/kphotoalbum/demo/qt-logo.jpg") })
}

// BenchmarkAlignPaste is align + identity restore + paste-back of one face.
func BenchmarkAlignPaste(b *testing.B) {
	img := toRGBACopy(loadImage(b, mediaPath(b, "skimage/astronaut.png")))
	faces, err := detector(b).Detect(img)
	if err != nil || len(faces) != 1 {
		b.Fatalf("Detect: %d faces, %v", len(faces), err)
	}
	for _, s := range []int{1, 4} {
		bg := image.NewRGBA(scaleRect(img.Rect, s))
		xdraw.NearestNeighbor.Scale(bg, bg.Rect, img, img.Rect, xdraw.Src, nil)
		b.Run(map[int]string{1: "1x", 4: "4x"}[s], func(b *testing.B) {
			for range b.N {
				if _, err := Enhance(context.Background(), img, bg, faces, float64(s), identity); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
