package api

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// openAPIDoc is the hand-written OpenAPI 3.1 description of every endpoint.
//
//go:embed openapi.json
var openAPIDoc []byte

// SwaggerUIInstall is the command that installs Swagger UI where /docs looks
// by default (the Makefile's swagger step).
const SwaggerUIInstall = "npm install --no-audit --no-fund --prefix third_party swagger-ui-dist@5.35.0"

// GET /api/models lists the manual's catalogue and, beside it, whether
// face_enhance can be served (GFPGAN's weights are the user's to supply).
func (s *Server) models(w http.ResponseWriter, r *http.Request) error {
	models := s.enhancer.Models()
	writeJSON(w, http.StatusOK, map[string]any{"total": len(models), "models": models, "face_enhance": s.enhancer.FaceEnhance()})
	return nil
}

// healthTimeout bounds the database ping of /api/health.
const healthTimeout = 3 * time.Second

// GET /api/health reports the database and the GPU. A database that does
// not answer makes the service unhealthy (503).
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	db := "ok"
	status, code := "healthy", http.StatusOK
	if err := s.st.Ping(ctx); err != nil {
		db = "error: " + err.Error()
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	gpu := s.cfg.GPUStatus
	if gpu == "" {
		gpu = "not available"
	}
	services := map[string]string{"api": "ok", "database": s.cfg.Database, "gpu": gpu}
	// The manual's clients read services.mongodb; say plainly when the
	// embedded store serves instead.
	if s.cfg.Database == "mongodb" {
		services["mongodb"] = db
	} else {
		services["mongodb"] = "not configured (embedded " + s.cfg.Database + " in use)"
		services[s.cfg.Database] = db
	}
	writeJSON(w, code, map[string]any{"status": status, "services": services})
	return nil
}

// GET /api/info
func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	var ids []string
	for _, m := range s.enhancer.Models() {
		ids = append(ids, m.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":          "Image Enhancer API",
		"version":       s.cfg.Version,
		"description":   "Mejora de calidad y resolución de imágenes y videos con Real-ESRGAN",
		"runtime":       s.enhancer.RuntimeName(),
		"gpu_available": s.enhancer.RuntimeName() == "gpu",
		"database":      s.cfg.Database,
		"default_model": defaultModel,
		"models":        ids,
		"docs":          "/docs",
		"openapi":       "/api/openapi.json",
		"endpoints": map[string][]string{
			"auth":   {"POST /api/auth/register", "POST /api/auth/login", "POST /api/auth/refresh", "POST /api/auth/logout", "GET /api/auth/me"},
			"images": {"POST /api/images/enhance", "GET /api/images", "GET /api/images/{id}", "DELETE /api/images/{id}"},
			"videos": {"POST /api/videos/enhance", "GET /api/videos", "GET /api/videos/{id}", "GET /api/videos/{id}/download", "DELETE /api/videos/{id}"},
			"system": {"GET /api/health", "GET /api/info", "GET /api/models", "GET /api/openapi.json", "GET /docs"},
		},
	})
	return nil
}

// GET /api/openapi.json
func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPIDoc)
	return nil
}

// docsIndex is Swagger UI's page, pointed at our document.
var docsIndex = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<title>Image Enhancer API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});
</script>
</body>
</html>
`))

// GET /docs/{file...} serves Swagger UI from SwaggerUIDir, or says how to
// install it.
func (s *Server) docs(w http.ResponseWriter, r *http.Request) error {
	dir := s.cfg.SwaggerUIDir
	if _, err := os.Stat(filepath.Join(dir, "swagger-ui-bundle.js")); err != nil {
		return errorf(Unavailable, "Swagger UI no está instalado en %s: ejecute `%s` (o `make swagger`); el documento OpenAPI está en /api/openapi.json", dir, SwaggerUIInstall)
	}
	name := r.PathValue("file")
	if name == "" || name == "index.html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return docsIndex.Execute(w, nil)
	}
	if !fs.ValidPath(name) {
		return notFound("Archivo no encontrado")
	}
	if _, err := fs.Stat(os.DirFS(dir), name); err != nil {
		return notFound(fmt.Sprintf("Archivo no encontrado: %s", name))
	}
	http.ServeFileFS(w, r, os.DirFS(dir), name)
	return nil
}
