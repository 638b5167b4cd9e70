package api_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"imageenhancer/api"
	"imageenhancer/auth"
	"imageenhancer/enhance"
	"imageenhancer/store"
	"imageenhancer/store/sqlite"
	"imageenhancer/video"
)

// skimageData holds the real photos of Debian's python3-skimage.
const skimageData = "/usr/lib/python3/dist-packages/skimage/data"

// testModel is the model the tests enhance with: small and fast on a CPU.
const testModel = "general_v3"

// testEnv is a real server (real SQLite store, real pipeline on the CPU)
// behind httptest, and what the tests need to look inside it.
type testEnv struct {
	t       *testing.T
	srv     *httptest.Server
	dataDir string
	secret  []byte
	enh     *enhance.Enhancer
	st      store.Store
}

type envOptions struct {
	maxBodyBytes int64
	enginesDir   string // "" = enginesDir()
	queueLength  int    // enhance.Config.QueueLength; 0 = 8
	// runtime, when set, wraps the CPU runtime the pipeline runs on.
	runtime func(enhance.Runtime) enhance.Runtime
}

// enginesDir is ENGINES_DIR, or the repository's engines folder.
func enginesDir() string {
	if d := os.Getenv("ENGINES_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "engines")
}

// requireModel fails the test when a model's weights are not installed:
// real weights are part of the test, never skipped.
func requireModel(t *testing.T, enh *enhance.Enhancer, id string) {
	t.Helper()
	for _, m := range enh.Models() {
		if m.ID == id {
			if !m.Installed {
				t.Fatalf("model %s is not installed in %s (needs %s): run `go run . models fetch` at the repository root (or `make models`)", id, enginesDir(), m.WeightsFile)
			}
			return
		}
	}
	t.Fatalf("model %s is not in the catalogue", id)
}

// installed reports whether a model's weights are in the engines folder.
func installed(enh *enhance.Enhancer, id string) bool {
	for _, m := range enh.Models() {
		if m.ID == id {
			return m.Installed
		}
	}
	return false
}

func newEnv(t *testing.T, opt envOptions) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "image-enhancer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	secret := []byte("test-secret-of-at-least-32-bytes!!")
	au, err := auth.New(auth.Config{Secret: secret, BcryptCost: 4}, st)
	if err != nil {
		t.Fatal(err)
	}
	engines := opt.enginesDir
	if engines == "" {
		engines = enginesDir()
	}
	rt := testRuntime(t)
	if opt.runtime != nil {
		rt = opt.runtime(rt)
	}
	enh, err := enhance.New(enhance.Config{
		EnginesDir:      engines,
		Runtime:         rt,
		DefaultScale:    4,
		TilePad:         10,
		MaxInputPixels:  25_000_000,
		MaxOutputPixels: 100_000_000,
		Concurrency:     1,
		QueueLength:     cmp.Or(opt.queueLength, 8),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enh.Close() })
	requireModel(t, enh, testModel)
	dataDir := filepath.Join(dir, "data")
	videos, err := video.NewManager(video.Config{DataDir: dataDir, Workers: 1, MaxInputBytes: 50 << 20, DefaultScale: 4}, st, enh)
	if err != nil {
		t.Fatal(err)
	}
	if err := videos.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { videos.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	h := api.New(api.Config{
		DataDir:      dataDir,
		MaxBodyBytes: opt.maxBodyBytes,
		SwaggerUIDir: filepath.Join("..", "third_party", "node_modules", "swagger-ui-dist"),
		Database:     "sqlite",
		Version:      "test",
	}, log, st, au, enh, videos)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, dataDir: dataDir, secret: secret, enh: enh, st: st}
}

// response is a decoded JSON answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request with a JSON body (a string is sent as is) and decodes
// the JSON answer.
func (e *testEnv) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v: %.200s", req.Method, req.URL.Path, err, raw)
		}
	}
	return r
}

// want fails unless the answer has status, and for errors unless its
// {"error"} message contains every fragment.
func (r response) want(t *testing.T, status int, fragments ...string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.300s", r.status, status, r.raw)
	}
	if status >= 400 {
		msg, ok := r.body["error"].(string)
		if !ok || len(r.body) != 1 {
			t.Fatalf("error body %.300s, want exactly {\"error\": \"...\"}", r.raw)
		}
		for _, f := range fragments {
			if !strings.Contains(msg, f) {
				t.Errorf("error %q does not contain %q", msg, f)
			}
		}
	}
	return r
}

// obj is a nested object of a JSON answer.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T, want an object: %v", key, m[key], m)
	}
	return o
}

// str is a string field.
func str(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%q is %T (%v), want a string", key, m[key], m[key])
	}
	return s
}

// num is a number field as an int.
func num(t *testing.T, m map[string]any, key string) int {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q is %T (%v), want a number", key, m[key], m[key])
	}
	return int(f)
}

// photoCrop is a size×size crop of one of skimage's real photos, centred
// at (cx, cy).
func photoCrop(t *testing.T, name string, cx, cy, size int) *image.RGBA {
	t.Helper()
	f, err := os.Open(filepath.Join(skimageData, name))
	if err != nil {
		t.Fatalf("real test photo missing: %v (install Debian's python3-skimage)", err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(dst, dst.Bounds(), src, image.Pt(cx-size/2, cy-size/2), draw.Src)
	return dst
}

func encodePNG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decodePNGBase64 decodes a base64 PNG and returns its size.
func decodePNGBase64(t *testing.T, s string) image.Image {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("enhanced_base64: %v", err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("enhanced_base64 is not a PNG: %v", err)
	}
	return m
}

// user registers and logs in a user, returning its access and refresh
// tokens.
func (e *testEnv) user(name string) (access, refresh string) {
	e.t.Helper()
	email := name + "@ejemplo.com"
	e.do("POST", "/api/auth/register", "", map[string]string{"username": name, "email": email, "password": "mipassword123"}).want(e.t, 201)
	r := e.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": "mipassword123"}).want(e.t, 200)
	tok := obj(e.t, r.body, "tokens")
	return str(e.t, tok, "access_token"), str(e.t, tok, "refresh_token")
}

// timestampLayout matches the manual's timestamps ("2024-12-03T10:30:00").
func checkTimestamp(t *testing.T, m map[string]any, key string) {
	t.Helper()
	s := str(t, m, key)
	ts, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		t.Errorf("%s = %q, want the manual's layout 2006-01-02T15:04:05", key, s)
		return
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Hour {
		t.Errorf("%s = %q is not about now (UTC)", key, s)
	}
}
