package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of uploads
	_ "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	_ "golang.org/x/image/webp"

	"imageenhancer/enhance"
	"imageenhancer/store"
)

// defaultModel is the manual's default model_type.
const defaultModel = "general_x4"

// imageJSON is an image as the manual's lists show it.
type imageJSON struct {
	ID               string    `json:"id"`
	OriginalFilename string    `json:"original_filename"`
	Description      string    `json:"description"`
	OriginalWidth    int       `json:"original_width"`
	OriginalHeight   int       `json:"original_height"`
	EnhancedWidth    int       `json:"enhanced_width"`
	EnhancedHeight   int       `json:"enhanced_height"`
	ModelType        string    `json:"model_type"`
	Scale            int       `json:"scale"`
	OutputWidth      *int      `json:"output_width"`
	OutputHeight     *int      `json:"output_height"`
	FaceEnhance      bool      `json:"face_enhance"`
	Status           string    `json:"status"`
	ProcessingTimeMS int64     `json:"processing_time_ms"`
	GPUUsed          bool      `json:"gpu_used"`
	CreatedAt        jsonTime  `json:"created_at"`
	CompletedAt      *jsonTime `json:"completed_at"`
	ErrorMessage     *string   `json:"error_message"`
}

// imageDetailJSON is an image with its files, as enhance and get answer.
type imageDetailJSON struct {
	imageJSON
	OriginalBase64 *string `json:"original_base64"`
	EnhancedBase64 *string `json:"enhanced_base64"`
}

func imageView(im *store.Image) imageJSON {
	return imageJSON{
		ID: im.ID, OriginalFilename: im.OriginalFilename, Description: im.Description,
		OriginalWidth: im.OriginalWidth, OriginalHeight: im.OriginalHeight,
		EnhancedWidth: im.EnhancedWidth, EnhancedHeight: im.EnhancedHeight,
		ModelType: im.ModelType, Scale: im.Scale, OutputWidth: im.OutputWidth, OutputHeight: im.OutputHeight,
		FaceEnhance: im.FaceEnhance, Status: im.Status, ProcessingTimeMS: im.ProcessingTimeMS, GPUUsed: im.GPUUsed,
		CreatedAt: jsonTime(im.CreatedAt), CompletedAt: timePtr(im.CompletedAt), ErrorMessage: im.ErrorMessage,
	}
}

// enhanceImageRequest is the body of POST /api/images/enhance.
type enhanceImageRequest struct {
	ImageBase64  string `json:"image_base64"`
	Filename     string `json:"filename"`
	Description  string `json:"description"`
	ModelType    string `json:"model_type"`
	Scale        *int   `json:"scale"`
	OutputWidth  *int   `json:"output_width"`
	OutputHeight *int   `json:"output_height"`
	FaceEnhance  bool   `json:"face_enhance"`
}

// Image statuses the list filter accepts: the manual's four, plus the
// stored name of "processing". Images are enhanced synchronously, so only
// completed and failed ever match.
var imageStatuses = []string{store.StatusPending, "processing", store.StatusInProgress, store.StatusCompleted, store.StatusFailed}

