package ncnn

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// enginesDir is where `go run . models fetch` installs the real models:
// $ENGINES_DIR, else the repository's engines/ folder.
func enginesDir() string {
	if d := os.Getenv("ENGINES_DIR"); d != "" {
		return d
	}
	return "../../engines"
}

// needModel fails (not skips: CI installs them) when a real model is absent.
func needModel(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v: run `go run . models fetch` (or set ENGINES_DIR) to install the real models", err)
	}
}

// TestLoad reads real models and the tiny synthetic one. The expected
// values were read with Python's struct module following
// ../../../shared/bench/ncnn2npz.py, independently of this package.
func TestLoad(t *testing.T) {
	tests := []struct {
		name          string
		base          string
		layers        int
		convs, prelus int
		params        int // weights and biases in all
		first         []float32
		firstBias     float32
		lastW, lastB  float32
	}{
		{"x4plus", filepath.Join(enginesDir(), "realesrgan-x4plus"), 999, 351, 0, 16697987,
			[]float32{0.0516052246, 0.144897461, -0.156616211}, 0.0123721557, -0.0142974854, 0.0257071871},
		{"x4fast", filepath.Join(enginesDir(), "realesrgan-x4fast"), 72, 34, 33, 1213296,
			[]float32{-0.125, 0.326904297, -2.43554688}, 1.12988281, 0.00189399719, -0.0234222412},
		{"animevideov3", filepath.Join(enginesDir(), "realesr-animevideov3-x4"), 40, 18, 17, 621424,
			[]float32{-0.0473632812, -0.0472717285, 0.557128906}, 0.21254003, -0.00201034546, 0.0124969454},
		// tiny_srvgg: weight i of conv c is ((i+c)%7-3)/8, bias j is (j-1)/4.
		{"tiny", "testdata/tiny_srvgg", 10, 3, 2, 81 + 3 + 3 + 81 + 3 + 3 + 324 + 12,
			[]float32{-3.0 / 8, -2.0 / 8, -1.0 / 8}, -0.25, float32((323+2)%7-3) / 8, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needModel(t, tt.base+".bin")
			n, err := Load(tt.base+".param", tt.base+".bin")
			if err != nil {
				t.Fatal(err)
			}
			if len(n.Layers) != tt.layers {
				t.Errorf("%d layers, want %d", len(n.Layers), tt.layers)
			}
			var convs []*Layer
			prelus, params := 0, 0
			for i := range n.Layers {
				l := &n.Layers[i]
				params += len(l.Weight) + len(l.Bias)
				switch l.Type {
				case "Convolution":
					convs = append(convs, l)
				case "PReLU":
					prelus++
				}
			}
			if len(convs) != tt.convs || prelus != tt.prelus || params != tt.params {
				t.Errorf("%d convs, %d PReLUs, %d parameters; want %d, %d, %d", len(convs), prelus, params, tt.convs, tt.prelus, tt.params)
			}
			first, last := convs[0], convs[len(convs)-1]
			if !slices.Equal(first.Weight[:3], tt.first) || first.Bias[0] != tt.firstBias {
				t.Errorf("first conv starts %v, bias %v; want %v, %v", first.Weight[:3], first.Bias[0], tt.first, tt.firstBias)
			}
			if w, b := last.Weight[len(last.Weight)-1], last.Bias[len(last.Bias)-1]; w != tt.lastW || b != tt.lastB {
				t.Errorf("last conv ends %v, bias %v; want %v, %v", w, b, tt.lastW, tt.lastB)
			}
		})
	}
}

