package enhance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// picture is a decoded image as the networks see it: three planes of
// floats in [0,1], and what is needed to give the output the input's kind.
type picture struct {
	w, h  int
	rgb   []float32 // 3 planes of h×w, R then G then B
	alpha []float32 // h×w in [0,1]; nil when every pixel is opaque
	gray  bool      // no colour in the source: the output is gray
	deep  bool      // 16 bits per sample: the output is 16-bit
}

// decoders are the formats the service accepts. They are called directly,
// not through image.Decode, so that a format registered elsewhere in the
// binary (GIF by a video package, say) is still refused here.
var decoders = map[string]struct {
	config func([]byte) (image.Config, error)
	decode func([]byte) (image.Image, error)
}{
	"png": {
		func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
	},
	"jpeg": {
		func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
	},
	"webp": {
		func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	},
}

// sniff names the format from the file's magic bytes.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		return "jpeg"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "gif"
	}
	return ""
}

// decode reads a PNG, JPEG or WEBP file. The header's dimensions are
// checked against maxPixels before any pixel is decoded, so a small file
// claiming a huge image costs no memory. JPEG EXIF orientation is applied.
func decode(b []byte, maxPixels int64) (*picture, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("image_base64: %w: la imagen está vacía", ErrInvalidInput)
	}
	format := sniff(b)
	d, ok := decoders[format]
	if !ok {
		if format == "" {
			format = "desconocido"
		}
		return nil, fmt.Errorf("image_base64: %w: formato %s; envíe PNG, JPEG o WEBP", ErrInvalidInput, format)
	}
	cfg, err := d.config(b)
	if err != nil {
		return nil, fmt.Errorf("image_base64: %w: cabecera %s dañada (%v)", ErrInvalidInput, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("image_base64: %w: la imagen %s mide %d×%d píxeles", ErrInvalidInput, format, cfg.Width, cfg.Height)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("image_base64: %w: la imagen de %d×%d píxeles supera el límite de %d", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	img, err := d.decode(b)
	if err != nil {
		return nil, fmt.Errorf("image_base64: %w: datos %s dañados (%v)", ErrInvalidInput, format, err)
	}
	p := fromImage(img)
	if format == "jpeg" {
		p = p.orient(exifOrientation(b))
	}
	return p, nil
}

// fromImage converts a decoded image to planes.
func fromImage(img image.Image) *picture {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	n := w * h
	p := &picture{w: w, h: h, rgb: make([]float32, 3*n)}
	R, G, B := p.rgb[:n], p.rgb[n:2*n], p.rgb[2*n:]
	var A []float32
	needAlpha := func() {
		if A == nil {
			A = make([]float32, n)
			for i := range A {
				A[i] = 1
			}
		}
	}
	u8 := unit8()
	switch m := img.(type) {
	case *image.Gray:
		p.gray = true
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				f := u8[v]
				R[y*w+x], G[y*w+x], B[y*w+x] = f, f, f
			}
		}
	case *image.Gray16:
		p.gray, p.deep = true, true
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			for x := 0; x < w; x++ {
				f := float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) / 65535
				R[y*w+x], G[y*w+x], B[y*w+x] = f, f, f
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				i := y*w + x
				R[i], G[i], B[i] = u8[row[4*x]], u8[row[4*x+1]], u8[row[4*x+2]]
				if a := row[4*x+3]; a != 0xff {
					needAlpha()
					A[i] = u8[a]
				}
			}
		}
	case *image.RGBA: // what PNG gives for 8-bit RGB
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				i := y*w + x
				if row[4*x+3] == 0xff {
					R[i], G[i], B[i] = u8[row[4*x]], u8[row[4*x+1]], u8[row[4*x+2]]
					continue
				}
				c := color.NRGBAModel.Convert(m.RGBAAt(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
				R[i], G[i], B[i] = u8[c.R], u8[c.G], u8[c.B]
				needAlpha()
				A[i] = u8[c.A]
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(r.Min.X+x, r.Min.Y+y), m.COffset(r.Min.X+x, r.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				i := y*w + x
				R[i], G[i], B[i] = u8[cr], u8[cg], u8[cb]
			}
		}
	default:
		// Everything else (RGBA, 16-bit, paletted, CMYK, WEBP with alpha)
		// goes through the colour model, unpremultiplied.
		switch img.(type) {
		case *image.RGBA64, *image.NRGBA64:
			p.deep = true
		}
		unit := func(v uint16) float32 {
			if p.deep {
				return float32(v) / 65535
			}
			return u8[v]
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
				cr, cg, cb, ca := c.R, c.G, c.B, c.A
				if !p.deep {
					cr, cg, cb, ca = cr>>8, cg>>8, cb>>8, ca>>8
				}
				i := y*w + x
				R[i], G[i], B[i] = unit(cr), unit(cg), unit(cb)
				if (p.deep && ca != 0xffff) || (!p.deep && ca != 0xff) {
					needAlpha()
					A[i] = unit(ca)
				}
			}
		}
	}
	p.alpha = A
	return p
}

// unit8 maps 8-bit samples to [0,1] as the reference does (uint8 / 255,
// correctly rounded): multiplying by a rounded 1/255 instead differs in the
// last bit, which can flip a rounding of the output.
func unit8() *[256]float32 {
	var t [256]float32
	for i := range t {
		t[i] = float32(i) / 255
	}
	return &t
}

// orient applies an EXIF orientation (1–8) to the planes.
func (p *picture) orient(o int) *picture {
	if o < 2 || o > 8 {
		return p
	}
	w, h := p.w, p.h
	W, H := w, h
	if o >= 5 { // the transposing ones
		W, H = h, w
	}
	// src returns the source pixel that lands on (x, y) of the result.
	src := func(x, y int) int {
		switch o {
		case 2:
			return y*w + (w - 1 - x)
		case 3:
			return (h-1-y)*w + (w - 1 - x)
		case 4:
			return (h-1-y)*w + x
		case 5:
			return x*w + y
		case 6:
			return (h-1-x)*w + y
		case 7:
			return (h-1-x)*w + (w - 1 - y)
		default: // 8
			return x*w + (w - 1 - y)
		}
	}
	idx := make([]int32, W*H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			idx[y*W+x] = int32(src(x, y))
		}
	}
	remap := func(pl []float32) []float32 {
		if pl == nil {
			return nil
		}
		out := make([]float32, len(pl))
		n := w * h
		for c := 0; c < len(pl)/n; c++ {
			for i, j := range idx {
				out[c*n+i] = pl[c*n+int(j)]
			}
		}
		return out
	}
	return &picture{w: W, h: H, rgb: remap(p.rgb), alpha: remap(p.alpha), gray: p.gray, deep: p.deep}
}

// exifOrientation returns the Orientation tag (0x0112) of a JPEG's EXIF
// segment, or 1 when there is none or it cannot be read. Only the bytes
// inside the file are trusted; every offset is bounds-checked.
func exifOrientation(b []byte) int {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return 1
		}
		marker := b[i+1]
		if marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 || marker == 0xff {
			i++ // standalone markers and fill bytes
			continue
		}
		if marker == 0xda || marker == 0xd9 { // image data starts: no EXIF before it
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(t[4:]))
	if off+2 > int64(len(t)) {
		return 1
	}
	n := int64(bo.Uint16(t[off:]))
	for k := int64(0); k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 { // SHORT
			if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}
