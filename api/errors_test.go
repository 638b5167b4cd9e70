package api_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestBadInputs: what the manual's clients get wrong gets the documented
// 4xx with a message naming the fault.
func TestBadInputs(t *testing.T) {
	e := newEnv(t, envOptions{maxBodyBytes: 1 << 20})
	access, _ := e.user("miusuario")
	photo := base64.StdEncoding.EncodeToString(encodePNG(t, photoCrop(t, "astronaut.png", 210, 110, 16)))

	var gifBuf bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White})
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	gif64 := base64.StdEncoding.EncodeToString(gifBuf.Bytes())
	big := `{"image_base64": "` + strings.Repeat("A", 2<<20) + `"}`

	for _, c := range []struct {
		name      string
		body      any
		status    int
		fragments []string
	}{
		{"invalid base64", map[string]any{"image_base64": "esto no es base64!!"}, 400, []string{"Datos de imagen inválidos: image_base64: no es base64 válido"}},
		{"not an image", map[string]any{"image_base64": base64.StdEncoding.EncodeToString([]byte("hola, mundo"))}, 400, []string{"Datos de imagen inválidos: image_base64: no es una imagen PNG, JPEG ni WEBP"}},
		{"truncated png", map[string]any{"image_base64": photo[:64]}, 400, []string{"Datos de imagen inválidos: image_base64: ", "png"}},
		{"gif", map[string]any{"image_base64": gif64}, 400, []string{"Formato no soportado: gif"}},
		{"missing image", map[string]any{"filename": "x.png"}, 400, []string{"image_base64"}},
		{"unknown model", map[string]any{"image_base64": photo, "model_type": "modelo_inexistente"}, 400, []string{`model_type: modelo desconocido "modelo_inexistente" (modelos: `}},
		{"scale 0", map[string]any{"image_base64": photo, "model_type": testModel, "scale": 0}, 400, []string{"scale", "1 y 4"}},
		{"scale 5", map[string]any{"image_base64": photo, "model_type": testModel, "scale": 5}, 400, []string{"scale", "1 y 4"}},
		{"scale as text", map[string]any{"image_base64": photo, "scale": "4"}, 400, []string{"scale", "integer"}},
		{"negative width", map[string]any{"image_base64": photo, "output_width": -5}, 400, []string{"output_width"}},
		{"malformed json", `{"image_base64": "abc",`, 400, []string{"JSON inválido"}},
		{"not an object", `["image_base64"]`, 400, []string{"JSON inválido"}},
		{"empty body", ``, 400, []string{"JSON inválido"}},
		{"body too large", big, 413, []string{"límite"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.do("POST", "/api/images/enhance", access, c.body).want(t, c.status, c.fragments...)
		})
	}
	t.Run("body too large, chunked", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/images/enhance", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.Header.Set("Authorization", "Bearer "+access)
		e.send(req).want(t, 413, "límite")
	})
	// Refused requests leave nothing behind.
	if n := storedFiles(t, e.dataDir); len(n) != 0 {
		t.Errorf("refused requests stored files: %v", n)
	}
	r := e.do("GET", "/api/images", access, nil).want(t, 200)
	if num(t, r.body, "total") != 0 {
		t.Errorf("refused requests were recorded: %v", r.body)
	}

	t.Run("register", func(t *testing.T) {
		for _, c := range []struct {
			body  map[string]string
			field string
		}{
			{map[string]string{"email": "a@ejemplo.com", "password": "mipassword123"}, "username"},
			{map[string]string{"username": "abc", "password": "mipassword123"}, "email"},
			{map[string]string{"username": "abc", "email": "no-es-un-email", "password": "mipassword123"}, "email"},
			{map[string]string{"username": "abc", "email": "a@ejemplo.com"}, "password"},
			{map[string]string{"username": "abc", "email": "a@ejemplo.com", "password": "123"}, "password"},
		} {
			e.do("POST", "/api/auth/register", "", c.body).want(t, 400, c.field)
		}
		e.do("POST", "/api/auth/login", "", `{"email": 5}`).want(t, 400, "email")
		e.do("POST", "/api/auth/refresh", "", map[string]string{}).want(t, 400, "refresh_token")
		e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": "inventado"}).want(t, 401)
	})
}

