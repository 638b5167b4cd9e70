package face

import (
	"errors"
	"image"
	"math"
	"path/filepath"
	"sort"
)

// Point is a position in image pixels.
type Point struct{ X, Y float64 }

// Face is one detected face.
type Face struct {
	// Box is the face's bounding box as MTCNN's last stage regresses it; for a face
	// cut by the frame it reaches past the image.
	Box image.Rectangle
	// Score is ONet's face probability in [0, 1].
	Score float32
	// Landmarks are the left eye, right eye, nose tip, left and right mouth corners,
	// "left" meaning the image's left (the person's right), as in the FFHQ template.
	Landmarks [5]Point
}

// Detector finds faces with MTCNN. It is safe for concurrent use once built; the
// tuning fields must not change while Detect runs.
type Detector struct {
	// MinFaceSize is the smallest face, in pixels, that the image pyramid looks for.
	MinFaceSize float64
	// ScaleFactor is the ratio between pyramid levels.
	ScaleFactor float64
	// Thresholds are the face probabilities each of PNet, RNet and ONet must reach.
	Thresholds [3]float32

	p *pnet
	r *rnet
	o *onet
}

// Defaults of the MTCNN paper and of every port since (facenet, face-api.js).
const (
	defaultMinFace = 20
	defaultScale   = 0.709
	cellSize       = 12 // PNet's receptive field
	cellStride     = 2  // PNet's output stride
)

// NewDetector loads the MTCNN weights that FetchWeights put in enginesDir.
func NewDetector(enginesDir string) (*Detector, error) {
	t, err := loadTFJS(filepath.Join(enginesDir, WeightsDir, manifestName))
	if err != nil {
		return nil, err
	}
	p, r, o, err := loadNets(t)
	if err != nil {
		return nil, err
	}
	return &Detector{
		MinFaceSize: defaultMinFace,
		ScaleFactor: defaultScale,
		// The reference uses 0.6, 0.7, 0.7. PNet at 0.5 lets RNet see the tilted,
		// laughing face in qt-logo.jpg; ONet at 0.85 drops the one false face that
		// then appears (0.81, in blackie.jpg). Chosen on testdata/boxes.json, where
		// the weakest true face scores 0.90.
		Thresholds: [3]float32{0.5, 0.7, 0.85},
		p:          p, r: r, o: o,
	}, nil
}

// box is a candidate in image pixels, corners inclusive-exclusive as MTCNN keeps them.
type box struct {
	x1, y1, x2, y2 float64
	score          float32
	reg            [4]float32
	pts            [5]Point
}

func (b box) w() float64    { return b.x2 - b.x1 }
func (b box) h() float64    { return b.y2 - b.y1 }
func (b box) area() float64 { return b.w() * b.h() }

// calibrate applies a regression (offsets in units of the box's size).
func (b box) calibrate() box {
	w, h := b.w(), b.h()
	b.x1 += float64(b.reg[0]) * w
	b.y1 += float64(b.reg[1]) * h
	b.x2 += float64(b.reg[2]) * w
	b.y2 += float64(b.reg[3]) * h
	return b
}

// square grows the short side about the centre, then rounds, so the next net's
// square input patch is not distorted.
func (b box) square() box {
	w, h := b.w(), b.h()
	if w < h {
		b.x1 -= (h - w) / 2
		b.x2 = b.x1 + h
	} else {
		b.y1 -= (w - h) / 2
		b.y2 = b.y1 + w
	}
	b.x1, b.y1 = math.Round(b.x1), math.Round(b.y1)
	b.x2, b.y2 = math.Round(b.x2), math.Round(b.y2)
	return b
}

// nms keeps the best-scoring boxes, dropping any that overlaps a kept one by more
// than thr: intersection over union, or over the smaller box when overMin is set.
func nms(bs []box, thr float64, overMin bool) []box {
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].score > bs[j].score })
	var keep []box
	for _, b := range bs {
		ok := true
		for _, k := range keep {
			iw := math.Min(b.x2, k.x2) - math.Max(b.x1, k.x1)
			ih := math.Min(b.y2, k.y2) - math.Max(b.y1, k.y1)
			if iw <= 0 || ih <= 0 {
				continue
			}
			inter := iw * ih
			den := b.area() + k.area() - inter
			if overMin {
				den = math.Min(b.area(), k.area())
			}
			if inter/den > thr {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, b)
		}
	}
	return keep
}

