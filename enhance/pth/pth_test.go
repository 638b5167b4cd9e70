package pth

import (
	"archive/zip"
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedDir is the read-only fixture folder that CI clones beside the repo.
const sharedDir = "../../../shared"

// TestReadFile reads real checkpoints (Real-ESRGAN architectures and
// GFPGAN) and checks counts, shapes and the first values of one tensor.
// The expected values were read from the raw storages with Python's
// zipfile and struct, independently of this package.
func TestReadFile(t *testing.T) {
	tests := []struct {
		file    string
		top     []any
		tensors int
		name    string
		shape   []int
		first   []float32
	}{
		{"testdata/srvgg_x4_c4.pth", []any{"params"}, 17, "body.0.bias", []int{64}, []float32{-0.0359954312, -0.0132629815, 0.00941969734}},
		{sharedDir + "/fixtures/sr/weights/srvgg_x4_c16.pth", []any{"params"}, 53, "body.0.weight", []int{64, 3, 3, 3}, []float32{-0.102414146, 0.169072494, -0.0140240733}},
		{sharedDir + "/fixtures/sr/weights/rrdb_x4_nb2.pth", []any{"params_ema"}, 72, "conv_first.weight", []int{64, 3, 3, 3}, []float32{0.0236851554, -0.043428801, -0.00621122262}},
		{sharedDir + "/fixtures/sr/weights/rrdb_x2_nb2.pth", []any{"params_ema"}, 72, "conv_first.weight", []int{64, 12, 3, 3}, []float32{0.00743344054, -0.00976825785, 0.0196248349}},
		{sharedDir + "/fixtures/gfpgan/weights/gfpgan_narrow.pth", []any{"params_ema"}, 285, "conv_body_first.weight", []int{4, 3, 1, 1}, []float32{-0.405251712, -0.015527105, 0.560793579}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			c, err := ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Top.Keys, tt.top) {
				t.Errorf("top keys %v, want %v", c.Top.Keys, tt.top)
			}
			sd, err := c.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			if len(sd) != tt.tensors {
				t.Errorf("%d tensors, want %d", len(sd), tt.tensors)
			}
			for name, x := range sd {
				if n := numel(x.Shape); n != len(x.Data) {
					t.Errorf("%s: shape %v but %d values", name, x.Shape, len(x.Data))
				}
			}
			x := sd[tt.name]
			if x == nil {
				t.Fatalf("no tensor %q", tt.name)
			}
			if !slices.Equal(x.Shape, tt.shape) {
				t.Errorf("%s shape %v, want %v", tt.name, x.Shape, tt.shape)
			}
			if !slices.Equal(x.Data[:len(tt.first)], tt.first) {
				t.Errorf("%s starts %v, want %v", tt.name, x.Data[:len(tt.first)], tt.first)
			}
		})
	}
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// TestSynthetic reads the checkpoints of testdata/gen_synthetic.py, whose
// values are known by construction: other storage types, strided views,
// a 0-dim tensor and pickle protocol 4.
func TestSynthetic(t *testing.T) {
	type want struct {
		shape []int
		data  []float32
	}
	tests := []struct {
		file string
		want map[string]want
	}{
		{"testdata/fp16.pth", map[string]want{
			"w": {[]int{2, 3}, []float32{1, -2, 0.5, 6.103515625e-05, 5.960464477539063e-08, 65504}},
		}},
		{"testdata/mixed_p4.pth", map[string]want{
			"bf":        {[]int{3}, []float32{1.5, -3, 0.15625}},
			"f64":       {[]int{2, 2}, []float32{0.1, 0.2, 0.3, 0.4}},
			"view.t":    {[]int{3, 2}, []float32{0, 3, 1, 4, 2, 5}},
			"view.tail": {[]int{3}, []float32{3, 4, 5}},
			"scalar":    {[]int{}, []float32{-7}},
			"param":     {[]int{2}, []float32{9, 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			c, err := ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := c.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			if len(sd) != len(tt.want) {
				t.Errorf("%d tensors, want %d", len(sd), len(tt.want))
			}
			for name, w := range tt.want {
				x := sd[name]
				if x == nil {
					t.Errorf("no tensor %q", name)
					continue
				}
				if !slices.Equal(x.Shape, w.shape) || !slices.Equal(x.Data, w.data) {
					t.Errorf("%s = %v %v, want %v %v", name, x.Shape, x.Data, w.shape, w.data)
				}
			}
		})
	}
}

// TestTopLevel checks the non-tensor values of a checkpoint and StateDict's
// choice of key.
func TestTopLevel(t *testing.T) {
	c, err := ReadFile("testdata/mixed_p4.pth")
	if err != nil {
		t.Fatal(err)
	}
	scalars := map[string]any{"iter": int64(5), "note": "synthetic", "lr": 1e-4, "ok": true, "none": nil}
	for k, want := range scalars {
		if got, ok := c.Top.Get(k); !ok || got != want {
			t.Errorf("top[%q] = %v (%v), want %v", k, got, ok, want)
		}
	}
	if l, _ := c.Top.Get("list"); l == nil || !slices.Equal(l.(*List).Items, []any{int64(1), int64(2)}) {
		t.Errorf("top[list] = %v", l)
	}

	tests := []struct {
		keys    []string
		wantErr bool
		tensors int
	}{
		{nil, false, 6},
		{[]string{"params"}, false, 6},
		{[]string{"missing", "params"}, false, 6},
		{[]string{"missing"}, true, 0}, // the top level holds no tensors
	}
	for _, tt := range tests {
		t.Run(fmtKeys(tt.keys), func(t *testing.T) {
			sd, err := c.StateDict(tt.keys...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(sd) != tt.tensors {
				t.Errorf("%d tensors, want %d", len(sd), tt.tensors)
			}
		})
	}
}

func fmtKeys(k []string) string {
	if k == nil {
		return "default"
	}
	return strings.Join(k, ",")
}

// TestHalfToFloat32 checks the fp16 conversion on every class of value.
func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x0400, 6.103515625e-05},
		{0x0001, 5.960464477539063e-08},
		{0x83ff, -6.097555160522461e-05},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := HalfToFloat32(tt.h); got != tt.want {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if got := HalfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("HalfToFloat32(0x7e00) = %v, want NaN", got)
	}
	if got := HalfToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("HalfToFloat32(0x8000) = %v, want -0", got)
	}
}