// TestTokens: only unexpired HS256 access tokens of ours are accepted.
func TestTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	access, refresh := e.user("miusuario")
	r := e.do("GET", "/api/auth/me", access, nil).want(t, 200)
	userID := str(t, obj(t, r.body, "user"), "id")

	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": userID, "type": "access", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	if tok := sign(jwt.SigningMethodHS256, e.secret, valid()); e.do("GET", "/api/auth/me", tok, nil).status != 200 {
		t.Fatal("a token the tests sign like the server is refused; the cases below would prove nothing")
	}
	tampered := func() string {
		parts := strings.Split(access, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = bytes.Replace(payload, []byte(userID), []byte(strings.Repeat("0", 24)), 1)
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		return strings.Join(parts, ".")
	}()
	expired := valid()
	expired["iat"], expired["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	noExp := valid()
	delete(noExp, "exp")
	wrongType := valid()
	wrongType["type"] = "refresh"
	noType := valid()
	delete(noType, "type")
	future := valid()
	future["iat"] = now.Add(time.Hour).Unix()
	unknownUser := valid()
	unknownUser["sub"] = "0123456789abcdef01234567"

	for _, c := range []struct {
		name   string
		header string
		msg    string
	}{
		{"missing", "", "Token de autenticación requerido"},
		{"not bearer", "Basic dXNlcjpwYXNz", "Token de autenticación requerido"},
		{"empty bearer", "Bearer ", "Token de autenticación requerido"},
		{"garbage", "Bearer abc.def.ghi", "Token inválido o expirado"},
		{"tampered", "Bearer " + tampered, "Token inválido o expirado"},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, expired), "Token inválido o expirado"},
		{"no exp", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, noExp), "Token inválido o expirado"},
		{"issued in the future", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, future), "Token inválido o expirado"},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), "Token inválido o expirado"},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, e.secret, valid()), "Token inválido o expirado"},
		{"other key", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more"), valid()), "Token inválido o expirado"},
		{"refresh type", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, wrongType), "Token inválido o expirado"},
		{"no type", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, noType), "Token inválido o expirado"},
		{"unknown user", "Bearer " + sign(jwt.SigningMethodHS256, e.secret, unknownUser), "Token inválido o expirado"},
		{"refresh token as access", "Bearer " + refresh, "Token inválido o expirado"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{
				{"GET", "/api/auth/me"}, {"GET", "/api/images"}, {"POST", "/api/images/enhance"},
				{"GET", "/api/images/0123456789abcdef01234567"}, {"DELETE", "/api/images/0123456789abcdef01234567"},
				{"POST", "/api/auth/logout"}, {"GET", "/api/videos"}, {"POST", "/api/videos/enhance"},
			} {
				req, _ := http.NewRequest(route.method, e.srv.URL+route.path, strings.NewReader(`{}`))
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				e.send(req).want(t, 401, c.msg)
			}
		})
	}
}

// TestSystem covers the endpoints without authentication, CORS and routing.
func TestSystem(t *testing.T) {
	e := newEnv(t, envOptions{})

	r := e.do("GET", "/api/health", "", nil).want(t, 200)
	svc := obj(t, r.body, "services")
	if str(t, r.body, "status") != "healthy" || svc["api"] != "ok" || svc["sqlite"] != "ok" || svc["gpu"] != "not available" {
		t.Errorf("health %v", r.body)
	}

	r = e.do("GET", "/api/models", "", nil).want(t, 200)
	models := r.body["models"].([]any)
	if num(t, r.body, "total") != len(models) || len(models) != 5 {
		t.Errorf("models %v", r.body)
	}
	for _, m := range models {
		m := m.(map[string]any)
		for _, k := range []string{"id", "name", "description", "use_case"} {
			str(t, m, k)
		}
		num(t, m, "default_scale")
		if _, ok := m["installed"].(bool); !ok {
			t.Errorf("model %v lacks installed", m["id"])
		}
		if m["id"] == testModel && m["installed"] != true {
			t.Errorf("%s not reported installed", testModel)
		}
	}

	r = e.do("GET", "/api/info", "", nil).want(t, 200)
	if str(t, r.body, "name") == "" || str(t, r.body, "runtime") != "cpu" {
		t.Errorf("info %v", r.body)
	}

	r = e.do("GET", "/api/openapi.json", "", nil).want(t, 200)
	if str(t, r.body, "openapi") != "3.1.0" {
		t.Errorf("openapi %v", r.body["openapi"])
	}
	paths := obj(t, r.body, "paths")
	for path, methods := range map[string][]string{
		"/api/auth/register": {"post"}, "/api/auth/login": {"post"}, "/api/auth/refresh": {"post"},
		"/api/auth/logout": {"post"}, "/api/auth/me": {"get"},
		"/api/images/enhance": {"post"}, "/api/images": {"get"}, "/api/images/{id}": {"get", "delete"},
		"/api/videos/enhance": {"post"}, "/api/videos": {"get"}, "/api/videos/{id}": {"get", "delete"},
		"/api/videos/{id}/download": {"get"},
		"/api/models":               {"get"}, "/api/health": {"get"}, "/api/info": {"get"},
	} {
		p, ok := paths[path].(map[string]any)
		if !ok {
			t.Errorf("openapi lacks %s", path)
			continue
		}
		for _, m := range methods {
			if _, ok := p[m]; !ok {
				t.Errorf("openapi lacks %s %s", m, path)
			}
		}
	}

	// CORS preflight.
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/images/enhance", nil)
	req.Header.Set("Origin", "https://app.ejemplo.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	r = e.send(req)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	if r = e.do("GET", "/api/health", "", nil); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header on a plain request")
	}

	e.do("GET", "/api/no-existe", "", nil).want(t, 404, "Ruta no encontrada")
	r = e.do("PUT", "/api/images/0123456789abcdef01234567", "", nil).want(t, 405)
	if !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("405 without Allow: %v", r.header)
	}

	// /docs serves Swagger UI when installed, else says how to install it.
	r = e.do("GET", "/docs/", "", nil)
	switch r.status {
	case 200:
		if !strings.Contains(string(r.raw), "/api/openapi.json") {
			t.Errorf("/docs/ does not load our document: %.200s", r.raw)
		}
		e.do("GET", "/docs/swagger-ui-bundle.js", "", nil).want(t, 200)
	default:
		r.want(t, 503, "npm install")
		t.Errorf("Swagger UI is not installed: %s", r.body["error"])
	}
}
