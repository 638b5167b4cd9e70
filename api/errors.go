package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"imageenhancer/auth"
	"imageenhancer/enhance"
	"imageenhancer/store"
	"imageenhancer/video"
)

// Kind classifies an error for the client; one table maps kinds to statuses.
type Kind int

// Kinds of errors, as in pkgsite's derrors.
const (
	Internal     Kind = iota // a fault of ours: 500, logged, details hidden
	InvalidInput             // 400
	Unauthorized             // 401
	Forbidden                // 403
	NotFound                 // 404
	Conflict                 // 409
	TooLarge                 // 413
	Unavailable              // 503 with Retry-After
)

var statusOf = map[Kind]int{
	Internal:     http.StatusInternalServerError,
	InvalidInput: http.StatusBadRequest,
	Unauthorized: http.StatusUnauthorized,
	Forbidden:    http.StatusForbidden,
	NotFound:     http.StatusNotFound,
	Conflict:     http.StatusConflict,
	TooLarge:     http.StatusRequestEntityTooLarge,
	Unavailable:  http.StatusServiceUnavailable,
}

// retryAfterSeconds is what a 503 asks clients to wait: about one inference
// of a typical photo on the GPU, so a retry has a fair chance.
const retryAfterSeconds = 5

// Error is an error with a kind and a message for the client (in Spanish,
// like the manual's).
type Error struct {
	Kind Kind
	Msg  string
	Err  error // the cause, logged for Internal errors
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error of kind k with a formatted client message.
func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// The manual's 401 messages.
var (
	errTokenRequired = errorf(Unauthorized, "Token de autenticación requerido")
	errTokenInvalid  = errorf(Unauthorized, "Token inválido o expirado")
)

// classify turns any error into an *Error: errors of the lower packages by
// their kinds, anything unknown as Internal.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(TooLarge, "El cuerpo de la petición supera el límite de %d bytes", mbe.Limit)
	case errors.Is(err, store.ErrNotFound):
		return errorf(NotFound, "Recurso no encontrado")
	case errors.Is(err, auth.ErrInvalidCredentials):
		return errorf(Unauthorized, "Credenciales inválidas")
	case errors.Is(err, auth.ErrInvalidToken):
		return errTokenInvalid
	case errors.Is(err, auth.ErrInactive):
		return errorf(Forbidden, "Usuario inactivo")
	case errors.Is(err, auth.ErrConflict), errors.Is(err, store.ErrConflict):
		return &Error{Kind: Conflict, Msg: clientMessage(err)}
	case errors.Is(err, auth.ErrInvalidInput),
		errors.Is(err, enhance.ErrInvalidInput),
		errors.Is(err, enhance.ErrModelNotInstalled),
		errors.Is(err, enhance.ErrFaceUnavailable):
		return &Error{Kind: InvalidInput, Msg: clientMessage(err)}
	case errors.Is(err, enhance.ErrTooLarge):
		return &Error{Kind: TooLarge, Msg: clientMessage(err)}
	case errors.Is(err, enhance.ErrBusy):
		return errorf(Unavailable, "Servidor ocupado: la cola de procesamiento está llena, reintente en %d segundos", retryAfterSeconds)
	case errors.Is(err, video.ErrNoFFmpeg):
		return errorf(Unavailable, "Procesamiento de video no disponible en este servidor (compilado sin FFmpeg)")
	case errors.Is(err, enhance.ErrOutOfMemory):
		// The pipeline has already halved its tile down to the smallest:
		// the device is full now (other requests, other processes).
		return errorf(Unavailable, "Memoria de GPU insuficiente para procesar la imagen, incluso en teselas pequeñas; reintente en %d segundos o envíe una imagen menor", retryAfterSeconds)
	}
	return &Error{Kind: Internal, Msg: "Error interno del servidor", Err: err}
}

// clientMessage words a lower package's error for the client. Those read
// "field: kind: detail", all in Spanish; the kind is dropped where the status
// already says it, or replaced by the manual's wording where it has one, and
// the field stays, so the client knows what to fix: "scale: debe estar entre
// 1 y 4 (recibido 5)", "Datos de imagen inválidos: image_base64: la imagen
// está vacía".
func clientMessage(err error) string {
	msg := err.Error()
	for f, text := range dataPrefix {
		if errors.Is(err, enhance.ErrInvalidInput) && strings.HasPrefix(msg, f+": ") {
			return text + f + ": " + strings.TrimPrefix(strings.TrimPrefix(msg, f+": "), enhance.ErrInvalidInput.Error()+": ")
		}
	}
	for _, k := range []struct {
		err  error
		text string
	}{
		{auth.ErrInvalidInput, ""},
		{auth.ErrConflict, ""},
		{enhance.ErrInvalidInput, ""},
		{enhance.ErrModelNotInstalled, "modelo no instalado: "},
		{enhance.ErrFaceUnavailable, ""},
		{enhance.ErrTooLarge, "demasiado grande: "},
	} {
		if errors.Is(err, k.err) {
			if i := strings.Index(msg, k.err.Error()+": "); i >= 0 {
				return msg[:i] + k.text + msg[i+len(k.err.Error())+2:]
			}
		}
	}
	return msg
}

// dataPrefix is the manual's wording for bad media data, by field, as api's
// own refusals of those fields word it too.
var dataPrefix = map[string]string{
	"image_base64": "Datos de imagen inválidos: ",
	"video_base64": "Datos de video inválidos: ",
}

// handlerFunc is an HTTP handler that reports failure by returning an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapter turns handlerFuncs into http.Handlers: a returned error becomes
// {"error": msg} with the status of its kind.
type adapter struct {
	log *slog.Logger
}

func (a adapter) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

func (a adapter) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	status := statusOf[e.Kind]
	if e.Kind == Internal {
		cause := err
		if e.Err != nil {
			cause = e.Err
		}
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", cause)
	}
	if e.Kind == Unavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	if e.Kind == Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer`)
	}
	writeJSON(w, status, map[string]string{"error": e.Msg})
}

// writeJSON writes v as the JSON body with status. A failed write means
// the client has gone; there is nobody left to tell.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
