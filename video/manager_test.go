package video

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"imageenhancer/enhance"
	"imageenhancer/store"
	"imageenhancer/store/sqlite"
)

// resizeEnhancer is the enhancer's contract over resizer: the catalogue and
// Check of the real package, bilinear upscaling instead of a network, and
// an optional pause per batch so that a test can stop a job midway.
type resizeEnhancer struct {
	delay   time.Duration
	batches atomic.Int64
}

func (e *resizeEnhancer) Check(model string, scale int) error {
	if scale < 0 || scale > 4 {
		return errors.New("scale: invalid input")
	}
	for _, m := range enhance.Catalogue() {
		if m.ID == model {
			return nil
		}
	}
	return errors.New("model_type: unknown model")
}

func (e *resizeEnhancer) Models() []enhance.ModelInfo {
	var out []enhance.ModelInfo
	for _, m := range enhance.Catalogue() {
		out = append(out, enhance.ModelInfo{ID: m.ID, DefaultScale: m.NativeScale})
	}
	return out
}

// CheckFaces answers as the real package does without GFPGAN's weights.
func (e *resizeEnhancer) CheckFaces() error {
	return fmt.Errorf("face_enhance: %w: put GFPGANv1.4.pth in the engines directory", enhance.ErrFaceUnavailable)
}