// POST /api/images/enhance
func (s *Server) enhanceImage(w http.ResponseWriter, r *http.Request, u *store.User) error {
	var req enhanceImageRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.ImageBase64 == "" {
		return errorf(InvalidInput, "Campo requerido: image_base64")
	}
	if err := checkScale(req.Scale); err != nil {
		return err
	}
	if err := checkDescription(req.Description); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"output_width", req.OutputWidth}, {"output_height", req.OutputHeight}} {
		if f.v != nil && *f.v < 1 {
			return errorf(InvalidInput, "%s debe ser un entero positivo (recibido %d)", f.name, *f.v)
		}
	}
	data, err := decodeBase64(req.ImageBase64)
	if err != nil {
		return errorf(InvalidInput, "Datos de imagen inválidos: image_base64: no es base64 válido")
	}
	ext, err := sniffImage(data)
	if err != nil {
		return err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return errorf(InvalidInput, "Datos de imagen inválidos: image_base64: la imagen %s no se puede leer", strings.TrimPrefix(ext, "."))
	}
	model := req.ModelType
	if model == "" {
		model = defaultModel
	}
	filename := cleanFilename(req.Filename)
	if err := checkFilenameLen(filename); err != nil {
		return err
	}
	if filename == "" {
		filename = "image" + ext
	}
	ext = fileExt(filename, ext)

	dir := filepath.Join(s.cfg.DataDir, "images", newKey())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	im := &store.Image{
		UserID:           u.ID,
		OriginalFilename: filename,
		Description:      req.Description,
		OriginalPath:     filepath.Join(dir, "original"+ext),
		OriginalWidth:    cfg.Width,
		OriginalHeight:   cfg.Height,
		OutputWidth:      req.OutputWidth,
		OutputHeight:     req.OutputHeight,
		ModelType:        model,
		FaceEnhance:      req.FaceEnhance,
		CreatedAt:        time.Now().UTC(),
	}
	if req.Scale != nil {
		im.Scale = *req.Scale
	}
	if err := os.WriteFile(im.OriginalPath, data, 0o644); err != nil {
		return err
	}

	res, err := s.enhancer.Enhance(r.Context(), enhance.Request{
		Image:        data,
		Model:        model,
		Scale:        im.Scale,
		OutputWidth:  deref(req.OutputWidth),
		OutputHeight: deref(req.OutputHeight),
		FaceEnhance:  req.FaceEnhance,
	})
	now := time.Now().UTC()
	im.CompletedAt = &now
	im.ProcessingTimeMS = now.Sub(im.CreatedAt).Milliseconds()
	if err != nil {
		// A refused request (bad input, too large, busy) or a client that
		// went away leaves no record; a fault of the enhancement does.
		if classify(err).Kind != Internal || r.Context().Err() != nil {
			return err
		}
		msg := err.Error()
		im.Status = store.StatusFailed
		im.ErrorMessage = &msg
		if cerr := s.st.CreateImage(context.WithoutCancel(r.Context()), im); cerr != nil {
			return errors.Join(err, cerr)
		}
		keep = true
		return &Error{Kind: Internal, Msg: "Error procesando imagen: " + msg,
			Err: fmt.Errorf("image %s (model %s) recorded as failed: %w", im.ID, model, err)}
	}
	im.EnhancedPath = filepath.Join(dir, "enhanced.png")
	if err := os.WriteFile(im.EnhancedPath, res.PNG, 0o644); err != nil {
		return err
	}
	im.Status = store.StatusCompleted
	im.Scale = res.Scale
	im.OriginalWidth, im.OriginalHeight = res.OriginalWidth, res.OriginalHeight
	im.EnhancedWidth, im.EnhancedHeight = res.Width, res.Height
	im.GPUUsed = res.GPUUsed
	if err := s.st.CreateImage(context.WithoutCancel(r.Context()), im); err != nil {
		return err
	}
	keep = true
	w.Header().Set("Server-Timing", serverTiming(res.Stages))
	orig, enh := base64.StdEncoding.EncodeToString(data), base64.StdEncoding.EncodeToString(res.PNG)
	writeJSON(w, http.StatusCreated, map[string]any{
		"message": "Imagen procesada exitosamente",
		"image":   imageDetailJSON{imageJSON: imageView(im), OriginalBase64: &orig, EnhancedBase64: &enh},
	})
	return nil
}

// serverTiming is the Server-Timing header (W3C) of an enhancement: the
// pipeline's stages in milliseconds, for clients and benchmarks that want
// to know where a request's time went.
func serverTiming(st enhance.Stages) string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("decode;dur=%.3f, queue;dur=%.3f, infer;dur=%.3f, encode;dur=%.3f",
		ms(st.Decode), ms(st.Queue), ms(st.Infer), ms(st.Encode))
}

// GET /api/images
func (s *Server) listImages(w http.ResponseWriter, r *http.Request, u *store.User) error {
	opt, err := listOptions(r, imageStatuses...)
	if err != nil {
		return err
	}
	if opt.Status == "processing" {
		opt.Status = store.StatusInProgress
	}
	images, total, err := s.st.ListImages(r.Context(), u.ID, opt)
	if err != nil {
		return err
	}
	writePage(w, opt, total, "images", images, imageView)
	return nil
}

const imageNotFound = "Imagen no encontrada"

// GET /api/images/{id}
func (s *Server) getImage(w http.ResponseWriter, r *http.Request, u *store.User) error {
	im, err := userRecord(r, u, imageNotFound, s.st.ImageByID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"image": imageDetailJSON{
		imageJSON:      imageView(im),
		OriginalBase64: s.fileBase64(r.Context(), im.OriginalPath),
		EnhancedBase64: s.fileBase64(r.Context(), im.EnhancedPath),
	}})
	return nil
}

// DELETE /api/images/{id}
func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request, u *store.User) error {
	im, err := userRecord(r, u, imageNotFound, s.st.ImageByID)
	if err != nil {
		return err
	}
	if err := s.st.DeleteImage(r.Context(), u.ID, im.ID); err != nil {
		return wrapNotFound(err, imageNotFound)
	}
	s.removeFiles(r.Context(), im.OriginalPath, im.EnhancedPath)
	writeJSON(w, http.StatusOK, map[string]any{"message": "Imagen eliminada exitosamente"})
	return nil
}

