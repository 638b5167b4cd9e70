package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"imageenhancer/video"
)

// config is the service's configuration, read from the environment and a
// .env file (the environment wins). Names are the user manual's where it has
// them.
type config struct {
	Addr  string // API_HOST:API_PORT
	Debug bool   // API_DEBUG: debug-level logs

	DataDir      string // DATA_DIR: stored files, the SQLite database, the generated JWT secret
	EnginesDir   string // ENGINES_DIR: model weights
	SwaggerUIDir string // SWAGGER_UI_DIR: where npm installed swagger-ui-dist

	// MongoURI selects MongoDB (MONGODB_URI, or built from MONGO_HOST,
	// MONGO_PORT, MONGO_USER, MONGO_PASSWORD); "" selects embedded SQLite.
	MongoURI string
	MongoDB  string // MONGO_DB

	JWTSecret  string        // JWT_SECRET_KEY; "" → generated and kept in DataDir
	AccessTTL  time.Duration // JWT_ACCESS_TOKEN_EXPIRE_MINUTES
	RefreshTTL time.Duration // JWT_REFRESH_TOKEN_EXPIRE_DAYS
	BcryptCost int           // BCRYPT_COST

	UseGPU               bool  // USE_GPU
	GPUDevices           []int // GPU_DEVICES: "0,1"; nil (unset or "all") is every GPU
	CPUBF16              bool  // CPU_BF16: bf16 convolutions on the CPU (AMX), ≥ 52 dB from fp32
	DefaultScale         int   // DEFAULT_SCALE
	TileSize             int   // TILE_SIZE (0 = whole image)
	TilePad              int   // TILE_PAD
	MaxInputPixels       int64 // MAX_INPUT_PIXELS
	MaxOutputPixels      int64 // MAX_OUTPUT_PIXELS
	InferenceConcurrency int   // INFERENCE_CONCURRENCY
	InferenceQueue       int   // INFERENCE_QUEUE

	MaxBodyBytes int64 // MAX_BODY_BYTES: every request but video uploads
	CORSOrigin   string

	Video videoConfig

	ReadTimeout     time.Duration // HTTP_READ_TIMEOUT
	WriteTimeout    time.Duration // HTTP_WRITE_TIMEOUT: a synchronous enhancement on the CPU is slow
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
}

// videoConfig are the limits and workers of video jobs.
type videoConfig struct {
	MaxBytes           int64   // VIDEO_MAX_BYTES: the decoded upload
	MaxDurationSeconds float64 // VIDEO_MAX_DURATION_SECONDS
	MaxFrames          int     // VIDEO_MAX_FRAMES
	MaxOutputPixels    int64   // VIDEO_MAX_OUTPUT_PIXELS: per frame
	Workers            int     // VIDEO_WORKERS: jobs run at once
	Encoder            string  // VIDEO_ENCODER: libx264 or h264_nvenc
	X264Preset         string  // VIDEO_X264_PRESET: libx264's speed/size trade-off, one of video.X264Presets()
}

// MaxBodyBytes is the request body that carries a MaxBytes video in base64
// with its JSON.
func (v videoConfig) MaxBodyBytes() int64 { return v.MaxBytes/3*4 + 4 + 1<<20 }

// defaults, where the manual gives them (API_PORT, JWT lifetimes,
// DEFAULT_SCALE, TILE_PAD, MONGO_DB) or where the issue does (BCRYPT_COST).
// TILE_SIZE is 0, not the manual's 512: the pipeline tiles by memory on its
// own and 512 is the manual's advice for small GPUs, kept settable.
var defaults = map[string]string{
	"API_HOST":                        "0.0.0.0",
	"API_PORT":                        "8888",
	"API_DEBUG":                       "false",
	"DATA_DIR":                        "./data",
	"ENGINES_DIR":                     "./engines",
	"SWAGGER_UI_DIR":                  "third_party/node_modules/swagger-ui-dist",
	"MONGO_PORT":                      "27017",
	"MONGO_DB":                        "image_enhancer",
	"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": "30",
	"JWT_REFRESH_TOKEN_EXPIRE_DAYS":   "7",
	"BCRYPT_COST":                     "12",
	"USE_GPU":                         "TRUE",
	"CPU_BF16":                        "false",
	"DEFAULT_SCALE":                   "4",
	"TILE_SIZE":                       "0",
	"TILE_PAD":                        "10",
	"MAX_INPUT_PIXELS":                "25000000",  // a 6000×4000 photo
	"MAX_OUTPUT_PIXELS":               "100000000", // 10000×10000: 400 MB of RGBA
	"INFERENCE_CONCURRENCY":           "1",
	"INFERENCE_QUEUE":                 "8",
	"MAX_BODY_BYTES":                  "29360128", // 28 MiB: a 20 MB image in base64 (26.7 MB) and its JSON
	"CORS_ALLOW_ORIGIN":               "*",
	"VIDEO_MAX_BYTES":                 "209715200", // 200 MiB
	"VIDEO_MAX_DURATION_SECONDS":      "600",
	"VIDEO_MAX_FRAMES":                "36000",
	"VIDEO_MAX_OUTPUT_PIXELS":         "8294400", // 3840×2160
	"VIDEO_WORKERS":                   "1",
	"VIDEO_ENCODER":                   "libx264",
	"VIDEO_X264_PRESET":               video.DefaultX264Preset,
	"HTTP_READ_TIMEOUT":               "5m",
	"HTTP_WRITE_TIMEOUT":              "30m",
	"SHUTDOWN_TIMEOUT":                "30s",
}