func (e *resizeEnhancer) EnhanceFrames(ctx context.Context, model string, scale int, faces bool, frames []*image.RGBA) ([]*image.RGBA, error) {
	e.batches.Add(1)
	select {
	case <-time.After(e.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return resizer(scale)(ctx, frames)
}

func (e *resizeEnhancer) RuntimeName() string { return "cpu" }

type fixture struct {
	st   *sqlite.DB
	dir  string
	user string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	u := &store.User{Username: "ana", Email: "ana@example.com", HashedPassword: "x", IsActive: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, dir: filepath.Join(dir, "data"), user: u.ID}
}

func (f *fixture) manager(t *testing.T, cfg Config, enh enhancer) *Manager {
	t.Helper()
	cfg.DataDir = f.dir
	m, err := newManager(cfg, f.st, enh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// wait polls the record until cond holds.
func (f *fixture) wait(t *testing.T, id string, what string, cond func(*store.Video) bool) *store.Video {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		v, err := f.st.VideoByID(context.Background(), f.user, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; record: %+v", what, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func read(t *testing.T, name string) []byte {
	b, err := os.ReadFile(media(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitRefuses(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, Config{MaxInputBytes: 2 << 20, MaxDurationSeconds: 5, MaxFrames: 100, MaxOutputPixels: 1920 * 1080},
		&resizeEnhancer{})
	avi := read(t, "movie.avi") // 4.5 s, 68 frames, 160×120
	bad := badInputs(t)
	cases := []struct {
		name  string
		req   SubmitRequest
		kind  error
		field string
	}{
		{"no filename", SubmitRequest{Data: avi}, ErrInvalidInput, "filename: entrada inválida: se requiere un nombre con su extensión, p. ej. clip.mp4"},
		{"no extension", SubmitRequest{Data: avi, Filename: "movie"}, ErrInvalidInput, "filename: entrada inválida: se requiere un nombre con su extensión, p. ej. clip.mp4"},
		{"dot file", SubmitRequest{Data: avi, Filename: ".avi"}, ErrInvalidInput, "filename: entrada inválida: se requiere un nombre con su extensión, p. ej. clip.mp4"},
		{"not a video extension", SubmitRequest{Data: avi, Filename: "movie.txt"}, ErrInvalidInput, `filename: entrada inválida: ".txt" no es una extensión de video (`},
		{"empty", SubmitRequest{Filename: "a.mp4"}, ErrInvalidInput, "video_base64: entrada inválida: el video está vacío"},
		{"too many bytes", SubmitRequest{Data: make([]byte, 2<<20+1), Filename: "a.mp4"}, ErrTooLarge, "video_base64: demasiado grande: 2097153 bytes superan el límite de 2097152"},
		{"face", SubmitRequest{Data: avi[:1000], Filename: "a.avi", FaceEnhance: true}, enhance.ErrFaceUnavailable, "face_enhance"},
		{"unknown model", SubmitRequest{Data: avi[:1000], Filename: "a.avi", ModelType: "nope"}, nil, "model_type"},
		{"scale 5", SubmitRequest{Data: avi[:1000], Filename: "a.avi", ModelType: "anime_video", Scale: 5}, nil, "scale"},
		{"too long", SubmitRequest{Data: read(t, "3gp.3gp"), Filename: "a.3gp", ModelType: "anime_video", Scale: 1}, ErrInvalidInput, "video_base64: entrada inválida: el video dura "},
	}
	for name, p := range bad {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The extension must pass so that the contents are what is refused.
		fn := strings.TrimSuffix(name, filepath.Ext(name)) + ".mp4"
		want := "video_base64: entrada inválida: no es un video legible ("
		if len(b) == 0 {
			want = "video_base64: entrada inválida: el video está vacío"
		}
		cases = append(cases, struct {
			name  string
			req   SubmitRequest
			kind  error
			field string
		}{"bad " + name, SubmitRequest{Data: b, Filename: fn, ModelType: "anime_video", Scale: 2}, ErrInvalidInput, want})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := m.Submit(context.Background(), f.user, c.req)
			if err == nil {
				t.Fatalf("accepted: %+v", v)
			}
			if c.kind != nil && !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", err, c.kind)
			}
			if !strings.HasPrefix(err.Error(), c.field) {
				t.Errorf("error %q does not name %s", err, c.field)
			}
		})
	}

	// Clips over 2 MB meet the other limits on a manager of their own.
	big := f.manager(t, Config{MaxFrames: 100, MaxOutputPixels: 1920 * 1080}, &resizeEnhancer{})
	for _, c := range []struct {
		name, clip string
		scale      int
		field      string
	}{
		{"too many frames", "mp4.mp4", 1, "video_base64: entrada inválida: el video tiene "},
		{"too many pixels", "VID_20191220_170832.mp4", 2, "scale: entrada inválida: fotogramas de "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := big.Submit(context.Background(), f.user,
				SubmitRequest{Data: read(t, c.clip), Filename: "a.mp4", ModelType: "anime_video", Scale: c.scale})
			if !errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), c.field) {
				t.Errorf("got %v, want ErrInvalidInput starting %q", err, c.field)
			}
		})
	}

	// Nothing refused leaves a record or a file behind.
	if vs, _, _ := f.st.ListVideos(context.Background(), f.user, store.ListOptions{Page: 1, PerPage: 10}); len(vs) != 0 {
		t.Errorf("refused submissions left %d records", len(vs))
	}
	if left, _ := os.ReadDir(filepath.Join(f.dir, "videos", "incoming")); len(left) != 0 {
		t.Errorf("refused submissions left %d files", len(left))
	}
}

func TestJobCompletes(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, Config{}, &resizeEnhancer{})
	ctx := context.Background()
	src := media(t, "movie.avi")
	in, err := Probe(src)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Submit(ctx, f.user, SubmitRequest{Data: read(t, "movie.avi"), Filename: "My Movie.avi",
		Description: "kphotoalbum demo", ModelType: "anime_video", Scale: 2})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != store.StatusPending || v.FrameCount != 68 || v.OriginalWidth != 160 || v.OriginalHeight != 120 ||
		v.FPS < 14.9 || v.FPS > 15.1 || v.DurationSeconds < 4.5 || v.DurationSeconds > 4.6 || v.EnhancedWidth != 320 {
		t.Errorf("submitted record: %+v", v)
	}
	if filepath.Base(v.OriginalPath) != "original.avi" || v.OriginalFilename != "My Movie.avi" {
		t.Errorf("original kept as %s (%s)", v.OriginalPath, v.OriginalFilename)
	}
	if err := m.Start(ctx); err != nil { // a no-op here: the job is already queued
		t.Fatal(err)
	}
	done := f.wait(t, v.ID, "completion", func(v *store.Video) bool {
		return v.Status == store.StatusCompleted || v.Status == store.StatusError
	})
	if done.Status != store.StatusCompleted {
		t.Fatalf("job ended %s: %v", done.Status, *done.ErrorMessage)
	}
	if done.FramesProcessed != 68 || done.EnhancedWidth != 320 || done.EnhancedHeight != 240 ||
		done.CompletedAt == nil || done.ProcessingTimeMS <= 0 || filepath.Base(done.EnhancedPath) != "enhanced.mkv" {
		t.Errorf("completed record: %+v", done)
	}
	checkOutput(t, in, done.EnhancedPath, 2)

	// Delete removes the record and the files.
	if err := m.Delete(ctx, "ffffffffffffffffffffffff", v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's delete: %v", err)
	}
	if err := m.Delete(ctx, f.user, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(done.EnhancedPath)); !os.IsNotExist(err) {
		t.Errorf("files left after delete: %v", err)
	}
	if _, err := f.st.VideoByID(ctx, f.user, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record left after delete: %v", err)
	}
}

