package api_test

import (
	"context"
	"encoding/base64"
	"image"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"imageenhancer/store"
)

// tinyPNG is an 8×8 black PNG in base64: enough for the checks that come
// before any inference.
func tinyPNG(t *testing.T) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(encodePNG(t, image.NewRGBA(image.Rect(0, 0, 8, 8))))
}

// Output sizes whose product wraps round int64 once crashed the server
// (out of memory) instead of being refused against MAX_OUTPUT_PIXELS.
func TestEnhanceHugeOutputSize(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("huge")
	img := tinyPNG(t)
	for name, body := range map[string]map[string]any{
		"both 2^32":       {"output_width": int64(1) << 32, "output_height": int64(1) << 32},
		"width max int64": {"output_width": int64(1<<63 - 1)},
		"height 2^40":     {"output_height": int64(1) << 40},
	} {
		t.Run(name, func(t *testing.T) {
			body["image_base64"] = img
			body["model_type"] = testModel
			e.do("POST", "/api/images/enhance", tok, body).want(t, 413, "output_width/output_height: demasiado grande: la salida de ", "píxeles supera el límite de")
		})
	}
}

// A page so large that (page-1)×per_page overflows is refused, for images
// and videos alike, rather than answered as page 1 or failing in the store.
func TestListPageBounds(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("pages")
	for _, list := range []string{"/api/images", "/api/videos"} {
		for _, q := range []string{"page=0", "page=-1", "page=abc", "page=9223372036854775807", "page=2147483648"} {
			e.do("GET", list+"?"+q, tok, nil).want(t, 400, "page")
		}
		for _, q := range []string{"per_page=0", "per_page=abc", "per_page=-5"} {
			e.do("GET", list+"?"+q, tok, nil).want(t, 400, "per_page")
		}
		e.do("GET", list+"?status=bogus", tok, nil).want(t, 400, "status")
		r := e.do("GET", list+"?page=2147483647&per_page=101", tok, nil).want(t, 200)
		if num(t, r.body, "per_page") != 100 || num(t, r.body, "page") != 2147483647 {
			t.Errorf("%s: page %v per_page %v, want 2147483647 and 100 (clamped)", list, r.body["page"], r.body["per_page"])
		}
	}
}