// rezip rewrites a checkpoint with one entry's content replaced, or the
// entry left out when content is nil.
func rezip(t testing.TB, src []byte, name string, content []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if f.Name == name && content == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == name {
			w.Write(content)
			continue
		}
		rc, _ := f.Open()
		b := new(bytes.Buffer)
		b.ReadFrom(rc)
		rc.Close()
		w.Write(b.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

// TestReadErrors feeds broken files: each must give an error wrapping
// ErrFormat, without a panic.
func TestReadErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/srvgg_x4_c4.pth")
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := os.ReadFile("testdata/mixed_p4.pth")
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	pkl := readEntry(t, good, "srvgg_x4_c4/data.pkl")
	tests := []struct {
		name string
		data []byte
	}{
		{"zero bytes", nil},
		{"random bytes", random},
		{"zip magic then random", append([]byte("PK\x03\x04"), random...)},
		{"legacy pickle", []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}},
		{"truncated to 100", good[:100]},
		{"truncated to half", good[:len(good)/2]},
		{"truncated by one", good[:len(good)-1]},
		{"pickle truncated", rezip(t, good, "srvgg_x4_c4/data.pkl", pkl[:len(pkl)/2])},
		{"pickle empty", rezip(t, good, "srvgg_x4_c4/data.pkl", []byte{})},
		{"storage short", rezip(t, good, "srvgg_x4_c4/data/3", []byte{1, 2, 3, 4})},
		{"storage missing", rezip(t, mixed, "mixed_p4/data/2", nil)},
		{"big endian", rezip(t, good, "srvgg_x4_c4/byteorder", []byte("big"))},
		{"no data.pkl", rezip(t, good, "srvgg_x4_c4/data.pkl", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Read(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil {
				_, err = c.StateDict()
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			t.Log(err)
		})
	}
}

func readEntry(t testing.TB, zipped []byte, name string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			b := new(bytes.Buffer)
			b.ReadFrom(rc)
			rc.Close()
			return b.Bytes()
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

// FuzzRead checks that no input makes Read panic or return tensors whose
// data disagree with their shape. The seeds are the real and synthetic
// checkpoints of testdata.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"testdata/srvgg_x4_c4.pth", "testdata/fp16.pth", "testdata/mixed_p4.pth"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		sd, err := c.StateDict()
		if err != nil {
			return
		}
		for name, x := range sd {
			if numel(x.Shape) != len(x.Data) {
				t.Fatalf("%s: shape %v, %d values", name, x.Shape, len(x.Data))
			}
		}
	})
}

// FuzzPickle fuzzes the pickle machine behind a valid archive: the input
// becomes data.pkl of testdata/mixed_p4.pth, whose storages stay in place,
// so mutations reach tensor rebuilding rather than stopping at the zip.
func FuzzPickle(f *testing.F) {
	mixed, err := os.ReadFile("testdata/mixed_p4.pth")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(readEntry(f, mixed, "mixed_p4/data.pkl"))
	good, err := os.ReadFile("testdata/fp16.pth")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(readEntry(f, good, "fp16/data.pkl"))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		b := rezip(t, mixed, "mixed_p4/data.pkl", pkl)
		c, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		sd, err := c.StateDict()
		if err != nil {
			return
		}
		for name, x := range sd {
			if numel(x.Shape) != len(x.Data) {
				t.Fatalf("%s: shape %v, %d values", name, x.Shape, len(x.Data))
			}
		}
	})
}
