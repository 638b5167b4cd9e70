package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	dotenv := filepath.Join(dir, ".env")
	// The manual's .env, trailing comments and empty values included.
	manualEnv := `# MongoDB Configuration
MONGO_HOST=192.168.86.10
MONGO_PORT=27017
MONGO_DB=image_enhancer
MONGO_USER=
MONGO_PASSWORD=

API_HOST=0.0.0.0
API_PORT=8888
API_DEBUG=false
JWT_SECRET_KEY=your-super-secret-jwt-key-change-in-production
JWT_ACCESS_TOKEN_EXPIRE_MINUTES=30
JWT_REFRESH_TOKEN_EXPIRE_DAYS=7
USE_GPU=TRUE          # TRUE para GPU NVIDIA, FALSE para CPU
DEFAULT_SCALE=4
TILE_SIZE=512         # Reducir si hay problemas de memoria GPU
TILE_PAD=10
export NETWORK_NAME="ImagesNet"
`
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, c := range []struct {
		name   string
		file   string
		env    map[string]string
		check  func(t *testing.T, c *config)
		errors string
	}{
		{name: "defaults", check: func(t *testing.T, c *config) {
			if c.Addr != "0.0.0.0:8888" || c.MongoURI != "" || c.DataDir != "./data" || c.EnginesDir != "./engines" ||
				c.AccessTTL != 30*time.Minute || c.RefreshTTL != 7*24*time.Hour || c.BcryptCost != 12 ||
				!c.UseGPU || c.DefaultScale != 4 || c.JWTSecret != "" || c.Video.X264Preset != "veryfast" {
				t.Errorf("%+v", c)
			}
			if c.MaxBodyBytes < 20_000_000*4/3+1000 {
				t.Errorf("MAX_BODY_BYTES %d does not fit a 20 MB image in base64", c.MaxBodyBytes)
			}
			if c.Video.MaxBodyBytes() < c.Video.MaxBytes*4/3 {
				t.Errorf("video body limit %d does not fit %d bytes in base64", c.Video.MaxBodyBytes(), c.Video.MaxBytes)
			}
		}},
		{name: "manual .env", file: manualEnv, check: func(t *testing.T, c *config) {
			if c.MongoURI != "mongodb://192.168.86.10:27017/" || c.MongoDB != "image_enhancer" || !c.UseGPU || c.TileSize != 512 ||
				c.JWTSecret != "your-super-secret-jwt-key-change-in-production" {
				t.Errorf("%+v", c)
			}
		}},
		{name: "environment wins", file: manualEnv, env: map[string]string{"USE_GPU": "FALSE", "API_PORT": "9000", "MONGODB_URI": "mongodb://db:27017/?replicaSet=rs0"},
			check: func(t *testing.T, c *config) {
				if c.UseGPU || c.Addr != "0.0.0.0:9000" || c.MongoURI != "mongodb://db:27017/?replicaSet=rs0" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "mongo credentials", env: map[string]string{"MONGO_HOST": "mongodb", "MONGO_USER": "admin", "MONGO_PASSWORD": "p@ss:w/rd"},
			check: func(t *testing.T, c *config) {
				if c.MongoURI != "mongodb://admin:p%40ss%3Aw%2Frd@mongodb:27017/" {
					t.Errorf("MongoURI %q", c.MongoURI)
				}
			}},
		{name: "quoted values", file: "JWT_SECRET_KEY=\"a # not a comment\"\nDATA_DIR='/srv/data'\n", check: func(t *testing.T, c *config) {
			if c.JWTSecret != "a # not a comment" || c.DataDir != "/srv/data" {
				t.Errorf("%q %q", c.JWTSecret, c.DataDir)
			}
		}},
		{name: "x264 preset", env: map[string]string{"VIDEO_X264_PRESET": "ultrafast"}, check: func(t *testing.T, c *config) {
			if c.Video.X264Preset != "ultrafast" {
				t.Errorf("X264Preset %q", c.Video.X264Preset)
			}
		}},
		{name: "bad integer", env: map[string]string{"API_PORT": "ochenta"}, errors: "API_PORT"},
		{name: "bad bool", env: map[string]string{"USE_GPU": "quizá"}, errors: "USE_GPU"},
		{name: "bad scale", env: map[string]string{"DEFAULT_SCALE": "8"}, errors: "DEFAULT_SCALE"},
		{name: "no output limit", env: map[string]string{"MAX_OUTPUT_PIXELS": "0"}, errors: "MAX_OUTPUT_PIXELS"},
		{name: "no input limit", env: map[string]string{"MAX_INPUT_PIXELS": "-1"}, errors: "MAX_INPUT_PIXELS"},
		{name: "bad x264 preset", env: map[string]string{"VIDEO_X264_PRESET": "turbo"}, errors: "VIDEO_X264_PRESET"},
		{name: "bad line", file: "NO ES UNA LINEA\n", errors: ".env:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := dotenv + "-missing"
			if c.file != "" {
				path = filepath.Join(t.TempDir(), ".env")
				os.WriteFile(path, []byte(c.file), 0o644)
			}
			cfg, err := loadConfig(env(c.env), path)
			if c.errors != "" {
				if err == nil || !strings.Contains(err.Error(), c.errors) {
					t.Fatalf("err %v, want one naming %s", err, c.errors)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestJWTSecret(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := &config{DataDir: filepath.Join(t.TempDir(), "data")}
	s1, err := jwtSecret(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != 32 {
		t.Errorf("generated secret of %d bytes, want 32", len(s1))
	}
	fi, err := os.Stat(filepath.Join(c.DataDir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("jwt-secret mode %v, want 0600", fi.Mode().Perm())
	}
	s2, err := jwtSecret(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Error("the kept secret was not reused")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	c.JWTSecret = "from-env"
	if s, _ := jwtSecret(c, log); string(s) != "from-env" {
		t.Errorf("JWT_SECRET_KEY not used: %q", s)
	}
}
