package face_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"imageenhancer/face"
	"imageenhancer/video"
)

// TestDetectMovie checks the movie.avi frames of testdata/boxes.json, decoded with
// the video package (an external test, since video sits above face in the imports).
func TestDetectMovie(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "boxes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Images []struct {
			File  string
			Frame *int
			Faces []struct{ Box [4]int }
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	engines := os.Getenv("ENGINES_DIR")
	if engines == "" {
		engines = filepath.Join("..", "engines")
	}
	d, err := face.NewDetector(engines)
	if err != nil {
		t.Fatalf("MTCNN weights (run `models fetch`, or set ENGINES_DIR): %v", err)
	}
	media := os.Getenv("IE_TESTMEDIA")
	if media == "" {
		media = filepath.Join("..", ".testmedia")
	}
	frames := map[string]map[int]*image.RGBA{}
	for _, a := range doc.Images {
		if a.Frame == nil {
			continue
		}
		path := filepath.Join(media, strings.TrimPrefix(a.File, "media/"))
		if frames[path] == nil {
			if frames[path], err = decodeAll(path); err != nil {
				t.Fatalf("test clip (fetch the test media, see the Makefile): %v", err)
			}
		}
		img := frames[path][*a.Frame]
		if img == nil {
			t.Fatalf("%s has no frame %d", path, *a.Frame)
		}
		t.Run(fmt.Sprintf("%s#%d", filepath.Base(path), *a.Frame), func(t *testing.T) {
			faces, err := d.Detect(img)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range a.Faces {
				w := image.Rect(want.Box[0], want.Box[1], want.Box[2], want.Box[3])
				best := 0.0
				for _, f := range faces {
					best = max(best, iou(w, f.Box))
				}
				if best < 0.5 {
					t.Errorf("face %v not found (best IoU %.2f) among %d", w, best, len(faces))
				} else {
					t.Logf("face %v found, IoU %.2f", w, best)
				}
			}
			if len(faces) > len(a.Faces) {
				t.Errorf("%d faces reported, %d annotated", len(faces), len(a.Faces))
			}
		})
	}
}

func decodeAll(path string) (map[int]*image.RGBA, error) {
	dec, err := video.OpenDecoder(path)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	out := map[int]*image.RGBA{}
	for i := 0; ; i++ {
		f, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[i] = f.Image
	}
}

func iou(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	return ia / (float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia)
}
