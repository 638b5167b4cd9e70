package api_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testClip is a real clip from Debian's kphotoalbum (MJPEG 160×120, 68
// frames, PCM audio), unpacked by `make media` into $IE_TESTMEDIA.
func testClip(t *testing.T) []byte {
	t.Helper()
	dir := os.Getenv("IE_TESTMEDIA")
	if dir == "" {
		dir = filepath.Join("..", ".testmedia")
	}
	b, err := os.ReadFile(filepath.Join(dir, "usr/share/kphotoalbum/demo/movie.avi"))
	if err != nil {
		t.Fatalf("test clip missing (run `make media`): %v", err)
	}
	return b
}

// matroskaMagic starts every MKV (the EBML header).
var matroskaMagic = []byte{0x1a, 0x45, 0xdf, 0xa3}

// TestVideoFlow submits a real clip through the API and follows the job
// to its MKV, as the manual's video example does.
func TestVideoFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	requireModel(t, e.enh, "anime_video")
	access, _ := e.user("miusuario")
	otherAccess, _ := e.user("otro")
	clip := base64.StdEncoding.EncodeToString(testClip(t))

	// Refused at submission.
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip}).want(t, 400, "filename")
	e.do("POST", "/api/videos/enhance", access, map[string]any{"filename": "a.mp4"}).want(t, 400, "video_base64")
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": "%%%", "filename": "a.mp4"}).want(t, 400, "Datos de video inválidos: video_base64: no es base64 válido")
	notVideo := base64.StdEncoding.EncodeToString(encodePNG(t, photoCrop(t, "astronaut.png", 100, 100, 16)))
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": notVideo, "filename": "a.mp4"}).want(t, 400, "Datos de video inválidos: video_base64: no es un video legible")
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "clip"}).want(t, 400, "filename: se requiere un nombre con su extensión")
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "a.txt"}).want(t, 400, `filename: ".txt" no es una extensión de video`)
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "a.avi", "model_type": "nope"}).want(t, 400, `model_type: modelo desconocido "nope"`)
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "a.avi", "scale": 7}).want(t, 400, "scale")
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "a.avi", "face_enhance": true}).want(t, 400, "face")

	r := e.do("POST", "/api/videos/enhance", access, map[string]any{
		"video_base64": clip, "filename": "mi_video.avi", "model_type": "anime_video", "scale": 2, "face_enhance": false,
	}).want(t, 202)
	if str(t, r.body, "message") != "Video recibido, procesamiento iniciado. Consulte el estado con GET /api/videos/{id}" {
		t.Errorf("message %v", r.body["message"])
	}
	v := obj(t, r.body, "video")
	id := str(t, v, "id")
	if !idPattern.MatchString(id) || str(t, v, "original_filename") != "mi_video.avi" || str(t, v, "status") != "pending" ||
		num(t, v, "frame_count") != 68 || num(t, v, "original_width") != 160 || num(t, v, "original_height") != 120 ||
		num(t, v, "frames_processed") != 0 || v["fps"].(float64) <= 0 || v["duration_seconds"].(float64) <= 0 {
		t.Errorf("accepted video %v", v)
	}
	e.do("GET", "/api/videos/"+id, otherAccess, nil).want(t, 404)

	// Poll as the manual's example does, faster.
	deadline := time.Now().Add(15 * time.Minute)
	for {
		r = e.do("GET", "/api/videos/"+id, access, nil).want(t, 200)
		v = obj(t, r.body, "video")
		status := str(t, v, "status")
		if status == "completed" {
			break
		}
		if status == "error" {
			t.Fatalf("job failed: %v", v["error_message"])
		}
		if p := num(t, v, "frames_processed"); p < 0 || p > 68 {
			t.Errorf("frames_processed %d", p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done in time: %v", v)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if num(t, v, "frames_processed") != 68 || num(t, v, "enhanced_width") != 320 || num(t, v, "enhanced_height") != 240 {
		t.Errorf("completed video %v", v)
	}
	checkTimestamp(t, v, "completed_at")
	mkv, err := base64.StdEncoding.DecodeString(str(t, v, "enhanced_base64"))
	if err != nil || !bytes.HasPrefix(mkv, matroskaMagic) {
		t.Fatalf("enhanced_base64 is not an MKV (%v)", err)
	}
	if str(t, v, "original_base64") != clip {
		t.Error("original_base64 is not the upload")
	}

	req, _ := http.NewRequest("GET", e.srv.URL+"/api/videos/"+id+"/download", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(dl, mkv) {
		t.Errorf("download: %d, %d bytes, want the %d of enhanced_base64", resp.StatusCode, len(dl), len(mkv))
	}

	r = e.do("GET", "/api/videos?status=completed", access, nil).want(t, 200)
	if num(t, r.body, "total") != 1 {
		t.Errorf("list %v", r.body)
	}
	e.do("DELETE", "/api/videos/"+id, otherAccess, nil).want(t, 404)
	e.do("DELETE", "/api/videos/"+id, access, nil).want(t, 200)
	if _, err := os.Stat(filepath.Join(e.dataDir, "videos", id)); !os.IsNotExist(err) {
		t.Errorf("video files left after delete: %v", err)
	}
	e.do("GET", "/api/videos/"+id, access, nil).want(t, 404)
}
