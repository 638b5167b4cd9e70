package enhance

import (
	"image"
	"math"
)

// q8 and q16 round a value in [0,1] as Real-ESRGAN does:
// (x * 255.0).round() on float32, half to even; NaN becomes 0.
func q8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.RoundToEven(float64(v * 255)))
}

func q16(v float32) uint16 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 65535
	}
	return uint16(math.RoundToEven(float64(v * 65535)))
}

// toImage quantises colour (3 planes, or 1 for gray) and alpha (1 plane
// or nil) into the image type that keeps the input's kind: Gray, RGBA
// (opaque) or NRGBA, or their 16-bit forms when deep.
func toImage(col, alpha *planes, deep bool) image.Image {
	w, h := col.w, col.h
	r := image.Rect(0, 0, w, h)
	n := w * h
	switch {
	case col.c == 1 && !deep:
		m := image.NewGray(r)
		rows(h, func(y int) {
			for x := 0; x < w; x++ {
				m.Pix[y*m.Stride+x] = q8(col.pix[y*w+x])
			}
		})
		return m
	case col.c == 1:
		m := image.NewGray16(r)
		rows(h, func(y int) {
			for x := 0; x < w; x++ {
				v := q16(col.pix[y*w+x])
				m.Pix[y*m.Stride+2*x], m.Pix[y*m.Stride+2*x+1] = uint8(v>>8), uint8(v)
			}
		})
		return m
	case !deep:
		var pix []uint8
		var stride int
		var m image.Image
		if alpha == nil {
			rgba := image.NewRGBA(r)
			pix, stride, m = rgba.Pix, rgba.Stride, rgba
		} else {
			nrgba := image.NewNRGBA(r)
			pix, stride, m = nrgba.Pix, nrgba.Stride, nrgba
		}
		rows(h, func(y int) {
			row := pix[y*stride:]
			for x := 0; x < w; x++ {
				i := y*w + x
				row[4*x] = q8(col.pix[i])
				row[4*x+1] = q8(col.pix[n+i])
				row[4*x+2] = q8(col.pix[2*n+i])
				if alpha == nil {
					row[4*x+3] = 255
				} else {
					row[4*x+3] = q8(alpha.pix[i])
				}
			}
		})
		return m
	default:
		var pix []uint8
		var stride int
		var m image.Image
		if alpha == nil {
			rgba := image.NewRGBA64(r)
			pix, stride, m = rgba.Pix, rgba.Stride, rgba
		} else {
			nrgba := image.NewNRGBA64(r)
			pix, stride, m = nrgba.Pix, nrgba.Stride, nrgba
		}
		rows(h, func(y int) {
			row := pix[y*stride:]
			for x := 0; x < w; x++ {
				i := y*w + x
				vs := [4]uint16{q16(col.pix[i]), q16(col.pix[n+i]), q16(col.pix[2*n+i]), 65535}
				if alpha != nil {
					vs[3] = q16(alpha.pix[i])
				}
				for c, v := range vs {
					row[8*x+2*c], row[8*x+2*c+1] = uint8(v>>8), uint8(v)
				}
			}
		})
		return m
	}
}
