package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"imageenhancer/store"
)

// Usernames are shown back in lists and logs: control characters are a 400
// naming the field.
func TestRegisterUsernameControlCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, name := range []string{"a\x00bc", "ab\ncd", "tab\tname"} {
		e.do("POST", "/api/auth/register", "", map[string]string{"username": name, "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 400, "username")
	}
	e.do("POST", "/api/auth/register", "", map[string]string{"username": "José Núñez", "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 201)
}

// The open auth routes read at most 64 KiB of body, whatever MAX_BODY_BYTES.
func TestAuthBodyLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	big := strings.Repeat("a", 65<<10)
	e.do("POST", "/api/auth/register", "", map[string]string{"username": big, "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 413)
	e.do("POST", "/api/auth/login", "", map[string]string{"email": "x@ejemplo.com", "password": big}).want(t, 413)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": big}).want(t, 413)
	e.do("POST", "/api/auth/register", "", map[string]string{"username": strings.Repeat("a", 51), "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 400, "username")
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" // 254
	e.do("POST", "/api/auth/register", "", map[string]string{"username": "abc", "email": "x" + long, "password": "mipassword123"}).want(t, 400, "email", "254")
	e.do("POST", "/api/auth/register", "", map[string]string{"username": "abc", "email": long, "password": "mipassword123"}).want(t, 201)
}

// Emails are compared lower-cased: a second registration differing only in
// case is a 409 and login accepts any case; the header's Bearer is read
// without regard to case or surrounding spaces; an access token used as a
// refresh token is a 401; an inactive user's token is a 403.
func TestAuthEdges(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do("POST", "/api/auth/register", "", map[string]string{"username": "ana", "email": " Ana@Ejemplo.COM ", "password": "mipassword123"}).want(t, 201)
	if got := str(t, obj(t, r.body, "user"), "email"); got != "ana@ejemplo.com" {
		t.Errorf("stored email %q, want ana@ejemplo.com", got)
	}
	e.do("POST", "/api/auth/register", "", map[string]string{"username": "ana2", "email": "ANA@ejemplo.com", "password": "mipassword123"}).want(t, 409, "email")
	r = e.do("POST", "/api/auth/login", "", map[string]string{"email": "aNa@EJEMPLO.com", "password": "mipassword123"}).want(t, 200)
	access := str(t, obj(t, r.body, "tokens"), "access_token")
	for _, h := range []string{"bearer " + access, "Bearer   " + access + "  "} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/auth/me", nil)
		req.Header.Set("Authorization", h)
		e.send(req).want(t, 200)
	}
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": access}).want(t, 401, "Refresh token")

	// No route deactivates a user: the record is made inactive in the store.
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte("mipassword123"), 4)
	u := &store.User{Username: "baja", Email: "baja@ejemplo.com", HashedPassword: string(hash), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": u.ID, "type": "access", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(e.secret)
	if err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/auth/me", tok, nil).want(t, 403, "inactivo")
	e.do("GET", "/api/images", tok, nil).want(t, 403, "inactivo")
	e.do("POST", "/api/auth/login", "", map[string]string{"email": "baja@ejemplo.com", "password": "mipassword123"}).want(t, 403, "inactivo")
}
