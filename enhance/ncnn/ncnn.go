// Package ncnn reads ncnn models: the text .param file that lists the
// layers with their blobs and parameters, and the .bin file that holds the
// weights of the layers that have any, in layer order. Weights come out as
// float32 (fp16 blobs are converted) in ncnn's order, which for a
// Convolution is PyTorch's OIHW.
//
// It deliberately runs nothing and knows no architecture: package enhance
// decides what network a layer graph is. It reads the weights of the layer
// types Real-ESRGAN's converted models use (Convolution, PReLU) and refuses
// a model with other weighted layers, int8 weights or a binary .param,
// rather than guess at their layout.
//
// Every count in the files is checked against the data that is actually
// there before anything is allocated; malformed files give errors that wrap
// ErrFormat, never a panic.
package ncnn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by every error about the content of a model.
var ErrFormat = errors.New("ncnn: malformed model")

// Magic is the first line of every text .param file.
const Magic = "7767517"

// Value is one parameter of a layer: key=value (a scalar) or
// key=-233xx=n,v1,...,vn (an array, written with the key -23300-key).
type Value struct {
	Array bool
	Float bool      // written with a '.' or an exponent, as ncnn reads floats
	Nums  []float64 // one number for a scalar
}

// Layer is one line of a .param file, plus its weights once LoadBin has
// read them.
type Layer struct {
	Type, Name      string
	Inputs, Outputs []string
	Params          map[int]Value

	// Weight and Bias are filled by LoadBin: a Convolution's kernel
	// (num_output × in × kh × kw) and its bias (nil without bias_term);
	// a PReLU's slopes in Weight.
	Weight, Bias []float32
}

// Int returns the integer parameter key, or def when the layer does not
// set it.
func (l *Layer) Int(key, def int) (int, error) {
	v, ok := l.Params[key]
	if !ok {
		return def, nil
	}
	if v.Array || v.Float || len(v.Nums) != 1 {
		return 0, fmt.Errorf("%w: layer %s: parameter %d is not an integer", ErrFormat, l.Name, key)
	}
	return int(v.Nums[0]), nil
}

// Floats returns the numbers of parameter key (one for a scalar) and
// whether the layer sets it.
func (l *Layer) Floats(key int) ([]float64, bool) {
	v, ok := l.Params[key]
	return v.Nums, ok
}

// Net is a parsed .param file.
type Net struct {
	Layers    []Layer
	BlobCount int // as declared on the second line
}

// maxLine bounds one line of a .param file; real ones are under 1 KB.
const maxLine = 1 << 20

// ParseParam reads a text .param file.
func ParseParam(r io.Reader) (*Net, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	lineNo := 0
	next := func() (string, bool) {
		for sc.Scan() {
			lineNo++
			if s := strings.TrimSpace(sc.Text()); s != "" {
				return s, true
			}
		}
		return "", false
	}
	first, ok := next()
	if !ok {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		return nil, fmt.Errorf("%w: empty .param", ErrFormat)
	}
	if first != Magic {
		return nil, fmt.Errorf("%w: .param starts with %.20q, not the magic %s (binary .param files are not supported)", ErrFormat, first, Magic)
	}
	counts, ok := next()
	if !ok {
		return nil, fmt.Errorf("%w: .param truncated after the magic", ErrFormat)
	}
	f := strings.Fields(counts)
	if len(f) != 2 {
		return nil, fmt.Errorf("%w: line %d: want \"layer_count blob_count\", got %q", ErrFormat, lineNo, counts)
	}
	layerCount, err1 := strconv.Atoi(f[0])
	blobCount, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || layerCount <= 0 || blobCount <= 0 {
		return nil, fmt.Errorf("%w: line %d: bad counts %q", ErrFormat, lineNo, counts)
	}
	n := &Net{BlobCount: blobCount}
	produced := map[string]bool{}
	for {
		s, ok := next()
		if !ok {
			break
		}
		if len(n.Layers) == layerCount {
			return nil, fmt.Errorf("%w: line %d: more layers than the %d declared", ErrFormat, lineNo, layerCount)
		}
		l, err := parseLayer(s)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, lineNo, err)
		}
		for _, b := range l.Inputs {
			if !produced[b] {
				return nil, fmt.Errorf("%w: line %d: layer %s reads blob %q that no earlier layer produces", ErrFormat, lineNo, l.Name, b)
			}
		}
		for _, b := range l.Outputs {
			if produced[b] {
				return nil, fmt.Errorf("%w: line %d: blob %q is produced twice", ErrFormat, lineNo, b)
			}
			produced[b] = true
		}
		if len(produced) > blobCount {
			return nil, fmt.Errorf("%w: line %d: more blobs than the %d declared", ErrFormat, lineNo, blobCount)
		}
		n.Layers = append(n.Layers, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrFormat, lineNo+1, err)
	}
	if len(n.Layers) != layerCount {
		return nil, fmt.Errorf("%w: %d layers, but the header declares %d (truncated?)", ErrFormat, len(n.Layers), layerCount)
	}
	return n, nil
}

