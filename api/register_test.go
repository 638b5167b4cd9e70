package api_test

import "testing"

// Usernames are shown back in lists and logs: control characters are a 400
// naming the field.
func TestRegisterUsernameControlCharacters(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, name := range []string{"a\x00bc", "ab\ncd", "tab\tname"} {
		e.do("POST", "/api/auth/register", "", map[string]string{"username": name, "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 400, "username")
	}
	e.do("POST", "/api/auth/register", "", map[string]string{"username": "José Núñez", "email": "x@ejemplo.com", "password": "mipassword123"}).want(t, 201)
}
