package face

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
)

// FaceSize is the side of the aligned face that GFPGAN restores.
const FaceSize = 512

// ffhqTemplate is facexlib's FaceRestoreHelper face_template for face_size 512: where
// the FFHQ dataset's alignment puts the left eye, right eye, nose, and mouth corners.
var ffhqTemplate = [5]Point{
	{192.98138, 239.94708},
	{318.90277, 240.1936},
	{256.63416, 314.01935},
	{201.26117, 371.41043},
	{313.08905, 371.15118},
}

// borderGrey fills what the aligned crop takes from outside the image: facexlib's
// borderValue (135, 133, 132), which is BGR there, so RGB (132, 133, 135).
var borderGrey = [3]float32{132, 133, 135}

// Restorer restores one aligned FaceSize×FaceSize face; GFPGAN is one. It must return
// an image of the same size and must not keep the input.
type Restorer interface {
	Restore(ctx context.Context, face *image.RGBA) (*image.RGBA, error)
}

// RestorerFunc adapts a function to Restorer.
type RestorerFunc func(ctx context.Context, face *image.RGBA) (*image.RGBA, error)

// Restore calls f.
func (f RestorerFunc) Restore(ctx context.Context, face *image.RGBA) (*image.RGBA, error) {
	return f(ctx, face)
}

// affine is a 2×3 matrix mapping (x, y) to (a*x + b*y + c, d*x + e*y + f).
type affine [6]float64

func (m affine) apply(p Point) Point {
	return Point{m[0]*p.X + m[1]*p.Y + m[2], m[3]*p.X + m[4]*p.Y + m[5]}
}

func (m affine) invert() affine {
	det := m[0]*m[4] - m[1]*m[3]
	a, b, d, e := m[4]/det, -m[1]/det, -m[3]/det, m[0]/det
	return affine{a, b, -(a*m[2] + b*m[5]), d, e, -(d*m[2] + e*m[5])}
}

// similarity is the least-squares rotation, uniform scale and translation taking src
// onto dst: cv2.estimateAffinePartial2D's model, fitted to all five points instead of
// through LMEDS, which with five good landmarks picks nearly the same transform.
func similarity(src, dst [5]Point) affine {
	var ps, qs Point
	for i := range src {
		ps.X += src[i].X / 5
		ps.Y += src[i].Y / 5
		qs.X += dst[i].X / 5
		qs.Y += dst[i].Y / 5
	}
	var num1, num2, den float64
	for i := range src {
		px, py := src[i].X-ps.X, src[i].Y-ps.Y
		qx, qy := dst[i].X-qs.X, dst[i].Y-qs.Y
		num1 += px*qx + py*qy
		num2 += px*qy - py*qx
		den += px*px + py*py
	}
	a, b := num1/den, num2/den
	return affine{a, -b, qs.X - (a*ps.X - b*ps.Y), b, a, qs.Y - (b*ps.X + a*ps.Y)}
}

// toRGBA returns img as an *image.RGBA with its origin at (0, 0), copying only if needed.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}

// sample is bilinear interpolation at (x, y) in pixel-centre coordinates, as
// cv2.warpAffine's INTER_LINEAR, with border for the neighbours outside src.
func sample(src *image.RGBA, x, y float64, border [3]float32) [3]float32 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := float32(x-x0), float32(y-y0)
	ix, iy := int(x0), int(y0)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	var out [3]float32
	for k := 0; k < 4; k++ {
		px, py := ix+k&1, iy+k>>1
		wt := fx
		if k&1 == 0 {
			wt = 1 - fx
		}
		if k>>1 == 0 {
			wt *= 1 - fy
		} else {
			wt *= fy
		}
		if wt == 0 {
			continue
		}
		if px < 0 || py < 0 || px >= w || py >= h {
			for c := range out {
				out[c] += wt * border[c]
			}
			continue
		}
		p := src.Pix[py*src.Stride+4*px:]
		out[0] += wt * float32(p[0])
		out[1] += wt * float32(p[1])
		out[2] += wt * float32(p[2])
	}
	return out
}

func to8(v float32) uint8 {
	return uint8(math.Round(float64(max(0, min(255, v)))))
}

// Align warps the face with these landmarks out of img onto the FFHQ template, as a
// FaceSize×FaceSize image; what falls outside img is facexlib's grey.
func Align(img image.Image, landmarks [5]Point) *image.RGBA {
	src := toRGBA(img)
	inv := similarity(landmarks, ffhqTemplate).invert()
	dst := image.NewRGBA(image.Rect(0, 0, FaceSize, FaceSize))
	parallelRows(FaceSize, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < FaceSize; x++ {
				p := inv.apply(Point{float64(x), float64(y)})
				c := sample(src, p.X, p.Y, borderGrey)
				o := dst.Pix[y*dst.Stride+4*x:]
				o[0], o[1], o[2], o[3] = to8(c[0]), to8(c[1]), to8(c[2]), 255
			}
		}
	})
	return dst
}