// loadConfig reads the configuration: getenv first, then the .env file at
// dotenv (a missing file is fine), then the defaults.
func loadConfig(getenv func(string) string, dotenv string) (*config, error) {
	file, err := readDotEnv(dotenv)
	if err != nil {
		return nil, err
	}
	p := &envParser{get: func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		if v := file[k]; v != "" {
			return v
		}
		return defaults[k]
	}}
	c := &config{
		Addr:         net.JoinHostPort(p.str("API_HOST"), strconv.Itoa(p.int("API_PORT"))),
		Debug:        p.bool("API_DEBUG"),
		DataDir:      p.str("DATA_DIR"),
		EnginesDir:   p.str("ENGINES_DIR"),
		SwaggerUIDir: p.str("SWAGGER_UI_DIR"),
		MongoDB:      p.str("MONGO_DB"),
		JWTSecret:    p.str("JWT_SECRET_KEY"),
		AccessTTL:    time.Duration(p.int("JWT_ACCESS_TOKEN_EXPIRE_MINUTES")) * time.Minute,
		RefreshTTL:   time.Duration(p.int("JWT_REFRESH_TOKEN_EXPIRE_DAYS")) * 24 * time.Hour,
		BcryptCost:   p.int("BCRYPT_COST"),

		UseGPU:               p.bool("USE_GPU"),
		GPUDevices:           p.devices("GPU_DEVICES"),
		CPUBF16:              p.bool("CPU_BF16"),
		DefaultScale:         p.int("DEFAULT_SCALE"),
		TileSize:             p.int("TILE_SIZE"),
		TilePad:              p.int("TILE_PAD"),
		MaxInputPixels:       p.int64("MAX_INPUT_PIXELS"),
		MaxOutputPixels:      p.int64("MAX_OUTPUT_PIXELS"),
		InferenceConcurrency: p.int("INFERENCE_CONCURRENCY"),
		InferenceQueue:       p.int("INFERENCE_QUEUE"),
		MaxBodyBytes:         p.int64("MAX_BODY_BYTES"),
		CORSOrigin:           p.str("CORS_ALLOW_ORIGIN"),

		Video: videoConfig{
			MaxBytes:           p.int64("VIDEO_MAX_BYTES"),
			MaxDurationSeconds: p.float("VIDEO_MAX_DURATION_SECONDS"),
			MaxFrames:          p.int("VIDEO_MAX_FRAMES"),
			MaxOutputPixels:    p.int64("VIDEO_MAX_OUTPUT_PIXELS"),
			Workers:            p.int("VIDEO_WORKERS"),
			Encoder:            p.str("VIDEO_ENCODER"),
			X264Preset:         p.str("VIDEO_X264_PRESET"),
		},

		ReadTimeout:     p.duration("HTTP_READ_TIMEOUT"),
		WriteTimeout:    p.duration("HTTP_WRITE_TIMEOUT"),
		ShutdownTimeout: p.duration("SHUTDOWN_TIMEOUT"),
	}
	c.MongoURI = p.str("MONGODB_URI")
	if c.MongoURI == "" && p.str("MONGO_HOST") != "" {
		u := &url.URL{Scheme: "mongodb", Host: net.JoinHostPort(p.str("MONGO_HOST"), strconv.Itoa(p.int("MONGO_PORT"))), Path: "/"}
		if user := p.str("MONGO_USER"); user != "" {
			u.User = url.UserPassword(user, p.str("MONGO_PASSWORD"))
		}
		c.MongoURI = u.String()
	}
	if p.err != nil {
		return nil, p.err
	}
	if err := video.CheckX264Preset(c.Video.X264Preset); err != nil {
		return nil, fmt.Errorf("config: VIDEO_X264_PRESET: %w", err)
	}
	for _, chk := range []struct {
		ok   bool
		name string
	}{
		{c.AccessTTL > 0, "JWT_ACCESS_TOKEN_EXPIRE_MINUTES must be > 0"},
		{c.RefreshTTL > 0, "JWT_REFRESH_TOKEN_EXPIRE_DAYS must be > 0"},
		{c.BcryptCost >= 4 && c.BcryptCost <= 31, "BCRYPT_COST must be within 4–31"},
		{c.DefaultScale >= 1 && c.DefaultScale <= 4, "DEFAULT_SCALE must be within 1–4"},
		{c.TileSize >= 0 && c.TilePad >= 0, "TILE_SIZE and TILE_PAD must be ≥ 0"},
		{c.MaxBodyBytes > 0, "MAX_BODY_BYTES must be > 0"},
		// Without these the pixel counts of a request are unbounded, and an
		// output_width of 2^32 is an allocation that kills the process.
		{c.MaxInputPixels > 0 && c.MaxOutputPixels > 0, "MAX_INPUT_PIXELS and MAX_OUTPUT_PIXELS must be > 0"},
		{c.InferenceConcurrency >= 1 && c.InferenceQueue >= 0, "INFERENCE_CONCURRENCY must be ≥ 1 and INFERENCE_QUEUE ≥ 0"},
		{c.Video.Workers >= 1, "VIDEO_WORKERS must be ≥ 1"},
	} {
		if !chk.ok {
			return nil, errors.New("config: " + chk.name)
		}
	}
	return c, nil
}

