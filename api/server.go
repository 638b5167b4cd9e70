// Package api is the REST API of the user manual (MANUAL_USUARIO_API.md):
// authentication, images, videos and the system endpoints, over the standard
// library's ServeMux. Handlers return errors; one adapter turns them into
// {"error": "..."} bodies with the status of their kind.
//
// api holds no state of its own beyond its dependencies: records live in the
// store, files under Config.DataDir, inference in enhance, video jobs in the
// video package.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"imageenhancer/auth"
	"imageenhancer/enhance"
	"imageenhancer/store"
	"imageenhancer/video"
)

// Config configures the API.
type Config struct {
	// DataDir holds the stored files: images under DataDir/images.
	DataDir string
	// MaxBodyBytes bounds every request body but video uploads (413 past it).
	MaxBodyBytes int64
	// VideoMaxBodyBytes bounds POST /api/videos/enhance bodies.
	VideoMaxBodyBytes int64
	// SwaggerUIDir is where swagger-ui-dist is installed; /docs serves it.
	SwaggerUIDir string
	// Database names the store in /api/health: "mongodb" or "sqlite".
	Database string
	// GPUStatus is what /api/health says of the GPU: "ok (name, memory)"
	// when the runtime is the GPU, else why it is not used.
	GPUStatus string
	// AllowOrigin is the CORS Access-Control-Allow-Origin; "" means "*".
	AllowOrigin string
	// Version is reported by /api/info.
	Version string
}

// VideoJobs is what the video endpoints need of video.Manager. Its errors
// wrap enhance's kinds and store.ErrNotFound, which classify maps.
type VideoJobs interface {
	// Submit probes and checks a video, keeps it, records it as pending and
	// queues it.
	Submit(ctx context.Context, userID string, req video.SubmitRequest) (*store.Video, error)
	// Delete cancels the video's job if it runs or waits, then removes its
	// files and record.
	Delete(ctx context.Context, userID, id string) error
}

var _ VideoJobs = (*video.Manager)(nil)

// Server serves the API.
type Server struct {
	cfg      Config
	log      *slog.Logger
	st       store.Store
	auth     *auth.Service
	enhancer *enhance.Enhancer
	videos   VideoJobs
	ad       adapter
	handler  http.Handler
}

// New returns the API's server. videos may be nil: the video endpoints then
// answer 503.
func New(cfg Config, log *slog.Logger, st store.Store, au *auth.Service, enh *enhance.Enhancer, videos VideoJobs) *Server {
	if cfg.AllowOrigin == "" {
		cfg.AllowOrigin = "*"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.VideoMaxBodyBytes <= 0 {
		cfg.VideoMaxBodyBytes = cfg.MaxBodyBytes
	}
	s := &Server{cfg: cfg, log: log, st: st, auth: au, enhancer: enh, videos: videos, ad: adapter{log: log}}
	s.handler = s.routes()
	return s
}

// DefaultMaxBodyBytes fits a 20 MB image in base64 (×4/3 ≈ 26.7 MB) plus the
// JSON around it.
const DefaultMaxBodyBytes = 28 << 20

// authMaxBodyBytes bounds the bodies of the auth routes: a username of 50
// characters, an email, a 72-byte password or a refresh token, many times
// over.
const authMaxBodyBytes = 64 << 10

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := s.ad.handle
	limit := func(n int64, next http.Handler) http.Handler { return maxBody(n, next) }
	std := func(next http.Handler) http.Handler { return limit(s.cfg.MaxBodyBytes, next) }

	// Auth bodies are a few short strings and three of the four routes
	// are open to anyone: no reason to read megabytes of them.
	small := func(next http.Handler) http.Handler { return limit(min(s.cfg.MaxBodyBytes, authMaxBodyBytes), next) }

	mux.Handle("POST /api/auth/register", small(h(s.register)))
	mux.Handle("POST /api/auth/login", small(h(s.login)))
	mux.Handle("POST /api/auth/refresh", small(h(s.refresh)))
	mux.Handle("POST /api/auth/logout", small(h(s.authed(s.logout))))
	mux.Handle("GET /api/auth/me", h(s.authed(s.me)))

	mux.Handle("POST /api/images/enhance", std(h(s.authed(s.enhanceImage))))
	mux.Handle("GET /api/images", h(s.authed(s.listImages)))
	mux.Handle("GET /api/images/{id}", h(s.authed(s.getImage)))
	mux.Handle("DELETE /api/images/{id}", h(s.authed(s.deleteImage)))

	mux.Handle("POST /api/videos/enhance", limit(s.cfg.VideoMaxBodyBytes, h(s.authed(s.enhanceVideo))))
	mux.Handle("GET /api/videos", h(s.authed(s.listVideos)))
	mux.Handle("GET /api/videos/{id}", h(s.authed(s.getVideo)))
	mux.Handle("GET /api/videos/{id}/download", h(s.authed(s.downloadVideo)))
	mux.Handle("DELETE /api/videos/{id}", h(s.authed(s.deleteVideo)))

	mux.Handle("GET /api/models", h(s.models))
	mux.Handle("GET /api/health", h(s.health))
	mux.Handle("GET /api/info", h(s.info))
	mux.Handle("GET /api/openapi.json", h(s.openapi))
	mux.Handle("GET /docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently))
	mux.Handle("GET /docs/{file...}", h(s.docs))

	var handler http.Handler = jsonFallback(mux)
	handler = s.cors(handler)
	handler = s.recoverer(handler)
	handler = s.logRequests(handler)
	return handler
}