// Enhance aligns each face of img, restores it, and pastes it back into upscaled (img
// enlarged upscale times, by Real-ESRGAN) through a soft mask, following facexlib's
// FaceRestoreHelper.paste_faces_to_input_image without the face-parsing network.
// Faces are pasted in order, each over the result so far. upscaled is not modified.
func Enhance(ctx context.Context, img, upscaled image.Image, faces []Face, upscale float64, restore Restorer) (*image.RGBA, error) {
	if upscale <= 0 {
		return nil, fmt.Errorf("face: upscale %v must be positive", upscale)
	}
	if restore == nil {
		return nil, errors.New("face: nil restorer")
	}
	// facexlib sizes the background int(h·upscale) × int(w·upscale); allow a pixel
	// of rounding either way, but catch a background of the wrong image or scale.
	ib, ub := img.Bounds(), upscaled.Bounds()
	if math.Abs(float64(ub.Dx())-float64(ib.Dx())*upscale) > 1 || math.Abs(float64(ub.Dy())-float64(ib.Dy())*upscale) > 1 {
		return nil, fmt.Errorf("face: upscaled image is %dx%d, want %v times %dx%d", ub.Dx(), ub.Dy(), upscale, ib.Dx(), ib.Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, upscaled.Bounds().Dx(), upscaled.Bounds().Dy()))
	draw.Draw(out, out.Rect, upscaled, upscaled.Bounds().Min, draw.Src)
	src := toRGBA(img)
	for i, f := range faces {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		aligned := Align(src, f.Landmarks)
		restored, err := restore.Restore(ctx, aligned)
		if err != nil {
			return nil, fmt.Errorf("face: restoring face %d: %w", i, err)
		}
		if restored.Rect.Dx() != FaceSize || restored.Rect.Dy() != FaceSize {
			return nil, fmt.Errorf("face: restorer returned %v, want %d×%d", restored.Rect, FaceSize, FaceSize)
		}
		pasteBack(out, toRGBA(restored), similarity(f.Landmarks, ffhqTemplate), upscale)
	}
	return out, nil
}

// pasteBack blends the restored face into dst. Only the neighbourhood of the face is
// touched; everywhere else facexlib's full-image mask is zero, so this is the same.
func pasteBack(dst, face *image.RGBA, align affine, upscale float64) {
	// facexlib: inverse_affine = invertAffineTransform(affine) * upscale, plus half an
	// upscaled pixel when enlarging "for more precise back alignment".
	inv := align.invert()
	for i := range inv {
		inv[i] *= upscale
	}
	if upscale > 1 {
		inv[2] += 0.5 * upscale
		inv[5] += 0.5 * upscale
	}
	back := inv.invert() // upscaled pixel → face pixel

	// The face square's footprint, widened by the most that erosion and blur reach.
	scale := math.Sqrt(math.Abs(inv[0]*inv[4] - inv[1]*inv[3]))
	margin := 4 + 4*int(math.Ceil(scale*FaceSize/20))
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range []Point{{-1, -1}, {FaceSize, -1}, {-1, FaceSize}, {FaceSize, FaceSize}} {
		p := inv.apply(c)
		x0, y0 = math.Min(x0, p.X), math.Min(y0, p.Y)
		x1, y1 = math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	r := image.Rect(int(x0)-margin, int(y0)-margin, int(x1)+margin+1, int(y1)+margin+1).Intersect(dst.Rect)
	if r.Empty() {
		return
	}
	w, h := r.Dx(), r.Dy()

	// inv_restored and inv_mask: the face and an all-ones mask warped back, black and
	// zero outside the face square.
	face3 := make([]float32, 3*w*h)
	mask := make([]float32, w*h)
	parallelRows(h, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			for i := 0; i < w; i++ {
				p := back.apply(Point{float64(r.Min.X + i), float64(r.Min.Y + j)})
				c := sample(face, p.X, p.Y, [3]float32{})
				copy(face3[3*(j*w+i):], c[:])
				mask[j*w+i] = coverage(p.X) * coverage(p.Y)
			}
		}
	})

	// Erode by 2·upscale to drop the interpolated black rim, then derive the fusion
	// edge from the face's area as facexlib does.
	k := int(2 * upscale)
	mask = erode(mask, w, h, k)
	var area float64
	for _, v := range mask {
		area += float64(v)
	}
	wEdge := int(math.Sqrt(area)) / 20
	soft := erode(mask, w, h, wEdge*2)
	soft = gaussianBlur(soft, w, h, wEdge*2+1)

	for j := 0; j < h; j++ {
		row := dst.Pix[(r.Min.Y+j)*dst.Stride+4*r.Min.X:]
		for i := 0; i < w; i++ {
			a := soft[j*w+i]
			if a == 0 {
				continue
			}
			e := mask[j*w+i] // pasted_face = inv_mask_erosion * inv_restored
			for c := 0; c < 3; c++ {
				v := a*e*face3[3*(j*w+i)+c] + (1-a)*float32(row[4*i+c])
				row[4*i+c] = to8(v)
			}
		}
	}
}