// rgb is an image as float RGB, row-major.
type rgb struct {
	w, h int
	d    []float32
}

func toRGB(img image.Image) rgb {
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := rgb{w, h, make([]float32, 3*w*h)}
	for y := 0; y < out.h; y++ {
		row := src.Pix[y*src.Stride:]
		for x := 0; x < out.w; x++ {
			o := 3 * (y*out.w + x)
			out.d[o], out.d[o+1], out.d[o+2] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
		}
	}
	return out
}

// netInput stores a pixel into a net's input: transposed (x first), BGR, and scaled
// to about [-1, 1], which is what the Caffe-trained MTCNN weights expect.
func netInput(m *fmap, x, y int, r, g, b float32) {
	o := (x*m.w + y) * 3
	m.d[o] = (b - 127.5) * 0.0078125
	m.d[o+1] = (g - 127.5) * 0.0078125
	m.d[o+2] = (r - 127.5) * 0.0078125
}

// resizeLevel shrinks the image to one pyramid level by area averaging, as
// cv2.resize's INTER_AREA in the reference MTCNN (facenet). face-api.js uses plain
// bilinear sampling instead, which aliases at the small scales that find large faces:
// a 300-pixel face in jesper_2.jpg goes unseen that way.
func resizeLevel(im rgb, ws, hs int) *fmap {
	xw := areaWeights(im.w, ws)
	yw := areaWeights(im.h, hs)
	// Rows first: tmp is hs × im.w × 3.
	tmp := make([]float32, hs*im.w*3)
	for y, taps := range yw {
		dst := tmp[y*im.w*3:][:im.w*3]
		for _, t := range taps {
			src := im.d[t.i*im.w*3:][:im.w*3]
			for k, v := range src {
				dst[k] += t.w * v
			}
		}
	}
	m := newFmap(ws, hs, 3)
	for y := 0; y < hs; y++ {
		row := tmp[y*im.w*3:]
		for x, taps := range xw {
			var c [3]float32
			for _, t := range taps {
				c[0] += t.w * row[3*t.i]
				c[1] += t.w * row[3*t.i+1]
				c[2] += t.w * row[3*t.i+2]
			}
			netInput(m, x, y, c[0], c[1], c[2])
		}
	}
	return m
}

type tap struct {
	i int
	w float32
}

// areaWeights gives, for each of m output pixels, the input pixels of [0, n) it
// covers and by how much, normalised to sum to one.
func areaWeights(n, m int) [][]tap {
	scale := float64(n) / float64(m)
	out := make([][]tap, m)
	for o := range out {
		a, b := float64(o)*scale, float64(o+1)*scale
		for i := int(a); i < n && float64(i) < b; i++ {
			w := math.Min(b, float64(i+1)) - math.Max(a, float64(i))
			if w > 1e-9 {
				out[o] = append(out[o], tap{i, float32(w / scale)})
			}
		}
	}
	return out
}

// patch cuts the box out of the image (pixels outside are black, as in MTCNN's pad),
// starting one pixel up and left and one pixel larger as the reference code does, and
// shrinks it to s×s by area averaging (cv2.INTER_AREA, as the reference; bilinear
// sampling aliases and costs RNet the tilted face in qt-logo.jpg). It returns the
// patch's origin and size in image pixels for mapping the landmarks back.
func patch(im rgb, b box, s int) (m *fmap, ox, oy, pw, ph float64) {
	ox, oy = b.x1-1, b.y1-1
	pw, ph = b.w()+1, b.h()+1
	x0, y0 := int(ox), int(oy)
	cw, chh := max(int(pw), 1), max(int(ph), 1)
	xw := areaWeights(cw, s)
	yw := areaWeights(chh, s)
	m = newFmap(s, s, 3)
	for y, ytaps := range yw {
		for x, xtaps := range xw {
			var c [3]float32
			for _, ty := range ytaps {
				iy := y0 + ty.i
				if iy < 0 || iy >= im.h {
					continue
				}
				row := im.d[3*iy*im.w:]
				for _, tx := range xtaps {
					ix := x0 + tx.i
					if ix < 0 || ix >= im.w {
						continue
					}
					w := ty.w * tx.w
					c[0] += w * row[3*ix]
					c[1] += w * row[3*ix+1]
					c[2] += w * row[3*ix+2]
				}
			}
			netInput(m, x, y, c[0], c[1], c[2])
		}
	}
	return m, ox, oy, pw, ph
}

