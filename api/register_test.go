package api_test

import (
	"strings"
	"testing"
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
}