// parseLayer parses "Type Name nin nout in... out... k=v...".
func parseLayer(s string) (Layer, error) {
	t := strings.Fields(s)
	if len(t) < 4 {
		return Layer{}, fmt.Errorf("layer line %.40q has fewer than 4 fields", s)
	}
	l := Layer{Type: t[0], Name: t[1], Params: map[int]Value{}}
	nin, err1 := strconv.Atoi(t[2])
	nout, err2 := strconv.Atoi(t[3])
	if err1 != nil || err2 != nil || nin < 0 || nout < 0 || nin > len(t)-4 || nout > len(t)-4-nin {
		return Layer{}, fmt.Errorf("layer %s: bad blob counts %q %q", l.Name, t[2], t[3])
	}
	l.Inputs = t[4 : 4+nin]
	l.Outputs = t[4+nin : 4+nin+nout]
	for _, kv := range t[4+nin+nout:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Layer{}, fmt.Errorf("layer %s: parameter %q is not key=value", l.Name, kv)
		}
		key, err := strconv.Atoi(k)
		if err != nil {
			return Layer{}, fmt.Errorf("layer %s: parameter key %q", l.Name, k)
		}
		var val Value
		if key <= -23300 {
			key = -key - 23300
			val.Array = true
			items := strings.Split(v, ",")
			cnt, err := strconv.Atoi(items[0])
			if err != nil || cnt != len(items)-1 {
				return Layer{}, fmt.Errorf("layer %s: array parameter %d=%q does not start with its length", l.Name, key, v)
			}
			for _, it := range items[1:] {
				x, isFloat, err := parseNum(it)
				if err != nil {
					return Layer{}, fmt.Errorf("layer %s: parameter %d: %v", l.Name, key, err)
				}
				val.Nums = append(val.Nums, x)
				val.Float = val.Float || isFloat
			}
		} else {
			if key < 0 {
				return Layer{}, fmt.Errorf("layer %s: parameter key %d", l.Name, key)
			}
			x, isFloat, err := parseNum(v)
			if err != nil {
				return Layer{}, fmt.Errorf("layer %s: parameter %d: %v", l.Name, key, err)
			}
			val.Nums, val.Float = []float64{x}, isFloat
		}
		if _, dup := l.Params[key]; dup {
			return Layer{}, fmt.Errorf("layer %s: parameter %d given twice", l.Name, key)
		}
		l.Params[key] = val
	}
	return l, nil
}

// parseNum reads a number the way ncnn's ParamDict does: a float when it
// has a '.', 'e' or 'E', else an integer.
func parseNum(s string) (float64, bool, error) {
	if strings.ContainsAny(s, ".eE") {
		x, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return 0, true, fmt.Errorf("bad float %q", s)
		}
		return x, true, nil
	}
	x, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("bad integer %q", s)
	}
	return float64(x), false, nil
}

// weightless lists layer types that read nothing from the .bin. A layer
// type in neither this list nor LoadBin's switch makes LoadBin fail, since
// the offsets of every later weight would depend on it.
func weightless(typ string) bool {
	switch typ {
	case "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle",
		"ReLU", "Sigmoid", "TanH", "Clip", "Crop", "Padding", "Reshape", "Permute",
		"Slice", "UnaryOp", "Noop", "Flatten", "Softmax", "Pooling", "Dropout":
		return true
	}
	return false
}

// Bin tags that precede a Convolution's weights (ncnn's ModelBin).
const (
	tagFP32 = 0x00000000
	tagFP16 = 0x01306B47
)

// binReader hands out little-endian values with bounds checks.
type binReader struct {
	data []byte
	off  int
}

func (b *binReader) take(n int, what string) ([]byte, error) {
	if n < 0 || n > len(b.data)-b.off {
		return nil, fmt.Errorf("%w: .bin truncated at byte %d reading %s (%d bytes needed, %d left)", ErrFormat, b.off, what, n, len(b.data)-b.off)
	}
	p := b.data[b.off : b.off+n]
	b.off += n
	return p, nil
}

