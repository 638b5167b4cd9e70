package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"imageenhancer/store"
)

// timeLayout is how the manual writes timestamps ("2024-12-03T10:30:00"):
// UTC, to the second, without a zone.
const timeLayout = "2006-01-02T15:04:05"

// jsonTime is a timestamp in the manual's layout.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timeLayout) + `"`), nil
}

// timePtr is nil (JSON null) for a nil time.
func timePtr(t *time.Time) *jsonTime {
	if t == nil {
		return nil
	}
	jt := jsonTime(*t)
	return &jt
}

// decodeJSON reads the request body into v. A body too large is the
// MaxBytesError (413); anything that is not one JSON object of the right
// shape is a 400 naming the field at fault.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(err2, &mbe) {
				return mbe
			}
			return errorf(InvalidInput, "JSON inválido: contenido adicional tras el objeto")
		}
		return nil
	}
	var (
		mbe *http.MaxBytesError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, io.EOF):
		return errorf(InvalidInput, "JSON inválido: cuerpo vacío")
	case errors.As(err, &syn):
		return errorf(InvalidInput, "JSON inválido: error de sintaxis en el byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return errorf(InvalidInput, "JSON inválido: el campo %s debe ser de tipo %s", typ.Field, jsonType(typ.Type.Kind().String()))
		}
		return errorf(InvalidInput, "JSON inválido: se esperaba un objeto")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(InvalidInput, "JSON inválido: cuerpo incompleto")
	}
	return errorf(InvalidInput, "JSON inválido: %v", err)
}

// jsonType names a Go kind as JSON does.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "int32", "uint", "uint64":
		return "integer"
	case "float64", "float32":
		return "number"
	case "slice":
		return "array"
	}
	return "object"
}

// Pagination limits of the manual.
const (
	defaultPerPage = 10
	maxPerPage     = 100
	// maxPage keeps the store's offset, (page-1)×per_page, far from
	// overflowing int64 (where SQLite would answer page 1 and MongoDB fail).
	maxPage = math.MaxInt32
)

// listOptions reads page, per_page and status from the query. per_page past
// the maximum is clamped to it; statuses are checked against allowed.
func listOptions(r *http.Request, allowed ...string) (store.ListOptions, error) {
	q := r.URL.Query()
	opt := store.ListOptions{Page: 1, PerPage: defaultPerPage, Status: q.Get("status")}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &opt.Page}, {"per_page", &opt.PerPage}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return opt, errorf(InvalidInput, "%s debe ser un entero mayor o igual que 1", p.name)
		}
		if p.name == "page" && n > maxPage {
			return opt, errorf(InvalidInput, "page debe ser un entero entre 1 y %d", maxPage)
		}
		*p.dst = n
	}
	opt.PerPage = min(opt.PerPage, maxPerPage)
	if opt.Status != "" {
		ok := false
		for _, a := range allowed {
			ok = ok || a == opt.Status
		}
		if !ok {
			return opt, errorf(InvalidInput, "status inválido: %q (valores: %v)", opt.Status, allowed)
		}
	}
	return opt, nil
}

// pathID is the {id} of the route, checked to be a record id (24 hex
// characters); anything else cannot exist, so it is a 404 like a stranger's.
func pathID(r *http.Request, notFoundMsg string) (string, error) {
	id := r.PathValue("id")
	if len(id) != 24 {
		return "", notFound(notFoundMsg)
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", notFound(notFoundMsg)
		}
	}
	return id, nil
}

// notFound is a 404 with msg ("Imagen no encontrada").
func notFound(msg string) *Error { return &Error{Kind: NotFound, Msg: msg} }

// wrapNotFound turns store.ErrNotFound into the resource's own 404 message.
func wrapNotFound(err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(msg)
	}
	return err
}

// userRecord is the caller's record of the route's {id}, looked up with
// byID (store's ImageByID or VideoByID); a bad id, a missing record and a
// stranger's are all the same 404 with notFoundMsg.
func userRecord[T any](r *http.Request, u *store.User, notFoundMsg string,
	byID func(ctx context.Context, userID, id string) (*T, error)) (*T, error) {
	id, err := pathID(r, notFoundMsg)
	if err != nil {
		return nil, err
	}
	rec, err := byID(r.Context(), u.ID, id)
	if err != nil {
		return nil, wrapNotFound(err, notFoundMsg)
	}
	return rec, nil
}

// writePage writes one page of a list as the manual shows it: total, page,
// per_page and the records under key, each shown with view.
func writePage[T, J any](w http.ResponseWriter, opt store.ListOptions, total int64, key string, recs []T, view func(*T) J) {
	views := make([]J, len(recs))
	for i := range recs {
		views[i] = view(&recs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "page": opt.Page, "per_page": opt.PerPage, key: views})
}