// TestParams checks the parameter forms, arrays included, on real lines.
func TestParams(t *testing.T) {
	n, err := ParseParam(strings.NewReader(Magic + "\n2 2\n" +
		"Input in 0 1 data\n" +
		"Convolution Conv_1 1 1 data 705 0=32 1=3 4=1 5=1 6=18432 9=2 -23310=1,2.000000e-01\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := &n.Layers[1]
	ints := []struct{ key, def, want int }{{0, 0, 32}, {1, 0, 3}, {11, 3, 3}, {6, 0, 18432}, {9, 0, 2}, {8, 0, 0}}
	for _, tt := range ints {
		if got, err := l.Int(tt.key, tt.def); err != nil || got != tt.want {
			t.Errorf("Int(%d) = %d, %v; want %d", tt.key, got, err, tt.want)
		}
	}
	if v, ok := l.Floats(10); !ok || len(v) != 1 || float32(v[0]) != 0.2 || !l.Params[10].Array {
		t.Errorf("param 10 = %+v, want the array [0.2]", l.Params[10])
	}
	if _, err := l.Int(10, 0); err == nil {
		t.Error("Int of an array parameter: no error")
	}
	if l.Type != "Convolution" || l.Name != "Conv_1" || !slices.Equal(l.Inputs, []string{"data"}) || !slices.Equal(l.Outputs, []string{"705"}) {
		t.Errorf("layer %+v", l)
	}
}

// TestParseParamErrors feeds malformed .param files.
func TestParseParamErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/tiny_srvgg.param")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(good), "\n")
	tests := []struct {
		name, param string
	}{
		{"zero bytes", ""},
		{"wrong magic", "7767518\n" + strings.Join(lines[1:], "\n")},
		{"binary param", "\xdd\x8c\x76\x00\x0a\x00\x00\x00"},
		{"only magic", Magic + "\n"},
		{"bad counts", Magic + "\nten 11\n"},
		{"truncated", strings.Join(lines[:6], "\n")},
		{"extra layer", string(good) + "ReLU r 1 1 output o2\n"},
		{"short line", Magic + "\n1 1\nInput data\n"},
		{"blob counts beyond line", Magic + "\n1 1\nInput in 0 5 data\n"},
		{"unknown input blob", Magic + "\n2 2\nInput in 0 1 data\nReLU r 1 1 nope out\n"},
		{"blob produced twice", Magic + "\n2 2\nInput in 0 1 data\nReLU r 1 1 data data\n"},
		{"too many blobs", Magic + "\n1 1\nInput in 0 2 a b\n"},
		{"param without =", Magic + "\n1 1\nInput in 0 1 data 0\n"},
		{"bad param key", Magic + "\n1 1\nInput in 0 1 data x=1\n"},
		{"bad param value", Magic + "\n1 1\nInput in 0 1 data 0=1x\n"},
		{"array length", Magic + "\n1 1\nInput in 0 1 data -23310=2,0.2\n"},
		{"duplicate param", Magic + "\n1 1\nInput in 0 1 data 0=1 0=2\n"},
		{"line too long", Magic + "\n1 1\nInput in 0 1 data " + strings.Repeat("0=1", maxLine) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseParam(strings.NewReader(tt.param))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			t.Log(err)
		})
	}
}

// TestLoadBinErrors feeds .bin files that do not match their .param.
func TestLoadBinErrors(t *testing.T) {
	param, err := os.ReadFile("testdata/tiny_srvgg.param")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile("testdata/tiny_srvgg.bin")
	if err != nil {
		t.Fatal(err)
	}
	badTag := slices.Clone(bin)
	badTag[0] = 0x38 // 0x01306B38: neither fp16 nor fp32
	tests := []struct {
		name  string
		param string
		bin   []byte
	}{
		{"zero bytes", string(param), nil},
		{"truncated in a tag", string(param), bin[:2]},
		{"truncated in fp16 weights", string(param), bin[:50]},
		{"truncated in bias", string(param), bin[:4+164+4]},
		{"truncated by one", string(param), bin[:len(bin)-1]},
		{"one byte extra", string(param), append(slices.Clone(bin), 0)},
		{"unknown tag", string(param), badTag},
		{"weight size not a multiple", strings.Replace(string(param), "6=81", "6=80", 1), bin},
		{"huge weight size", strings.Replace(string(param), "6=81", "6=2147483647", 1), bin},
		{"int8", strings.Replace(string(param), "6=81", "6=81 8=1", 1), bin},
		{"unknown weighted layer", strings.Replace(string(param), "PReLU", "BatchNorm", 1), bin},
		{"float where an int goes", strings.Replace(string(param), "0=3 1=3", "0=3.0 1=3", 1), bin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseParam(strings.NewReader(tt.param))
			if err != nil {
				t.Fatal(err)
			}
			err = n.LoadBin(tt.bin)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			t.Log(err)
		})
	}
}

// FuzzParam checks that no .param makes ParseParam panic. Seeds: the
// tiny model and realesr-animevideov3's real .param.
func FuzzParam(f *testing.F) {
	for _, name := range []string{"testdata/tiny_srvgg.param", "testdata/realesr-animevideov3-x4.param"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, param string) {
		n, err := ParseParam(strings.NewReader(param))
		if err != nil {
			return
		}
		if len(n.Layers) == 0 {
			t.Fatal("no error and no layers")
		}
	})
}

// FuzzBin checks that no .bin makes LoadBin panic and that a successful
// load gives every Convolution its declared number of weights.
func FuzzBin(f *testing.F) {
	param, err := os.ReadFile("testdata/tiny_srvgg.param")
	if err != nil {
		f.Fatal(err)
	}
	bin, err := os.ReadFile("testdata/tiny_srvgg.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bin)
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseParam(strings.NewReader(string(param)))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.LoadBin(b); err != nil {
			return
		}
		for _, l := range n.Layers {
			if size, _ := l.Int(6, 0); l.Type == "Convolution" && len(l.Weight) != size {
				t.Fatalf("%s: %d weights, want %d", l.Name, len(l.Weight), size)
			}
		}
	})
}