func (b *binReader) f32(n int, what string) ([]float32, error) {
	if n > (len(b.data)-b.off)/4 {
		return nil, fmt.Errorf("%w: .bin truncated at byte %d reading %s (%d floats needed, %d bytes left)", ErrFormat, b.off, what, n, len(b.data)-b.off)
	}
	p, err := b.take(4*n, what)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
	return out, nil
}

// weights reads a tagged weight blob: fp16 (padded to 4 bytes) or fp32.
func (b *binReader) weights(n int, what string) ([]float32, error) {
	tag, err := b.take(4, what+" tag")
	if err != nil {
		return nil, err
	}
	switch t := binary.LittleEndian.Uint32(tag); t {
	case tagFP32:
		return b.f32(n, what)
	case tagFP16:
		if n > (len(b.data)-b.off)/2 {
			return nil, fmt.Errorf("%w: .bin truncated at byte %d reading %s (%d halves needed, %d bytes left)", ErrFormat, b.off, what, n, len(b.data)-b.off)
		}
		p, err := b.take((2*n+3)/4*4, what)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = halfToFloat32(binary.LittleEndian.Uint16(p[2*i:]))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: %s: weight tag %#08x is not fp32 (0) or fp16 (%#08x); int8 and quantized models are not supported", ErrFormat, what, t, tagFP16)
	}
}

// LoadBin reads the weights of every layer from the contents of the .bin
// file, which must hold exactly what the layers need.
func (n *Net) LoadBin(data []byte) error {
	b := &binReader{data: data}
	for i := range n.Layers {
		l := &n.Layers[i]
		switch l.Type {
		case "Convolution":
			out, err := l.Int(0, 0)
			if err != nil {
				return err
			}
			kw, err := l.Int(1, 0)
			if err != nil {
				return err
			}
			kh, err := l.Int(11, kw)
			if err != nil {
				return err
			}
			bias, err := l.Int(5, 0)
			if err != nil {
				return err
			}
			size, err := l.Int(6, 0)
			if err != nil {
				return err
			}
			int8, err := l.Int(8, 0)
			if err != nil {
				return err
			}
			// Each factor is checked against size before multiplying so
			// that huge parameters cannot overflow.
			if out <= 0 || kw <= 0 || kh <= 0 || size <= 0 || out > size || out*kw > size || size%(out*kw*kh) != 0 {
				return fmt.Errorf("%w: Convolution %s: weight_data_size %d is not num_output %d × in × %d×%d", ErrFormat, l.Name, size, out, kh, kw)
			}
			if int8 != 0 {
				return fmt.Errorf("%w: Convolution %s: int8 weights are not supported", ErrFormat, l.Name)
			}
			if l.Weight, err = b.weights(size, l.Name+" weights"); err != nil {
				return err
			}
			l.Bias = nil
			if bias != 0 {
				if l.Bias, err = b.f32(out, l.Name+" bias"); err != nil {
					return err
				}
			}
		case "PReLU":
			slopes, err := l.Int(0, 0)
			if err != nil {
				return err
			}
			if slopes <= 0 {
				return fmt.Errorf("%w: PReLU %s: num_slope %d", ErrFormat, l.Name, slopes)
			}
			if l.Weight, err = b.f32(slopes, l.Name+" slopes"); err != nil {
				return err
			}
		default:
			if !weightless(l.Type) {
				return fmt.Errorf("%w: layer %s of type %s: its weights cannot be read (only Convolution and PReLU carry weights here)", ErrFormat, l.Name, l.Type)
			}
		}
	}
	if b.off != len(data) {
		return fmt.Errorf("%w: .bin has %d bytes, the layers use %d", ErrFormat, len(data), b.off)
	}
	return nil
}

// Load reads a .param file and its .bin.
func Load(paramPath, binPath string) (*Net, error) {
	pf, err := os.Open(paramPath)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	n, err := ParseParam(pf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paramPath, err)
	}
	data, err := os.ReadFile(binPath)
	if err != nil {
		return nil, err
	}
	if err := n.LoadBin(data); err != nil {
		return nil, fmt.Errorf("%s: %w", binPath, err)
	}
	return n, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
// (Package pth has the same; neither imports the other.)
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	v := float32(mant) / (1 << 24)
	if sign != 0 {
		v = -v
	}
	return v
}