// fileBase64 is the base64 of a stored file, or nil (JSON null) when there
// is none. A recorded file that is missing is logged, not fatal: the record
// is still worth showing.
func (s *Server) fileBase64(ctx context.Context, path string) *string {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		s.log.WarnContext(ctx, "stored file unreadable", "path", path, "err", err)
		return nil
	}
	enc := base64.StdEncoding.EncodeToString(b)
	return &enc
}

// removeFiles deletes stored files and then their folders when empty. Paths
// outside DataDir are left alone: a record is not trusted to name any file.
func (s *Server) removeFiles(ctx context.Context, paths ...string) {
	root, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		s.log.ErrorContext(ctx, "data dir", "err", err)
		return
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil || !strings.HasPrefix(abs, root+string(filepath.Separator)) {
			s.log.WarnContext(ctx, "refusing to delete a file outside the data dir", "path", p)
			continue
		}
		if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.WarnContext(ctx, "removing stored file", "path", p, "err", err)
		}
		os.Remove(filepath.Dir(abs)) // only succeeds once the folder is empty
	}
}

// decodeBase64 decodes standard or URL-safe base64, padded or not, with or
// without a data: URL prefix and line breaks.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		_, after, ok := strings.Cut(s, ",")
		if !ok {
			return nil, errors.New("data URL without a comma")
		}
		s = after
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	if err == nil {
		err = errors.New("empty")
	}
	return nil, err
}

// sniffImage names the format of an upload by its magic bytes and returns
// its usual extension; formats the pipeline does not read are refused with
// the manual's message.
func sniffImage(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return ".png", nil
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return ".jpg", nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return ".webp", nil
	}
	for _, f := range []struct{ magic, name string }{
		{"GIF87a", "gif"}, {"GIF89a", "gif"}, {"BM", "bmp"}, {"II*\x00", "tiff"}, {"MM\x00*", "tiff"},
		{"\x00\x00\x01\x00", "ico"}, {"8BPS", "psd"},
	} {
		if bytes.HasPrefix(b, []byte(f.magic)) {
			return "", errorf(InvalidInput, "Formato no soportado: %s", f.name)
		}
	}
	if len(b) >= 12 && string(b[4:8]) == "ftyp" && (string(b[8:12]) == "avif" || string(b[8:12]) == "heic") {
		return "", errorf(InvalidInput, "Formato no soportado: %s", string(b[8:12]))
	}
	return "", errorf(InvalidInput, "Datos de imagen inválidos: image_base64: no es una imagen PNG, JPEG ni WEBP")
}

// fileExt keeps the filename's extension when it names the sniffed format
// (".jpeg" for a JPEG), else uses the sniffed one.
func fileExt(filename, sniffed string) string {
	ext := strings.ToLower(filepath.Ext(filename))
	if ext == sniffed || (sniffed == ".jpg" && ext == ".jpeg") {
		return ext
	}
	return sniffed
}

// maxFilenameLen bounds the original_filename kept in a record: 255 bytes,
// the NAME_MAX of common file systems, so that a name a client could have
// had on disk always fits.
const maxFilenameLen = 255

// maxDescriptionLen bounds a record's description, in characters: every
// list page shows it, up to 100 times.
const maxDescriptionLen = 1000

// checkScale refuses a scale given outside 1 to 4; nil takes the
// configured default.
func checkScale(scale *int) error {
	if scale != nil && (*scale < 1 || *scale > 4) {
		return errorf(InvalidInput, "scale debe estar entre 1 y 4 (recibido %d)", *scale)
	}
	return nil
}

// checkDescription refuses a description longer than maxDescriptionLen.
func checkDescription(d string) error {
	if n := utf8.RuneCountInString(d); n > maxDescriptionLen {
		return errorf(InvalidInput, "description no puede superar %d caracteres (recibidos %d)", maxDescriptionLen, n)
	}
	return nil
}

// checkFilenameLen refuses a cleaned filename longer than maxFilenameLen.
func checkFilenameLen(name string) error {
	if len(name) > maxFilenameLen {
		return errorf(InvalidInput, "filename no puede superar %d bytes (recibidos %d)", maxFilenameLen, len(name))
	}
	return nil
}

// cleanFilename is the last element of a client's file name, with either
// slash, and without control characters.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "." || name == ".." {
		return ""
	}
	return strings.TrimSpace(name)
}

// newKey names a folder of stored files: 24 hexadecimal characters, time
// first (like an ObjectID) so folders sort by age.
func newKey() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