// coverage is how much of a bilinear sample at coordinate v falls inside [0, FaceSize):
// the warped all-ones mask is its product over x and y.
func coverage(v float64) float32 {
	v0 := math.Floor(v)
	f := v - v0
	var c float64
	if v0 >= 0 && v0 < FaceSize {
		c += 1 - f
	}
	if v0+1 >= 0 && v0+1 < FaceSize {
		c += f
	}
	return float32(c)
}

// erode is cv2.erode with a k×k box of ones (anchor at its centre, k/2): a minimum
// over offsets [-k/2, k-1-k/2] in each direction, with pixels outside ignored as
// OpenCV's default border does. An empty kernel means 3×3, as in OpenCV. Kernels
// reach 2·(face width)/20 pixels, so each pass is van Herk/Gil-Werman's running
// minimum, three comparisons a pixel whatever k is.
func erode(m []float32, w, h, k int) []float32 {
	if k <= 0 {
		k = 3
	}
	lo := -(k / 2)
	out := make([]float32, len(m))
	parallelRows(h, func(j0, j1 int) {
		var buf minBuf
		for j := j0; j < j1; j++ {
			buf.run(m[j*w:(j+1)*w], out[j*w:(j+1)*w], k, lo)
		}
	})
	parallelRows(w, func(i0, i1 int) {
		var buf minBuf
		col, res := make([]float32, h), make([]float32, h)
		for i := i0; i < i1; i++ {
			for j := range col {
				col[j] = out[j*w+i]
			}
			buf.run(col, res, k, lo)
			for j, v := range res {
				out[j*w+i] = v
			}
		}
	})
	return out
}

// minBuf holds the scratch of one van Herk/Gil-Werman pass.
type minBuf struct{ b, g, h []float32 }

// run sets dst[i] to the minimum of src over [i+lo, i+lo+k), ignoring indices
// outside src.
func (mb *minBuf) run(src, dst []float32, k, lo int) {
	n := len(src)
	inf := float32(math.Inf(1))
	size := n + k - 1
	size += (k - size%k) % k // whole blocks
	if cap(mb.b) < size {
		mb.b, mb.g, mb.h = make([]float32, size), make([]float32, size), make([]float32, size)
	}
	b, g, h := mb.b[:size], mb.g[:size], mb.h[:size]
	for i := range b {
		b[i] = inf
	}
	copy(b[-lo:], src)
	for s := 0; s < size; s += k {
		g[s] = b[s]
		for i := s + 1; i < s+k; i++ {
			g[i] = min(g[i-1], b[i])
		}
		h[s+k-1] = b[s+k-1]
		for i := s + k - 2; i >= s; i-- {
			h[i] = min(h[i+1], b[i])
		}
	}
	for i := range dst {
		dst[i] = min(h[i], g[i+k-1])
	}
}

// gaussianKernel is cv2.getGaussianKernel(n, 0): OpenCV's fixed small kernels up to 7
// taps, otherwise a Gaussian with sigma = 0.3·((n−1)/2 − 1) + 0.8.
func gaussianKernel(n int) []float32 {
	switch n {
	case 1:
		return []float32{1}
	case 3:
		return []float32{0.25, 0.5, 0.25}
	case 5:
		return []float32{0.0625, 0.25, 0.375, 0.25, 0.0625}
	case 7:
		return []float32{0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125}
	}
	sigma := 0.3*(float64(n-1)*0.5-1) + 0.8
	k := make([]float32, n)
	var sum float64
	for i := range k {
		x := float64(i - (n-1)/2)
		v := math.Exp(-x * x / (2 * sigma * sigma))
		k[i] = float32(v)
		sum += v
	}
	for i := range k {
		k[i] = float32(float64(k[i]) / sum)
	}
	return k
}

// reflect101 is OpenCV's default border: gfedcb|abcdefgh|gfedcba.
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*n - 2 - i
		}
	}
	return i
}

// gaussianBlur is cv2.GaussianBlur(m, (n, n), 0), separable, with reflect-101 borders.
func gaussianBlur(m []float32, w, h, n int) []float32 {
	k := gaussianKernel(n)
	r := n / 2
	tmp := make([]float32, len(m))
	parallelRows(h, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			row := m[j*w : (j+1)*w]
			if allZero(row) {
				continue // most rows around a face are empty
			}
			for i := 0; i < w; i++ {
				var s float32
				if i >= r && i+r < w {
					for t, v := range row[i-r : i+r+1] {
						s += k[t] * v
					}
				} else {
					for t, kv := range k {
						s += kv * row[reflect101(i+t-r, w)]
					}
				}
				tmp[j*w+i] = s
			}
		}
	})
	out := make([]float32, len(m))
	parallelRows(h, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			dst := out[j*w : (j+1)*w]
			for t, kv := range k {
				src := tmp[reflect101(j+t-r, h)*w:][:w]
				for i, v := range src {
					dst[i] += kv * v
				}
			}
		}
	})
	return out
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
