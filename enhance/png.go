package enhance

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"runtime"
	"strconv"
	"sync"
)

// The pipeline's own PNG encoder. image/png spends most of its time
// choosing a filter for every row and compressing with LZ77; on upscaled
// pictures, whose neighbouring pixels are close, one fixed filter and
// Huffman-only deflate give files within a few percent of its BestSpeed
// ones several times faster, and independent pieces of rows compress on
// all CPUs at once (the deflate streams are joined at sync flushes, as
// pigz does). BenchmarkEncodePNG has the figures.

// pngFilter is the row filter used for every row (PNG filter type 4, Paeth
// for most images; see encodePNG).
type pngFilter byte

const (
	filterNone  pngFilter = 0
	filterSub   pngFilter = 1
	filterUp    pngFilter = 2
	filterPaeth pngFilter = 4
)

// pngLayout is how one of the pipeline's image types is laid out in PNG.
type pngLayout struct {
	colorType, depth byte
	bpp              int                     // bytes per pixel in the file
	w, h             int                     // size
	row              func(y int, dst []byte) // writes row y's bytes into dst (w*bpp)
}

func layout(m image.Image) (pngLayout, error) {
	b := m.Bounds()
	l := pngLayout{w: b.Dx(), h: b.Dy(), depth: 8}
	switch m := m.(type) {
	case *image.Gray:
		l.colorType, l.bpp = 0, 1
		l.row = func(y int, d []byte) { copy(d, m.Pix[y*m.Stride:]) }
	case *image.Gray16:
		l.colorType, l.bpp, l.depth = 0, 2, 16
		l.row = func(y int, d []byte) { copy(d, m.Pix[y*m.Stride:]) }
	case *image.RGBA: // the pipeline makes these opaque: written as RGB
		l.colorType, l.bpp = 2, 3
		l.row = func(y int, d []byte) {
			s := m.Pix[y*m.Stride:]
			for x := 0; x < l.w; x++ {
				d[3*x], d[3*x+1], d[3*x+2] = s[4*x], s[4*x+1], s[4*x+2]
			}
		}
	case *image.NRGBA:
		l.colorType, l.bpp = 6, 4
		l.row = func(y int, d []byte) { copy(d, m.Pix[y*m.Stride:]) }
	case *image.RGBA64: // opaque, as above
		l.colorType, l.bpp, l.depth = 2, 6, 16
		l.row = func(y int, d []byte) {
			s := m.Pix[y*m.Stride:]
			for x := 0; x < l.w; x++ {
				copy(d[6*x:6*x+6], s[8*x:8*x+6])
			}
		}
	case *image.NRGBA64:
		l.colorType, l.bpp, l.depth = 6, 8, 16
		l.row = func(y int, d []byte) { copy(d, m.Pix[y*m.Stride:]) }
	default:
		return l, fmt.Errorf("png: unexpected image type %T", m)
	}
	return l, nil
}

// pngPiece is a run of rows, filtered and deflated on its own.
type pngPiece struct {
	z      []byte // deflate data ending at a sync flush (or the final block)
	adler  uint32 // of the filtered bytes
	length int
}

// encodePNG encodes an image made by toImage.
func encodePNG(m image.Image) ([]byte, error) {
	return encodePNGFilter(m, filterPaeth)
}