// Detect returns the faces in img, best score first. Coordinates are relative to
// img.Bounds().Min.
func (d *Detector) Detect(img image.Image) ([]Face, error) {
	if d == nil || d.p == nil {
		return nil, errors.New("face: detector not loaded")
	}
	im := toRGB(img)
	if im.w < cellSize || im.h < cellSize {
		return nil, nil
	}

	// Stage 1: PNet over the pyramid proposes windows.
	var cands []box
	m := cellSize / d.MinFaceSize
	for s := m; math.Floor(float64(min(im.w, im.h))*s) > cellSize; s *= d.ScaleFactor {
		ws, hs := int(float64(im.w)*s), int(float64(im.h)*s)
		out := d.p.forward(resizeLevel(im, ws, hs))
		var level []box
		// out's first axis is the image's x.
		for i := 0; i < out.h; i++ {
			for j := 0; j < out.w; j++ {
				k := i*out.w + j
				if out.prob[k] < d.Thresholds[0] {
					continue
				}
				b := box{
					x1:    math.Round(float64(i*cellStride+1) / s),
					y1:    math.Round(float64(j*cellStride+1) / s),
					x2:    math.Round(float64(i*cellStride+cellSize) / s),
					y2:    math.Round(float64(j*cellStride+cellSize) / s),
					score: out.prob[k],
				}
				copy(b.reg[:], out.reg[4*k:4*k+4])
				level = append(level, b)
			}
		}
		cands = append(cands, nms(level, 0.5, false)...)
	}
	cands = nms(cands, 0.7, false)
	for i := range cands {
		cands[i] = cands[i].calibrate().square()
	}

	// Stage 2: RNet rejects most windows and refines the rest. Windows are
	// scored on every CPU at once (each alone is too small to share),
	// then kept in their order.
	scored := make([]box, len(cands))
	eachParallel(len(cands), func(i int) {
		b := cands[i]
		in, _, _, _, _ := patch(im, b, 24)
		p, reg := d.r.forward(in)
		b.score = p
		copy(b.reg[:], reg)
		scored[i] = b
	})
	var refined []box
	for _, b := range scored {
		if b.score > d.Thresholds[1] {
			refined = append(refined, b)
		}
	}
	refined = nms(refined, 0.7, false)
	for i := range refined {
		refined[i] = refined[i].calibrate().square()
	}

	// Stage 3: ONet scores, refines the box and places the landmarks.
	placed := make([]box, len(refined))
	eachParallel(len(refined), func(i int) {
		b := refined[i]
		in, ox, oy, pw, ph := patch(im, b, 48)
		p, reg, pts := d.o.forward(in)
		b.score = p
		copy(b.reg[:], reg)
		for k := range b.pts {
			b.pts[k] = Point{ox + float64(pts[k])*pw, oy + float64(pts[k+5])*ph}
		}
		placed[i] = b
	})
	var final []box
	for _, b := range placed {
		if b.score > d.Thresholds[2] {
			final = append(final, b.calibrate())
		}
	}
	final = nms(final, 0.7, true)

	faces := make([]Face, len(final))
	for i, b := range final {
		faces[i] = Face{
			Box:       image.Rect(int(math.Round(b.x1)), int(math.Round(b.y1)), int(math.Round(b.x2)), int(math.Round(b.y2))),
			Score:     b.score,
			Landmarks: b.pts,
		}
	}
	return faces, nil
}
