package video

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"imageenhancer/enhance"
	"imageenhancer/store"
)

// Error kinds of Submit. They are the enhance package's own, so that one
// table in the API maps both packages' errors to status codes.
var (
	// ErrInvalidInput: a bad filename, an empty, damaged or non-video file,
	// a limit on duration, frames or output size exceeded. The message
	// names the field. (face_enhance that cannot be served is
	// enhance.ErrFaceUnavailable.)
	ErrInvalidInput = enhance.ErrInvalidInput
	// ErrTooLarge: the file is over MaxInputBytes.
	ErrTooLarge = enhance.ErrTooLarge
)

// Causes of a job's cancellation, recorded as its error_message.
var (
	errCancelled = errors.New("cancelled")
	errDeleted   = errors.New("deleted")
)

// progressInterval is how often, at most, frames_processed is written.
const progressInterval = time.Second

// Extensions accepted as videos. FFmpeg would open more (text as ANSI art,
// single pictures), so the name must say video as well as the contents.
var videoExts = []string{
	".3g2", ".3gp", ".asf", ".avi", ".divx", ".f4v", ".flv", ".m2ts", ".m4v", ".mkv", ".mov", ".mp4",
	".mpeg", ".mpg", ".mts", ".mxf", ".nut", ".ogg", ".ogv", ".qt", ".ts", ".vob", ".webm", ".wmv", ".y4m",
}

// Config configures a Manager. Zero limits mean no limit.
type Config struct {
	// DataDir holds videos/<id>/original<ext> and videos/<id>/enhanced.mkv.
	DataDir string
	// Workers is how many videos are processed at once (default 1); each
	// still waits for the enhancer's inference semaphore batch by batch.
	Workers            int
	MaxInputBytes      int64
	MaxDurationSeconds float64
	MaxFrames          int
	MaxOutputPixels    int64 // width × height of one output frame
	// Encoder is "libx264" (default) or "h264_nvenc".
	Encoder string
	// Preset is the libx264 preset, one of X264Presets ("" =
	// DefaultX264Preset); h264_nvenc ignores it.
	Preset string
	// DefaultScale is the enhancer's: the scale, 1–4, of requests that give
	// none, for models whose native scale is 4 (0 = the model's own).
	DefaultScale int
	// Batch is how many frames go to the enhancer at once (0 = DefaultBatch).
	Batch int
}

// SubmitRequest is a video to enhance, as POST /api/videos/enhance gives it.
type SubmitRequest struct {
	Data        []byte
	Filename    string // with its extension, which the original keeps
	Description string
	ModelType   string // "" = enhance.DefaultModel
	Scale       int    // 0 = the model's default
	FaceEnhance bool
}

// Manager accepts video jobs, keeps their files under DataDir and runs them
// on a bounded pool of workers. Job state lives in the store, so a new
// Manager's Start picks up what a stopped process left.
type Manager struct {
	cfg Config
	st  store.Store
	enh enhancer

	ctx  context.Context // cancelled by Close
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu        sync.Mutex
	wake      *sync.Cond
	closed    bool
	queue     []queued
	running   map[string]*job
	cancelled map[string]bool // queued jobs to drop or fail when their turn comes
}

// enhancer is what Manager uses of *enhance.Enhancer.
type enhancer interface {
	Check(model string, scale int) error
	CheckFaces() error
	Models() []enhance.ModelInfo
	EnhanceFrames(ctx context.Context, model string, scale int, faces bool, frames []*image.RGBA) ([]*image.RGBA, error)
	RuntimeName() string
}

var _ enhancer = (*enhance.Enhancer)(nil)

type queued struct{ userID, id string }

type job struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// NewManager starts cfg.Workers workers; call Start to resume older jobs.
func NewManager(cfg Config, st store.Store, enh *enhance.Enhancer) (*Manager, error) {
	if enh == nil {
		return nil, errors.New("video: NewManager needs an enhancer")
	}
	return newManager(cfg, st, enh)
}