func encodePNGFilter(m image.Image, f pngFilter) ([]byte, error) {
	l, err := layout(m)
	if err != nil {
		return nil, err
	}
	stride := l.w * l.bpp
	// Pieces of at least 128 KB of filtered rows, and enough of them to
	// keep every CPU busy (4 per CPU, as they finish unevenly): Huffman-only
	// deflate starts a new block with its own tables every 64 KB anyway
	// (compress/flate's maxStoreBlockSize), so a piece costs only its sync
	// flush and its last partial block. With 1 MB pieces, as before, a
	// 1024² result was 3 pieces and used 3 CPUs of 16.
	rowsPer := max(1, (1<<17)/(stride+1), (l.h+4*runtime.GOMAXPROCS(0)-1)/(4*runtime.GOMAXPROCS(0)))
	n := (l.h + rowsPer - 1) / rowsPer
	pieces := make([]pngPiece, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	var firstErr error
	for g := 0; g < min(runtime.GOMAXPROCS(0), n); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev, cur, out := make([]byte, stride), make([]byte, stride), make([]byte, stride+1)
			var raw bytes.Buffer
			var z bytes.Buffer
			fw, _ := flate.NewWriter(&z, flate.HuffmanOnly)
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				y0, y1 := k*rowsPer, min((k+1)*rowsPer, l.h)
				raw.Reset()
				raw.Grow((y1 - y0) * (stride + 1))
				if y0 > 0 {
					l.row(y0-1, prev)
				} else {
					clear(prev)
				}
				for y := y0; y < y1; y++ {
					l.row(y, cur)
					filterRow(f, out, cur, prev, l.bpp)
					raw.Write(out)
					prev, cur = cur, prev
				}
				z.Reset()
				fw.Reset(&z)
				fw.Write(raw.Bytes())
				var err error
				if k == n-1 {
					err = fw.Close()
				} else {
					err = fw.Flush()
				}
				if err != nil {
					next.Lock()
					firstErr = err
					next.Unlock()
				}
				pieces[k] = pngPiece{z: bytes.Clone(z.Bytes()), adler: adler32.Checksum(raw.Bytes()), length: raw.Len()}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}

	var out bytes.Buffer
	size := 64
	for _, p := range pieces {
		size += len(p.z) + 12
	}
	out.Grow(size)
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(l.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(l.h))
	ihdr[8], ihdr[9] = l.depth, l.colorType
	writeChunk(&out, "IHDR", ihdr)
	adler := uint32(1)
	for k, p := range pieces {
		data := p.z
		if k == 0 { // zlib header: deflate, 32K window, fastest
			data = append([]byte{0x78, 0x01}, data...)
		}
		adler = adler32Combine(adler, p.adler, p.length)
		if k == n-1 {
			data = binary.BigEndian.AppendUint32(data, adler)
		}
		writeChunk(&out, "IDAT", data)
	}
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(data)))
	copy(hdr[4:], typ)
	w.Write(hdr[:])
	w.Write(data)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	binary.Write(w, binary.BigEndian, crc.Sum32())
}

// adler32Combine is the Adler-32 of a followed by b, from theirs and b's
// length (zlib's adler32_combine).
func adler32Combine(a, b uint32, lenB int) uint32 {
	const mod = 65521
	rem := uint64(lenB % mod)
	a1, b1 := uint64(a&0xffff), uint64(a>>16)
	a2, b2 := uint64(b&0xffff), uint64(b>>16)
	s1 := (a1 + a2 + mod - 1) % mod
	s2 := (rem*a1%mod + b1 + b2 + mod - rem) % mod
	return uint32(s2<<16 | s1)
}

// filterRow writes the filter byte and the filtered row cur into out.
func filterRow(f pngFilter, out, cur, prev []byte, bpp int) {
	out[0] = byte(f)
	d := out[1:]
	switch f {
	case filterNone:
		copy(d, cur)
	case filterSub:
		copy(d[:bpp], cur[:bpp])
		for i := bpp; i < len(cur); i++ {
			d[i] = cur[i] - cur[i-bpp]
		}
	case filterUp:
		for i := range cur {
			d[i] = cur[i] - prev[i]
		}
	case filterPaeth:
		for i := 0; i < bpp; i++ {
			d[i] = cur[i] - prev[i] // a and c are 0: Paeth picks b
		}
		// Written so that the compiler uses conditional moves, not
		// branches: on photographs the predictor's choice is close to
		// random, and mispredicted branches made this loop half of the
		// encoder's time.
		for i := bpp; i < len(cur); i++ {
			a, b, c := int(cur[i-bpp]), int(prev[i]), int(prev[i-bpp])
			p := b - c
			q := a - c
			pa, pb, pc := abs(p), abs(q), abs(p+q)
			pred := c
			if pb <= pc {
				pred = b
			}
			if pa <= min(pb, pc) {
				pred = a
			}
			d[i] = cur[i] - byte(pred)
		}
	}
}

// abs is |x| without a branch.
func abs(x int) int {
	m := x >> (strconv.IntSize - 1)
	return (x ^ m) - m
}
