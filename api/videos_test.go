package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"imageenhancer/store"
)

// TestVideoRecords covers the video endpoints that read the store: list
// with filters, get (files only once completed), the binary download with
// Range, delete (record and files), and another user's 404s. Submission
// runs the video package's jobs and is covered with them.
func TestVideoRecords(t *testing.T) {
	e := newEnv(t, envOptions{})
	access, _ := e.user("miusuario")
	r := e.do("GET", "/api/auth/me", access, nil).want(t, 200)
	userID := str(t, obj(t, r.body, "user"), "id")
	otherAccess, _ := e.user("otro")

	ctx := context.Background()
	done := time.Now().UTC()
	completed := &store.Video{
		UserID: userID, OriginalFilename: "mi_video.mp4",
		ModelType: "anime_video", Scale: 2, DurationSeconds: 5.5, FPS: 29.97, FrameCount: 165,
		OriginalWidth: 160, OriginalHeight: 120, EnhancedWidth: 320, EnhancedHeight: 240,
		Status: store.StatusCompleted, FramesProcessed: 165, ProcessingTimeMS: 1234,
		CreatedAt: done.Add(-time.Minute), CompletedAt: &done,
	}
	running := &store.Video{
		UserID: userID, OriginalFilename: "otro.avi", ModelType: "general_v3", Scale: 4, FrameCount: 100,
		Status: store.StatusInProgress, FramesProcessed: 40, CreatedAt: done,
	}
	for _, v := range []*store.Video{completed, running} {
		if err := e.st.CreateVideo(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	// The files where the video package keeps them.
	dir := filepath.Join(e.dataDir, "videos", completed.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	original, enhanced := []byte("original video bytes"), bytes.Repeat([]byte("mkv!"), 1000)
	origPath, enhPath := filepath.Join(dir, "original.mp4"), filepath.Join(dir, "enhanced.mkv")
	os.WriteFile(origPath, original, 0o644)
	os.WriteFile(enhPath, enhanced, 0o644)
	completed.OriginalPath, completed.EnhancedPath = origPath, enhPath
	if err := e.st.UpdateVideo(ctx, completed); err != nil {
		t.Fatal(err)
	}

	r = e.do("GET", "/api/videos?page=1&per_page=10", access, nil).want(t, 200)
	if num(t, r.body, "total") != 2 || len(r.body["videos"].([]any)) != 2 {
		t.Errorf("list %v", r.body)
	}
	for status, n := range map[string]int{"completed": 1, "in_progress": 1, "pending": 0, "error": 0} {
		r = e.do("GET", "/api/videos?status="+status, access, nil).want(t, 200)
		if num(t, r.body, "total") != n {
			t.Errorf("status=%s total %v, want %d", status, r.body["total"], n)
		}
	}
	e.do("GET", "/api/videos?status=failed", access, nil).want(t, 400, "status")

	// In progress: progress, no files.
	r = e.do("GET", "/api/videos/"+running.ID, access, nil).want(t, 200)
	v := obj(t, r.body, "video")
	if str(t, v, "status") != "in_progress" || num(t, v, "frames_processed") != 40 || num(t, v, "frame_count") != 100 ||
		v["original_base64"] != nil || v["enhanced_base64"] != nil {
		t.Errorf("in progress %v", v)
	}
	e.do("GET", "/api/videos/"+running.ID+"/download", access, nil).want(t, 409, "in_progress")

	// Completed: both files in base64, and the download.
	r = e.do("GET", "/api/videos/"+completed.ID, access, nil).want(t, 200)
	v = obj(t, r.body, "video")
	if str(t, v, "original_base64") != base64.StdEncoding.EncodeToString(original) ||
		str(t, v, "enhanced_base64") != base64.StdEncoding.EncodeToString(enhanced) ||
		num(t, v, "enhanced_width") != 320 || num(t, v, "processing_time_ms") != 1234 ||
		str(t, v, "download_url") != "/api/videos/"+completed.ID+"/download" {
		t.Errorf("completed %v", v)
	}
	checkTimestamp(t, v, "completed_at")
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/videos/"+completed.ID+"/download", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, enhanced) || resp.Header.Get("Content-Type") != "video/x-matroska" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=mi_video_enhanced.mkv` {
		t.Errorf("download: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	req.Header.Set("Range", "bytes=4-7")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(body) != "mkv!" {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}

	// Another user: 404 everywhere.
	for _, m := range []struct{ method, path string }{
		{"GET", "/api/videos/" + completed.ID}, {"GET", "/api/videos/" + completed.ID + "/download"}, {"DELETE", "/api/videos/" + completed.ID},
	} {
		e.do(m.method, m.path, otherAccess, nil).want(t, 404, "Video no encontrado")
	}

	// Delete: record and files.
	r = e.do("DELETE", "/api/videos/"+completed.ID, access, nil).want(t, 200)
	if str(t, r.body, "message") != "Video eliminado exitosamente" {
		t.Errorf("delete %v", r.body)
	}
	for _, p := range []string{origPath, enhPath, dir} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after delete (%v)", p, err)
		}
	}
	e.do("GET", "/api/videos/"+completed.ID, access, nil).want(t, 404)
}