// A client's filename names the record, never a stored file: folders,
// control characters and dots are dropped, the original keeps the sniffed
// extension inside its own folder, and names past 255 bytes are refused,
// as are descriptions past 1000 characters.
func TestEnhanceFilenames(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("names")
	img := tinyPNG(t)
	for _, c := range []struct{ in, want string }{
		{"../../../etc/passwd", "passwd"},
		{`..\..\win.ini`, "win.ini"},
		{"a/b/fo\x00t\x1fo.png", "foto.png"},
		{"sin_extension", "sin_extension"},
		{"..", "image.png"},
		{"   ", "image.png"},
		{strings.Repeat("ñ", 125) + "a.png", strings.Repeat("ñ", 125) + "a.png"}, // 255 bytes: the limit
	} {
		r := e.do("POST", "/api/images/enhance", tok, map[string]any{"image_base64": img, "model_type": testModel, "filename": c.in}).want(t, 201)
		if got := str(t, obj(t, r.body, "image"), "original_filename"); got != c.want {
			t.Errorf("filename %q stored as %q, want %q", c.in, got, c.want)
		}
	}
	e.do("POST", "/api/images/enhance", tok, map[string]any{"image_base64": img, "model_type": testModel,
		"filename": strings.Repeat("a", 252) + ".png"}).want(t, 400, "filename", "255")
	e.do("POST", "/api/videos/enhance", tok, map[string]any{"video_base64": img,
		"filename": strings.Repeat("a", 252) + ".mp4"}).want(t, 400, "filename", "255")
	long := strings.Repeat("é", 1001)
	e.do("POST", "/api/images/enhance", tok, map[string]any{"image_base64": img, "model_type": testModel, "description": long}).want(t, 400, "description", "1000")
	e.do("POST", "/api/videos/enhance", tok, map[string]any{"video_base64": img, "filename": "a.mp4", "description": long}).want(t, 400, "description", "1000")
	e.do("POST", "/api/images/enhance", tok, map[string]any{"image_base64": img, "model_type": testModel, "description": long[2:]}).want(t, 201)
	for _, name := range []string{"clip/", "..", "\x00\x01"} {
		e.do("POST", "/api/videos/enhance", tok, map[string]any{"video_base64": img, "filename": name}).want(t, 400, "filename")
	}

	// Every stored file is an original.<ext> or enhanced.png in a folder of
	// its own under DATA_DIR/images.
	err := filepath.WalkDir(filepath.Dir(e.dataDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".db") || strings.Contains(p, ".db-") {
			return err
		}
		rel, _ := filepath.Rel(e.dataDir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 || parts[0] != "images" || (parts[2] != "original.png" && parts[2] != "enhanced.png") {
			t.Errorf("unexpected stored file %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A video's filename is cleaned as an image's: the record keeps the last
// element without control characters, and the original stays in the
// video's folder with its (lower-case) extension.
func TestVideoFilenameCleaned(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("vnames")
	clip := base64.StdEncoding.EncodeToString(testClip(t))
	r := e.do("POST", "/api/videos/enhance", tok, map[string]any{"video_base64": clip, "filename": "../../otro/mi\x07video.AVI"}).want(t, 202)
	v := obj(t, r.body, "video")
	if got := str(t, v, "original_filename"); got != "mivideo.AVI" {
		t.Errorf("original_filename %q, want mivideo.AVI", got)
	}
	id := str(t, v, "id")
	if _, err := os.Stat(filepath.Join(e.dataDir, "videos", id, "original.avi")); err != nil {
		t.Errorf("original not kept in its folder: %v", err)
	}
	e.do("DELETE", "/api/videos/"+id, tok, nil).want(t, 200)
	if _, err := os.Stat(filepath.Join(e.dataDir, "videos", id)); !os.IsNotExist(err) {
		t.Errorf("video folder left after delete: %v", err)
	}
}

// Files removed behind the server's back: a completed video still shows
// (files null), its download is a 404 rather than a 500, and it deletes.
func TestVideoFilesGone(t *testing.T) {
	e := newEnv(t, envOptions{})
	access, _ := e.user("gone")
	r := e.do("GET", "/api/auth/me", access, nil).want(t, 200)
	done := time.Now().UTC()
	dir := filepath.Join(e.dataDir, "videos", "ffffffffffffffffffffffff")
	v := &store.Video{
		UserID: str(t, obj(t, r.body, "user"), "id"), OriginalFilename: "mi_video.mp4",
		ModelType: "anime_video", Scale: 2, Status: store.StatusCompleted, CreatedAt: done, CompletedAt: &done,
		OriginalPath: filepath.Join(dir, "original.mp4"), EnhancedPath: filepath.Join(dir, "enhanced.mkv"),
	}
	if err := e.st.CreateVideo(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/api/videos/"+v.ID, access, nil).want(t, 200)
	if got := obj(t, r.body, "video"); got["original_base64"] != nil || got["enhanced_base64"] != nil {
		t.Errorf("files of a video without files: %v", got)
	}
	e.do("GET", "/api/videos/"+v.ID+"/download", access, nil).want(t, 404, "Archivo")
	e.do("DELETE", "/api/videos/"+v.ID, access, nil).want(t, 200)
	e.do("GET", "/api/videos/"+v.ID, access, nil).want(t, 404, "Video no encontrado")
}

// An image whose files are gone still shows and deletes; of concurrent
// deletes exactly one succeeds and the others are 404s.
func TestImageFilesGoneAndConcurrentDeletes(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("gone")
	r := e.do("POST", "/api/images/enhance", tok, map[string]any{"image_base64": tinyPNG(t), "model_type": testModel}).want(t, 201)
	id := str(t, obj(t, r.body, "image"), "id")
	if err := os.RemoveAll(filepath.Join(e.dataDir, "images")); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/api/images/"+id, tok, nil).want(t, 200)
	if im := obj(t, r.body, "image"); im["original_base64"] != nil || im["enhanced_base64"] != nil {
		t.Errorf("files of an image without files: %v", im)
	}
	const n = 5
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("DELETE", e.srv.URL+"/api/images/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[404] != n-1 {
		t.Errorf("concurrent deletes answered %v, want one 200 and %d 404s", count, n-1)
	}
}
