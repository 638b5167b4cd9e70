package api

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"imageenhancer/store"
	"imageenhancer/video"
)

// videoJSON is a video as the manual's responses show it.
type videoJSON struct {
	ID               string    `json:"id"`
	OriginalFilename string    `json:"original_filename"`
	Description      string    `json:"description"`
	ModelType        string    `json:"model_type"`
	Scale            int       `json:"scale"`
	FaceEnhance      bool      `json:"face_enhance"`
	DurationSeconds  float64   `json:"duration_seconds"`
	FPS              float64   `json:"fps"`
	FrameCount       int       `json:"frame_count"`
	OriginalWidth    int       `json:"original_width"`
	OriginalHeight   int       `json:"original_height"`
	EnhancedWidth    int       `json:"enhanced_width"`
	EnhancedHeight   int       `json:"enhanced_height"`
	Status           string    `json:"status"`
	FramesProcessed  int       `json:"frames_processed"`
	ErrorMessage     *string   `json:"error_message"`
	ProcessingTimeMS int64     `json:"processing_time_ms"`
	GPUUsed          bool      `json:"gpu_used"`
	CreatedAt        jsonTime  `json:"created_at"`
	CompletedAt      *jsonTime `json:"completed_at"`
	// DownloadURL streams the enhanced MKV once completed: base64 in JSON
	// is impractical for long videos.
	DownloadURL *string `json:"download_url"`
}

// videoDetailJSON adds the files, once completed, as GET /api/videos/{id}
// answers.
type videoDetailJSON struct {
	videoJSON
	OriginalBase64 *string `json:"original_base64"`
	EnhancedBase64 *string `json:"enhanced_base64"`
}

func videoView(v *store.Video) videoJSON {
	j := videoJSON{
		ID: v.ID, OriginalFilename: v.OriginalFilename, Description: v.Description, ModelType: v.ModelType,
		Scale: v.Scale, FaceEnhance: v.FaceEnhance, DurationSeconds: v.DurationSeconds, FPS: v.FPS,
		FrameCount: v.FrameCount, OriginalWidth: v.OriginalWidth, OriginalHeight: v.OriginalHeight,
		EnhancedWidth: v.EnhancedWidth, EnhancedHeight: v.EnhancedHeight, Status: v.Status,
		FramesProcessed: v.FramesProcessed, ErrorMessage: v.ErrorMessage, ProcessingTimeMS: v.ProcessingTimeMS,
		GPUUsed: v.GPUUsed, CreatedAt: jsonTime(v.CreatedAt), CompletedAt: timePtr(v.CompletedAt),
	}
	if v.Status == store.StatusCompleted {
		u := "/api/videos/" + v.ID + "/download"
		j.DownloadURL = &u
	}
	return j
}

// videoStatuses are the manual's filter values for videos.
var videoStatuses = []string{store.StatusPending, store.StatusInProgress, store.StatusCompleted, store.StatusError}

const videoNotFound = "Video no encontrado"

// POST /api/videos/enhance
func (s *Server) enhanceVideo(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var req struct {
		VideoBase64 string `json:"video_base64"`
		Filename    string `json:"filename"`
		Description string `json:"description"`
		ModelType   string `json:"model_type"`
		Scale       *int   `json:"scale"`
		FaceEnhance bool   `json:"face_enhance"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.VideoBase64 == "" {
		return errorf(InvalidInput, "Campo requerido: video_base64")
	}
	// Cleaned as an image's is, so that the stored name never holds a
	// folder or control characters.
	req.Filename = cleanFilename(req.Filename)
	if req.Filename == "" {
		return errorf(InvalidInput, "Campo requerido: filename (nombre del archivo con extensión, p. ej. mi_video.mp4)")
	}
	if err := checkFilenameLen(req.Filename); err != nil {
		return err
	}
	if err := checkDescription(req.Description); err != nil {
		return err
	}
	if err := checkScale(req.Scale); err != nil {
		return err
	}
	if s.videos == nil {
		return errorf(Unavailable, "Procesamiento de video no disponible en este servidor")
	}
	data, err := decodeBase64(req.VideoBase64)
	if err != nil {
		return errorf(InvalidInput, "Datos de video inválidos: video_base64: no es base64 válido")
	}
	v, err := s.videos.Submit(r.Context(), u.ID, video.SubmitRequest{
		Data: data, Filename: req.Filename, Description: req.Description,
		ModelType: req.ModelType, Scale: deref(req.Scale), FaceEnhance: req.FaceEnhance,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"message": "Video recibido, procesamiento iniciado. Consulte el estado con GET /api/videos/{id}",
		"video":   videoView(v),
	})
	return nil
}

// GET /api/videos
func (s *Server) listVideos(w http.ResponseWriter, r *http.Request, u *store.User) error {
	opt, err := listOptions(r, videoStatuses...)
	if err != nil {
		return err
	}
	videos, total, err := s.st.ListVideos(r.Context(), u.ID, opt)
	if err != nil {
		return err
	}
	writePage(w, opt, total, "videos", videos, videoView)
	return nil
}

// userVideo is the caller's video of the route's {id}.
func (s *Server) userVideo(r *http.Request, u *store.User) (*store.Video, error) {
	return userRecord(r, u, videoNotFound, s.st.VideoByID)
}

// GET /api/videos/{id}
func (s *Server) getVideo(w http.ResponseWriter, r *http.Request, u *store.User) error {
	v, err := s.userVideo(r, u)
	if err != nil {
		return err
	}
	d := videoDetailJSON{videoJSON: videoView(v)}
	if v.Status == store.StatusCompleted {
		d.OriginalBase64 = s.fileBase64(r.Context(), v.OriginalPath)
		d.EnhancedBase64 = s.fileBase64(r.Context(), v.EnhancedPath)
	}
	writeJSON(w, http.StatusOK, map[string]any{"video": d})
	return nil
}

// GET /api/videos/{id}/download streams the enhanced MKV (with Range
// support), for clients that would rather not hold it in base64.
func (s *Server) downloadVideo(w http.ResponseWriter, r *http.Request, u *store.User) error {
	v, err := s.userVideo(r, u)
	if err != nil {
		return err
	}
	if v.Status != store.StatusCompleted || v.EnhancedPath == "" {
		return errorf(Conflict, "El video aún no está completado (status: %s)", v.Status)
	}
	f, err := os.Open(v.EnhancedPath)
	if errors.Is(err, os.ErrNotExist) {
		// A record whose file was removed behind our back: GET shows it
		// with enhanced_base64 null; its download is not there either.
		s.log.WarnContext(r.Context(), "stored file missing", "path", v.EnhancedPath)
		return notFound("Archivo del video mejorado no encontrado")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(v.OriginalFilename, filepath.Ext(v.OriginalFilename)) + "_enhanced.mkv"
	w.Header().Set("Content-Type", "video/x-matroska")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// DELETE /api/videos/{id} cancels the job if it runs, then removes the
// record and both files.
func (s *Server) deleteVideo(w http.ResponseWriter, r *http.Request, u *store.User) error {
	v, err := s.userVideo(r, u)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.Context())
	if s.videos != nil {
		err = s.videos.Delete(ctx, u.ID, v.ID)
	} else {
		err = s.st.DeleteVideo(ctx, u.ID, v.ID)
		s.removeFiles(ctx, v.OriginalPath, v.EnhancedPath)
	}
	if err != nil {
		return wrapNotFound(err, videoNotFound)
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Video eliminado exitosamente"})
	return nil
}