func newManager(cfg Config, st store.Store, enh enhancer) (*Manager, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("video: Config.DataDir is empty")
	}
	if st == nil {
		return nil, errors.New("video: NewManager needs a store")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	switch cfg.Encoder {
	case "":
		cfg.Encoder = "libx264"
	case "libx264", "h264_nvenc":
	default:
		return nil, fmt.Errorf("video: unknown encoder %q (libx264 or h264_nvenc)", cfg.Encoder)
	}
	if err := CheckX264Preset(cfg.Preset); err != nil {
		return nil, err
	}
	// Uploads being checked live in incoming; any there now were left by a
	// stopped process before they were accepted.
	incoming := filepath.Join(cfg.DataDir, "videos", "incoming")
	if err := os.RemoveAll(incoming); err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	if err := os.MkdirAll(incoming, 0o755); err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	m := &Manager{cfg: cfg, st: st, enh: enh, running: map[string]*job{}, cancelled: map[string]bool{}}
	m.wake = sync.NewCond(&m.mu)
	m.ctx, m.stop = context.WithCancel(context.Background())
	for range cfg.Workers {
		m.wg.Add(1)
		go m.worker()
	}
	return m, nil
}

// Start queues the jobs a stopped process left pending or in progress,
// oldest first. Their originals are on disk; they start again from the
// first frame.
func (m *Manager) Start(ctx context.Context) error {
	vs, err := m.st.VideosByStatus(ctx, store.StatusPending, store.StatusInProgress)
	if err != nil {
		return fmt.Errorf("video: resume jobs: %w", err)
	}
	for _, v := range vs {
		m.enqueue(v.UserID, v.ID)
	}
	return nil
}