// envParser converts values, keeping the first error.
type envParser struct {
	get func(string) string
	err error
}

func (p *envParser) str(k string) string { return p.get(k) }

func (p *envParser) fail(k, v, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("config: %s=%q is not %s", k, v, want)
	}
}

func (p *envParser) int(k string) int { return int(p.int64(k)) }

func (p *envParser) int64(k string) int64 {
	v := p.get(k)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(k, v, "an integer")
	}
	return n
}

func (p *envParser) float(k string) float64 {
	v := p.get(k)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(k, v, "a number")
	}
	return f
}

func (p *envParser) bool(k string) bool {
	v := p.get(k)
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	p.fail(k, v, "TRUE or FALSE")
	return false
}

// devices parses a list of GPU indices ("0,1", CUDA's numbering); "" and
// "all" are nil, every device.
func (p *envParser) devices(k string) []int {
	v := strings.TrimSpace(p.get(k))
	if v == "" || strings.EqualFold(v, "all") {
		return nil
	}
	var ds []int
	seen := map[int]bool{}
	for f := range strings.SplitSeq(v, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 0 || seen[d] {
			p.fail(k, v, `"all" or a list of distinct GPU numbers such as "0,1"`)
			return nil
		}
		seen[d] = true
		ds = append(ds, d)
	}
	return ds
}

func (p *envParser) duration(k string) time.Duration {
	v := p.get(k)
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(k, v, "a duration (e.g. 30s, 5m)")
	}
	return d
}

// readDotEnv parses a .env file of KEY=VALUE lines: blank lines and # comments
// skipped, an optional "export " prefix, values optionally quoted, and an
// unquoted value cut at " #" (the manual's `USE_GPU=TRUE   # comment`).
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
				v = v[1 : end+1]
			}
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		} else if i := strings.Index(v, "\t#"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		vars[k] = v
	}
	return vars, sc.Err()
}

// jwtSecret is JWT_SECRET_KEY, or 32 random bytes generated once and kept
// (hex, mode 0600) in DataDir/jwt-secret, so tokens survive restarts.
func jwtSecret(c *config, log *slog.Logger) ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("%s: not 32 bytes or more in hex; delete it to have a new one made", path)
		}
		return secret, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it first
		return jwtSecret(c, log)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log.Warn("JWT_SECRET_KEY is not set: generated a random one and kept it; set JWT_SECRET_KEY for production", "file", path)
	return secret, nil
}