// A job stopped midway by Close (a process stop) completes after a new
// Manager on the same store and data directory starts.
func TestJobResumes(t *testing.T) {
	f := newFixture(t)
	slow := &resizeEnhancer{delay: 300 * time.Millisecond}
	m := f.manager(t, Config{Batch: 4}, slow)
	ctx := context.Background()
	v, err := m.Submit(ctx, f.user, SubmitRequest{Data: read(t, "webm.webm"), Filename: "clip.webm",
		ModelType: "anime_video", Scale: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, v.ID, "progress", func(v *store.Video) bool { return v.FramesProcessed > 0 })
	m.Close()
	m.Close() // twice is fine
	stopped, err := f.st.VideoByID(ctx, f.user, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != store.StatusInProgress || stopped.FramesProcessed >= stopped.FrameCount {
		t.Fatalf("after the stop: %s, %d of %d frames", stopped.Status, stopped.FramesProcessed, stopped.FrameCount)
	}

	m2 := f.manager(t, Config{}, &resizeEnhancer{})
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := f.wait(t, v.ID, "completion", func(v *store.Video) bool {
		return v.Status == store.StatusCompleted || v.Status == store.StatusError
	})
	if done.Status != store.StatusCompleted || done.FramesProcessed != done.FrameCount {
		t.Fatalf("after the restart: %+v", done)
	}
	in, err := Probe(media(t, "webm.webm"))
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, in, done.EnhancedPath, 1)
}

func TestJobCancel(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, Config{Batch: 4}, &resizeEnhancer{delay: 200 * time.Millisecond})
	ctx := context.Background()
	submit := func() *store.Video {
		v, err := m.Submit(ctx, f.user, SubmitRequest{Data: read(t, "webm.webm"), Filename: "clip.webm",
			ModelType: "anime_video", Scale: 1})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b, c := submit(), submit(), submit()
	f.wait(t, a.ID, "start", func(v *store.Video) bool { return v.Status == store.StatusInProgress })
	if !m.Cancel(b.ID) { // queued behind a
		t.Error("Cancel of a queued job returned false")
	}
	if err := m.Delete(ctx, f.user, c.ID); err != nil { // queued
		t.Fatal(err)
	}
	if !m.Cancel(a.ID) { // running
		t.Error("Cancel of a running job returned false")
	}
	for _, v := range []*store.Video{a, b} {
		end := f.wait(t, v.ID, "cancellation", func(v *store.Video) bool { return v.Status == store.StatusError })
		if end.ErrorMessage == nil || *end.ErrorMessage != "cancelled" {
			t.Errorf("error_message %v", end.ErrorMessage)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(end.OriginalPath), "enhanced.mkv.part")); !os.IsNotExist(err) {
			t.Errorf("partial output left: %v", err)
		}
	}
	if _, err := f.st.VideoByID(ctx, f.user, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted record: %v", err)
	}
	if m.Cancel(a.ID) {
		t.Error("Cancel of a finished job returned true")
	}
}
