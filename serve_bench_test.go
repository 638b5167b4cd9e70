package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // IE_BENCH_IMAGE
	"image/png"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"imageenhancer/enhance"
)

// benchModel is RealESRGAN_x4plus in the catalogue.
const benchModel = "general_x4"

// benchPhoto is the photograph the latency benchmark crops (Debian's
// python3-skimage, as the other tests use); IE_BENCH_IMAGE names another.
const benchPhoto = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

// BenchmarkRESTLatency is the latency figure: POST
// /api/images/enhance of a 256² PNG in base64, answered with the 1024² PNG
// in base64, RealESRGAN_x4plus, through the service exactly as serve builds
// it (configuration from the environment, so USE_GPU, GPU_LIBRARY and
// ENGINES_DIR apply; embedded SQLite in a temporary DATA_DIR) over a
// loopback connection. After IE_BENCH_WARMUP requests (default 1: the
// first loads the model and, on the GPU, tunes or reads its plan), it sends
// IE_BENCH_REQUESTS (default 50) one after another and reports their p50,
// p99 and mean in ms, and from the responses' Server-Timing header the share
// of the server's stages: decode, queue, infer (network and stitching) and
// encode (resize, quantise, PNG); the rest of the request (JSON, base64,
// the files and the record) is what remains to 100%.
//
//	IE_BENCH_REQUESTS=3 go test -run '^$' -bench RESTLatency -benchtime 1x .
func BenchmarkRESTLatency(b *testing.B) {
	requests := envInt(b, "IE_BENCH_REQUESTS", 50)
	warmup := envInt(b, "IE_BENCH_WARMUP", 1)
	dataDir := b.TempDir()
	cfg, err := loadConfig(func(k string) string {
		switch k {
		case "DATA_DIR":
			return dataDir
		case "MONGODB_URI", "MONGO_HOST": // always the embedded SQLite
			return ""
		}
		return os.Getenv(k)
	}, filepath.Join(dataDir, "no.env"))
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range enhance.Catalogue() {
		if m.ID == benchModel && m.Installed(cfg.EnginesDir) == "" {
			b.Skipf("RealESRGAN_x4plus is not installed in %s (ENGINES_DIR): run `go run . models fetch`", cfg.EnginesDir)
		}
	}
	log := slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := newService(ctx, cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	srv := httptest.NewServer(svc.handler)
	defer srv.Close()
	c := &benchClient{b: b, url: srv.URL}

	user := map[string]string{"username": "bench", "email": "bench@example.com", "password": "bench-password"}
	c.post("/api/auth/register", user, http.StatusCreated)
	var login struct {
		Tokens struct {
			AccessToken string `json:"access_token"`
		} `json:"tokens"`
	}
	json.Unmarshal(c.post("/api/auth/login", map[string]string{"email": user["email"], "password": user["password"]}, http.StatusOK), &login)
	c.token = login.Tokens.AccessToken

	in, source := benchImage(b)
	body := map[string]any{"image_base64": base64.StdEncoding.EncodeToString(in), "model_type": benchModel, "scale": 4}
	for range warmup {
		c.enhance(body)
	}
	b.Logf("%s, runtime %s, %d requests after %d warm-up", source, svc.enh.RuntimeName(), requests, warmup)

	var lat []float64
	stages := map[string]float64{}
	for b.Loop() {
		lat = lat[:0]
		clear(stages)
		for range requests {
			ms, timing := c.enhance(body)
			lat = append(lat, ms)
			for k, v := range timing {
				stages[k] += v
			}
		}
	}
	slices.Sort(lat)
	var sum float64
	for _, v := range lat {
		sum += v
	}
	b.ReportMetric(percentile(lat, 50), "p50-ms")
	b.ReportMetric(percentile(lat, 99), "p99-ms")
	b.ReportMetric(sum/float64(len(lat)), "mean-ms")
	for _, k := range []string{"decode", "queue", "infer", "encode"} {
		b.ReportMetric(100*stages[k]/sum, k+"-%")
	}
}

// percentile is the p-th percentile of sorted values, by the nearest rank.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func envInt(b *testing.B, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a count", key, v)
	}
	return n
}

// benchImage is the 256² PNG the benchmark sends: a crop of the
// photograph around the astronaut's face, or when the photograph is not
// here a generated picture of smooth gradients (said in the log).
func benchImage(b *testing.B) ([]byte, string) {
	path := cmp.Or(os.Getenv("IE_BENCH_IMAGE"), benchPhoto)
	dst := image.NewRGBA(image.Rect(0, 0, 256, 256))
	source := ""
	if f, err := os.ReadFile(path); err == nil {
		src, _, err := image.Decode(bytes.NewReader(f))
		if err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		// The face in astronaut.png (512²) is near (176..304, 48..176).
		r := image.Rect(128, 0, 384, 256).Add(src.Bounds().Min).Intersect(src.Bounds())
		if r.Dx() < 256 || r.Dy() < 256 {
			r = src.Bounds()
		}
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, r, draw.Src, nil)
		source = fmt.Sprintf("256² from %s %v", path, r)
	} else {
		for y := range 256 {
			for x := range 256 {
				fx, fy := float64(x)/256, float64(y)/256
				dst.Set(x, y, color.RGBA{uint8(255 * fx), uint8(255 * fy),
					uint8(127.5 + 127.5*math.Sin(9*fx+5*fy*fy)), 255})
			}
		}
		source = fmt.Sprintf("generated 256² gradient (%v)", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), source
}

// benchClient sends JSON to the service and fails the benchmark on any
// status but the one expected.
type benchClient struct {
	b     *testing.B
	url   string
	token string
	hc    http.Client
}

// do posts body as JSON and returns the response, its body and how long it
// took in ms, the request's JSON encoding not counted.
func (c *benchClient) do(path string, body any, want int) (*http.Response, []byte, float64) {
	j, err := json.Marshal(body)
	if err != nil {
		c.b.Fatal(err)
	}
	req, err := http.NewRequest("POST", c.url+path, bytes.NewReader(j))
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.b.Fatal(err)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	if resp.StatusCode != want {
		c.b.Fatalf("POST %s: %d, want %d: %.300s", path, resp.StatusCode, want, out)
	}
	return resp, out, ms
}

func (c *benchClient) post(path string, body any, want int) []byte {
	_, out, _ := c.do(path, body, want)
	return out
}

// enhance sends one enhancement and returns its latency, from the request's
// first byte sent to the response's last received, and the response's
// Server-Timing stages, all in ms. It checks that the answer is a 1024² PNG
// in base64 after the clock has stopped.
func (c *benchClient) enhance(body any) (float64, map[string]float64) {
	resp, out, ms := c.do("/api/images/enhance", body, http.StatusCreated)
	var r struct {
		Image struct {
			EnhancedBase64 string `json:"enhanced_base64"`
		} `json:"image"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		c.b.Fatal(err)
	}
	png64 := r.Image.EnhancedBase64
	cfg, err := png.DecodeConfig(base64.NewDecoder(base64.StdEncoding, strings.NewReader(png64)))
	if err != nil || cfg.Width != 1024 || cfg.Height != 1024 {
		c.b.Fatalf("enhanced_base64: %dx%d %v, want a 1024² PNG", cfg.Width, cfg.Height, err)
	}
	stages := map[string]float64{}
	for _, m := range strings.Split(resp.Header.Get("Server-Timing"), ",") {
		name, dur, ok := strings.Cut(strings.TrimSpace(m), ";dur=")
		if v, err := strconv.ParseFloat(dur, 64); ok && err == nil {
			stages[name] = v
		}
	}
	return ms, stages
}
