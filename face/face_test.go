package face

import (
	"encoding/json"
	"image"
	"image/draw"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test inputs are real: the MTCNN weights that FetchWeights installs under
// $ENGINES_DIR (default: the repository's engines/), photos from Debian's
// python3-skimage, and Debian packages unpacked under $IE_TESTMEDIA (default:
// .testmedia at the repository root, see the Makefile's media target). CI provides
// all of them, so a missing one fails the test.

func enginesDir() string {
	if d := os.Getenv("ENGINES_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "engines")
}

var (
	detOnce sync.Once
	det     *Detector
	detErr  error
)

func detector(t testing.TB) *Detector {
	t.Helper()
	detOnce.Do(func() { det, detErr = NewDetector(enginesDir()) })
	if detErr != nil {
		t.Fatalf("MTCNN weights (run `models fetch`, or set ENGINES_DIR): %v", detErr)
	}
	return det
}

const skimageData = "/usr/lib/python3/dist-packages/skimage/data"

// mediaPath resolves a boxes.json file name.
func mediaPath(t testing.TB, name string) string {
	t.Helper()
	var p string
	switch {
	case strings.HasPrefix(name, "skimage/"):
		p = filepath.Join(skimageData, strings.TrimPrefix(name, "skimage/"))
	case strings.HasPrefix(name, "media/"):
		dir := os.Getenv("IE_TESTMEDIA")
		if dir == "" {
			dir = filepath.Join("..", ".testmedia")
		}
		p = filepath.Join(dir, strings.TrimPrefix(name, "media/"))
	default:
		t.Fatalf("boxes.json: unknown source of %q", name)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test image missing (install python3-skimage, fetch the test media, see the Makefile): %v", err)
	}
	return p
}

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

type annotated struct {
	File  string `json:"file"`
	Frame *int   `json:"frame"`
	Faces []struct {
		Box      [4]int `json:"box"`
		Required bool   `json:"required"`
		Note     string `json:"note"`
	} `json:"faces"`
}

func loadBoxes(t testing.TB) []annotated {
	raw, err := os.ReadFile(filepath.Join("testdata", "boxes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Images []annotated }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Images
}

func iou(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	return ia / (float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia)
}

// TestDetect checks MTCNN against the hand-annotated boxes: every required face is
// found with IoU >= 0.5, and nothing is reported on images without faces whose
// entry lists none (skimage's coffee and cat among them).
func TestDetect(t *testing.T) {
	d := detector(t)
	for _, a := range loadBoxes(t) {
		if a.Frame != nil {
			continue // TestDetectMovie decodes those
		}
		t.Run(strings.ReplaceAll(filepath.Base(a.File), ".", "_"), func(t *testing.T) {
			img := loadImage(t, mediaPath(t, a.File))
			faces, err := d.Detect(img)
			if err != nil {
				t.Fatal(err)
			}
			used := make([]bool, len(faces))
			for _, want := range a.Faces {
				w := image.Rect(want.Box[0], want.Box[1], want.Box[2], want.Box[3])
				best, bi := 0.0, -1
				for i, f := range faces {
					if v := iou(w, f.Box); v > best && !used[i] {
						best, bi = v, i
					}
				}
				if bi >= 0 && best >= 0.5 {
					used[bi] = true
					checkLandmarks(t, faces[bi])
				}
				switch {
				case best >= 0.5:
					t.Logf("face %v found, IoU %.2f", w, best)
				case want.Required:
					t.Errorf("face %v not found (best IoU %.2f); detected %v", w, best, boxesOf(faces))
				default:
					t.Logf("optional face %v (%s) not found", w, want.Note)
				}
			}
			for i, f := range faces {
				if used[i] {
					continue
				}
				if len(a.Faces) == 0 {
					t.Errorf("false face %v, score %.3f", f.Box, f.Score)
				} else {
					t.Logf("unmatched detection %v, score %.3f", f.Box, f.Score)
				}
			}
		})
	}
}

// checkLandmarks checks the landmarks' layout on an upright face: inside the box,
// eyes left to right and above the nose, the nose above the mouth corners.
func checkLandmarks(t *testing.T, f Face) {
	t.Helper()
	lm := f.Landmarks
	r := f.Box.Inset(-f.Box.Dx() / 10)
	for i, p := range lm {
		if !image.Pt(int(p.X), int(p.Y)).In(r) {
			t.Errorf("landmark %d %v outside face %v", i, p, f.Box)
		}
	}
	le, re, nose, lm1, rm := lm[0], lm[1], lm[2], lm[3], lm[4]
	if le.X >= re.X || lm1.X >= rm.X || max(le.Y, re.Y) >= nose.Y || nose.Y >= max(lm1.Y, rm.Y) {
		t.Errorf("landmarks %v out of order for an upright face", lm)
	}
}

func boxesOf(fs []Face) []image.Rectangle {
	var r []image.Rectangle
	for _, f := range fs {
		r = append(r, f.Box)
	}
	return r
}

func toRGBACopy(img image.Image) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(m, m.Rect, img, img.Bounds().Min, draw.Src)
	return m
}
