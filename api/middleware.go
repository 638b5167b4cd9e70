package api

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"imageenhancer/store"
)

// maxBody limits the request body to n bytes; reading past it fails with an
// *http.MaxBytesError, which classify maps to 413.
func maxBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			adapter{}.writeError(w, r, &http.MaxBytesError{Limit: n})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// jsonFallback answers requests that match no route (404) or match one with
// another method (405, Allow kept) with the API's JSON error shape instead of
// the mux's plain text.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		cw := &codeOnly{header: w.Header(), code: http.StatusNotFound}
		h.ServeHTTP(cw, r)
		msg := "Ruta no encontrada"
		if cw.code == http.StatusMethodNotAllowed {
			msg = "Método no permitido"
		}
		writeJSON(w, cw.code, map[string]string{"error": msg})
	})
}

// codeOnly is a ResponseWriter that keeps the status and headers of a
// response and drops its body.
type codeOnly struct {
	header http.Header
	code   int
}

func (c *codeOnly) Header() http.Header         { return c.header }
func (c *codeOnly) WriteHeader(code int)        { c.code = code }
func (c *codeOnly) Write(b []byte) (int, error) { return len(b), nil }

// CORS: what browsers may send and read.
const (
	corsMethods = "GET, POST, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = "86400"
)

// cors adds the CORS headers and answers preflight requests (OPTIONS with
// Access-Control-Request-Method, or any OPTIONS) with 204.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", s.cfg.AllowOrigin)
		if s.cfg.AllowOrigin != "*" {
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Expose-Headers", "Retry-After, Content-Disposition")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic in a handler into a logged 500.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response silently
			}
			err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			s.ad.writeError(w, r, err)
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests logs one line per request with its status, size and duration.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", sw.code,
			"bytes", sw.n, "duration_ms", time.Since(start).Milliseconds(), "remote", r.RemoteAddr)
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// userHandlerFunc is a handler that needs the authenticated user.
type userHandlerFunc func(w http.ResponseWriter, r *http.Request, u *store.User) error

// authed authenticates the request's bearer token and passes its user on.
func (s *Server) authed(h userHandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return errTokenRequired
		}
		u, err := s.auth.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		return h(w, r, u)
	}
}