// Submit checks a video, keeps it and queues it. The returned record is
// pending and holds the probed metadata.
func (m *Manager) Submit(ctx context.Context, userID string, req SubmitRequest) (*store.Video, error) {
	if m.ctx.Err() != nil {
		return nil, errors.New("video: manager closed")
	}
	name := filepath.Base(strings.ReplaceAll(req.Filename, `\`, "/"))
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case req.Filename == "" || ext == "" || ext == name:
		return nil, fmt.Errorf("filename: %w: se requiere un nombre con su extensión, p. ej. clip.mp4", ErrInvalidInput)
	case !slices.Contains(videoExts, ext):
		return nil, fmt.Errorf("filename: %w: %q no es una extensión de video (%s)", ErrInvalidInput, ext, strings.Join(videoExts, " "))
	case len(req.Data) == 0:
		return nil, fmt.Errorf("video_base64: %w: el video está vacío", ErrInvalidInput)
	case m.cfg.MaxInputBytes > 0 && int64(len(req.Data)) > m.cfg.MaxInputBytes:
		return nil, fmt.Errorf("video_base64: %w: %d bytes superan el límite de %d", ErrTooLarge, len(req.Data), m.cfg.MaxInputBytes)
	}
	if req.FaceEnhance {
		// Refused now rather than failing the job later: the error names
		// the GFPGAN weights to install.
		if err := m.enh.CheckFaces(); err != nil {
			return nil, err
		}
	}
	model, scale, err := m.resolve(req.ModelType, req.Scale)
	if err != nil {
		return nil, err
	}

	tmp := filepath.Join(m.cfg.DataDir, "videos", "incoming", randomName()+ext)
	if err := os.WriteFile(tmp, req.Data, 0o644); err != nil {
		return nil, fmt.Errorf("video: keep upload: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	in, err := Probe(tmp)
	if errors.Is(err, ErrNoFFmpeg) { // not the upload's fault
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("video_base64: %w: no es un video legible (%v)", ErrInvalidInput, strings.TrimPrefix(err.Error(), "video: "))
	}
	if err := m.checkLimits(in, scale); err != nil {
		return nil, err
	}

	v := &store.Video{
		UserID:           userID,
		OriginalFilename: name,
		Description:      req.Description,
		ModelType:        model,
		Scale:            scale,
		FaceEnhance:      req.FaceEnhance,
		DurationSeconds:  in.Duration.Seconds(),
		FPS:              in.FPS,
		FrameCount:       in.FrameCount,
		OriginalWidth:    in.Width,
		OriginalHeight:   in.Height,
		EnhancedWidth:    in.Width * scale &^ 1, // H.264 4:2:0 keeps even sizes
		EnhancedHeight:   in.Height * scale &^ 1,
		Status:           store.StatusPending,
		CreatedAt:        time.Now().UTC(),
	}
	if err := m.st.CreateVideo(ctx, v); err != nil {
		return nil, fmt.Errorf("video: record: %w", err)
	}
	dir := m.dir(v.ID)
	v.OriginalPath = filepath.Join(dir, "original"+ext)
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.Rename(tmp, v.OriginalPath)
	}
	if err == nil {
		err = m.st.UpdateVideo(ctx, v)
	}
	if err != nil {
		os.RemoveAll(dir)
		m.st.DeleteVideo(context.WithoutCancel(ctx), userID, v.ID)
		return nil, fmt.Errorf("video: keep original: %w", err)
	}
	m.enqueue(userID, v.ID)
	return v, nil
}

// resolve applies the defaults to model and scale and asks the enhancer
// whether it can serve them.
func (m *Manager) resolve(model string, scale int) (string, int, error) {
	if model == "" {
		model = enhance.DefaultModel
	}
	if err := m.enh.Check(model, scale); err != nil {
		return "", 0, err
	}
	if scale == 0 {
		for _, info := range m.enh.Models() {
			if info.ID == model {
				scale = info.DefaultScale
				if d := m.cfg.DefaultScale; d >= 1 && d <= 4 && scale == 4 {
					scale = d
				}
			}
		}
	}
	if scale < 1 || scale > 4 {
		return "", 0, fmt.Errorf("scale: %w: debe estar entre 1 y 4 (recibido %d)", ErrInvalidInput, scale)
	}
	return model, scale, nil
}

func (m *Manager) checkLimits(in Info, scale int) error {
	c := m.cfg
	switch {
	case c.MaxDurationSeconds > 0 && in.Duration.Seconds() > c.MaxDurationSeconds:
		return fmt.Errorf("video_base64: %w: el video dura %.1f s, el límite es %g s", ErrInvalidInput, in.Duration.Seconds(), c.MaxDurationSeconds)
	case c.MaxFrames > 0 && in.FrameCount > c.MaxFrames:
		return fmt.Errorf("video_base64: %w: el video tiene %d fotogramas, el límite es %d", ErrInvalidInput, in.FrameCount, c.MaxFrames)
	case c.MaxOutputPixels > 0 && int64(in.Width*scale)*int64(in.Height*scale) > c.MaxOutputPixels:
		return fmt.Errorf("scale: %w: fotogramas de %d×%d a escala %d serían de %d×%d, por encima del límite de %d píxeles",
			ErrInvalidInput, in.Width, in.Height, scale, in.Width*scale, in.Height*scale, c.MaxOutputPixels)
	}
	return nil
}

// Cancel stops a running or queued job, which ends with status error and
// "cancelled". It reports whether the job was running or queued here.
func (m *Manager) Cancel(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if j := m.running[id]; j != nil {
		j.cancel(errCancelled)
		return true
	}
	for _, q := range m.queue {
		if q.id == id {
			m.cancelled[id] = true
			return true
		}
	}
	return false
}

// Delete cancels the job if it runs, then removes its files and record.
// Another user's video is store.ErrNotFound.
func (m *Manager) Delete(ctx context.Context, userID, id string) error {
	if _, err := m.st.VideoByID(ctx, userID, id); err != nil {
		return err
	}
	m.mu.Lock()
	m.queue = slices.DeleteFunc(m.queue, func(q queued) bool { return q.id == id })
	delete(m.cancelled, id) // its turn will not come
	var done chan struct{}
	if j := m.running[id]; j != nil {
		j.cancel(errDeleted)
		done = j.done
	}
	m.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := os.RemoveAll(m.dir(id)); err != nil {
		return fmt.Errorf("video: remove files: %w", err)
	}
	return m.st.DeleteVideo(ctx, userID, id)
}

// Close stops the workers and waits for them. Running jobs stay
// in_progress in the store, for the next Start. Safe to call twice.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.wake.Broadcast()
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
	return nil
}

func (m *Manager) dir(id string) string {
	return filepath.Join(m.cfg.DataDir, "videos", filepath.Base(id))
}

func (m *Manager) enqueue(userID, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[id] != nil || slices.ContainsFunc(m.queue, func(q queued) bool { return q.id == id }) {
		return
	}
	m.queue = append(m.queue, queued{userID, id})
	m.wake.Signal()
}

func (m *Manager) worker() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		for len(m.queue) == 0 && !m.closed {
			m.wake.Wait()
		}
		if m.closed {
			m.mu.Unlock()
			return
		}
		q := m.queue[0]
		m.queue = m.queue[1:]
		ctx, cancel := context.WithCancelCause(m.ctx)
		if m.cancelled[q.id] {
			delete(m.cancelled, q.id)
			cancel(errCancelled)
		}
		j := &job{cancel: cancel, done: make(chan struct{})}
		m.running[q.id] = j
		m.mu.Unlock()

		m.run(ctx, q)

		m.mu.Lock()
		delete(m.running, q.id)
		m.mu.Unlock()
		cancel(nil)
		close(j.done)
	}
}

// run processes one job and records how it ended.
func (m *Manager) run(ctx context.Context, q queued) {
	// Records are written even while stopping, so that what finished is
	// never lost; recordTimeout bounds a store that does not answer.
	const recordTimeout = 30 * time.Second
	record := func(v *store.Video) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		m.st.UpdateVideo(rctx, v)
	}
	v, err := m.st.VideoByID(context.WithoutCancel(ctx), q.userID, q.id)
	if err != nil || (v.Status != store.StatusPending && v.Status != store.StatusInProgress) {
		return // deleted, or finished meanwhile
	}
	fail := func(err error) {
		msg := err.Error()
		v.Status, v.ErrorMessage = store.StatusError, &msg
		record(v)
	}
	if cause := context.Cause(ctx); cause == errCancelled {
		fail(cause)
		return
	}
	v.Status, v.FramesProcessed, v.ErrorMessage = store.StatusInProgress, 0, nil
	record(v)

	start := time.Now()
	part := filepath.Join(m.dir(v.ID), "enhanced.mkv.part")
	last := time.Now()
	progress := func(done int) {
		if time.Since(last) < progressInterval {
			return
		}
		last = time.Now()
		m.st.UpdateVideoProgress(ctx, v.ID, done)
	}
	up := func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error) {
		return m.enh.EnhanceFrames(ctx, v.ModelType, v.Scale, v.FaceEnhance, frames)
	}
	stats, err := Process(ctx, v.OriginalPath, part, up,
		Options{Scale: v.Scale, Encoder: m.cfg.Encoder, Preset: m.cfg.Preset, Batch: m.cfg.Batch, Progress: progress})
	if err == nil {
		v.EnhancedPath = filepath.Join(m.dir(v.ID), "enhanced.mkv")
		err = os.Rename(part, v.EnhancedPath)
	}
	if err != nil {
		os.Remove(part)
		switch cause := context.Cause(ctx); {
		case m.ctx.Err() != nil:
			return // stopping: left in_progress for the next Start
		case cause == errDeleted:
			return
		case cause == errCancelled:
			err = cause
		}
		fail(err)
		return
	}
	now := time.Now().UTC()
	v.Status = store.StatusCompleted
	v.FramesProcessed = stats.Frames
	v.EnhancedWidth, v.EnhancedHeight = stats.Width&^1, stats.Height&^1
	v.ProcessingTimeMS = time.Since(start).Milliseconds()
	v.GPUUsed = m.enh.RuntimeName() == "gpu"
	v.CompletedAt = &now
	record(v)
}

func randomName() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
