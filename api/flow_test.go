package api_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var idPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// TestManualFlow drives the real server through the manual's flows, in the
// manual's order: register → login → me → refresh → enhance → list → get →
// delete → logout, with a second user who must not see the first's images.
func TestManualFlow(t *testing.T) {
	e := newEnv(t, envOptions{})

	// Register: 201 with the manual's body.
	r := e.do("POST", "/api/auth/register", "", map[string]string{
		"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123",
	}).want(t, 201)
	if got := str(t, r.body, "message"); got != "Usuario registrado exitosamente" {
		t.Errorf("message %q", got)
	}
	u := obj(t, r.body, "user")
	if !idPattern.MatchString(str(t, u, "id")) || str(t, u, "username") != "miusuario" ||
		str(t, u, "email") != "usuario@ejemplo.com" || u["is_active"] != true {
		t.Errorf("user %v", u)
	}
	if _, ok := u["hashed_password"]; ok {
		t.Error("the password hash is in the answer")
	}
	checkTimestamp(t, u, "created_at")

	// The same email or username again: 409.
	e.do("POST", "/api/auth/register", "", map[string]string{
		"username": "otro", "email": "usuario@ejemplo.com", "password": "mipassword123",
	}).want(t, 409, "email")
	e.do("POST", "/api/auth/register", "", map[string]string{
		"username": "miusuario", "email": "otro@ejemplo.com", "password": "mipassword123",
	}).want(t, 409)

	// Login by email: 200 with the manual's tokens.
	e.do("POST", "/api/auth/login", "", map[string]string{"email": "usuario@ejemplo.com", "password": "incorrecta"}).want(t, 401)
	e.do("POST", "/api/auth/login", "", map[string]string{"email": "nadie@ejemplo.com", "password": "mipassword123"}).want(t, 401)
	r = e.do("POST", "/api/auth/login", "", map[string]string{"email": "usuario@ejemplo.com", "password": "mipassword123"}).want(t, 200)
	if got := str(t, r.body, "message"); got != "Login exitoso" {
		t.Errorf("message %q", got)
	}
	tok := obj(t, r.body, "tokens")
	access, refresh := str(t, tok, "access_token"), str(t, tok, "refresh_token")
	if str(t, tok, "token_type") != "bearer" {
		t.Errorf("token_type %v", tok["token_type"])
	}
	if b, err := base64.RawURLEncoding.DecodeString(refresh); err != nil || len(b) != 32 {
		t.Errorf("refresh token %q is not 256 bits of base64url", refresh)
	}

	// Me.
	r = e.do("GET", "/api/auth/me", access, nil).want(t, 200)
	if me := obj(t, r.body, "user"); str(t, me, "email") != "usuario@ejemplo.com" || str(t, me, "id") != str(t, u, "id") {
		t.Errorf("me %v", me)
	}

	// Refresh rotates; the old token is then refused, and presenting it
	// revokes the new one too.
	r = e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh}).want(t, 200)
	tok2 := obj(t, r.body, "tokens")
	access2, refresh2 := str(t, tok2, "access_token"), str(t, tok2, "refresh_token")
	if refresh2 == refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	e.do("GET", "/api/auth/me", access2, nil).want(t, 200)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh}).want(t, 401, "Refresh token")
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh2}).want(t, 401, "Refresh token")

	// A fresh session for the rest.
	r = e.do("POST", "/api/auth/login", "", map[string]string{"email": "usuario@ejemplo.com", "password": "mipassword123"}).want(t, 200)
	tok = obj(t, r.body, "tokens")
	access, refresh = str(t, tok, "access_token"), str(t, tok, "refresh_token")

	// Enhance a real photo crop, asking for the width only: the height
	// follows the aspect ratio.
	crop := encodePNG(t, photoCrop(t, "astronaut.png", 210, 110, 32))
	r = e.do("POST", "/api/images/enhance", access, map[string]any{
		"image_base64": base64.StdEncoding.EncodeToString(crop),
		"filename":     "astronauta.png",
		"model_type":   testModel,
		"output_width": 100,
	}).want(t, 201)
	if got := str(t, r.body, "message"); got != "Imagen procesada exitosamente" {
		t.Errorf("message %q", got)
	}
	im1 := obj(t, r.body, "image")
	checkImage(t, im1, 32, 32, 100, 100)
	if im1["output_width"] != 100.0 || im1["output_height"] != nil {
		t.Errorf("output_width %v output_height %v, want 100 and null", im1["output_width"], im1["output_height"])
	}
	if str(t, im1, "original_base64") != base64.StdEncoding.EncodeToString(crop) {
		t.Error("original_base64 is not the upload")
	}
	id1 := str(t, im1, "id")

	// Both sizes: exactly that size. A JPEG this time, with a data: URL.
	crop2 := encodeJPEG(t, photoCrop(t, "chelsea.png", 150, 140, 32))
	r = e.do("POST", "/api/images/enhance", access, map[string]any{
		"image_base64":  "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(crop2),
		"filename":      "gato.jpeg",
		"model_type":    testModel,
		"scale":         4,
		"output_width":  96,
		"output_height": 48,
	}).want(t, 201)
	im2 := obj(t, r.body, "image")
	checkImage(t, im2, 32, 32, 96, 48)
	if im2["output_width"] != 96.0 || im2["output_height"] != 48.0 {
		t.Errorf("output sizes %v×%v", im2["output_width"], im2["output_height"])
	}
	id2 := str(t, im2, "id")

	// The files are on disk, the original with its own extension.
	files := storedFiles(t, e.dataDir)
	for _, want := range []string{"original.png", "original.jpeg", "enhanced.png"} {
		if files[want] == 0 {
			t.Errorf("no stored %s in %v", want, files)
		}
	}

	// List: newest first, paginated, without the files.
	r = e.do("GET", "/api/images?page=1&per_page=1", access, nil).want(t, 200)
	if num(t, r.body, "total") != 2 || num(t, r.body, "page") != 1 || num(t, r.body, "per_page") != 1 {
		t.Errorf("list header %v", r.body)
	}
	page1 := r.body["images"].([]any)
	if len(page1) != 1 || str(t, page1[0].(map[string]any), "id") != id2 {
		t.Errorf("page 1 %v, want the newest image %s", page1, id2)
	}
	for _, k := range []string{"original_base64", "enhanced_base64"} {
		if _, ok := page1[0].(map[string]any)[k]; ok {
			t.Errorf("the list carries %s", k)
		}
	}
	r = e.do("GET", "/api/images?page=2&per_page=1", access, nil).want(t, 200)
	if page2 := r.body["images"].([]any); len(page2) != 1 || str(t, page2[0].(map[string]any), "id") != id1 {
		t.Errorf("page 2 %v, want %s", page2, id1)
	}
	r = e.do("GET", "/api/images?page=3&per_page=1", access, nil).want(t, 200)
	if page3 := r.body["images"].([]any); len(page3) != 0 || num(t, r.body, "total") != 2 {
		t.Errorf("page 3 %v", r.body)
	}
	r = e.do("GET", "/api/images", access, nil).want(t, 200)
	if num(t, r.body, "per_page") != 10 || len(r.body["images"].([]any)) != 2 {
		t.Errorf("default page %v", r.body)
	}
	r = e.do("GET", "/api/images?per_page=1000", access, nil).want(t, 200)
	if num(t, r.body, "per_page") != 100 {
		t.Errorf("per_page not capped at 100: %v", r.body["per_page"])
	}
	for status, total := range map[string]int{"completed": 2, "failed": 0, "pending": 0, "processing": 0} {
		r = e.do("GET", "/api/images?status="+status, access, nil).want(t, 200)
		if num(t, r.body, "total") != total || len(r.body["images"].([]any)) != total {
			t.Errorf("status=%s: %v, want %d", status, r.body, total)
		}
	}
	e.do("GET", "/api/images?status=terminada", access, nil).want(t, 400, "status")
	e.do("GET", "/api/images?page=0", access, nil).want(t, 400, "page")
	e.do("GET", "/api/images?per_page=x", access, nil).want(t, 400, "per_page")

	// Get: the record with both files.
	r = e.do("GET", "/api/images/"+id1, access, nil).want(t, 200)
	got := obj(t, r.body, "image")
	for _, k := range []string{"original_base64", "enhanced_base64", "enhanced_width", "created_at", "completed_at", "model_type"} {
		if fmt.Sprint(got[k]) != fmt.Sprint(im1[k]) {
			t.Errorf("get %s = %.60v, enhance said %.60v", k, got[k], im1[k])
		}
	}

	// Another user sees none of it.
	otherAccess, _ := e.user("otro")
	e.do("GET", "/api/images/"+id1, otherAccess, nil).want(t, 404, "Imagen no encontrada")
	e.do("DELETE", "/api/images/"+id1, otherAccess, nil).want(t, 404, "Imagen no encontrada")
	r = e.do("GET", "/api/images", otherAccess, nil).want(t, 200)
	if num(t, r.body, "total") != 0 {
		t.Errorf("the other user lists %v", r.body)
	}
	e.do("GET", "/api/images/"+id1, access, nil).want(t, 200) // still there

	// Delete: the record and both files go.
	before := storedFiles(t, e.dataDir)
	r = e.do("DELETE", "/api/images/"+id1, access, nil).want(t, 200)
	if str(t, r.body, "message") != "Imagen eliminada exitosamente" {
		t.Errorf("delete message %v", r.body)
	}
	after := storedFiles(t, e.dataDir)
	if after["original.png"] != before["original.png"]-1 || after["enhanced.png"] != before["enhanced.png"]-1 || after["original.jpeg"] != 1 {
		t.Errorf("files before %v after %v: want one original.png and one enhanced.png fewer", before, after)
	}
	if n := countDirs(t, filepath.Join(e.dataDir, "images")); n != 1 {
		t.Errorf("%d image folders left, want 1", n)
	}
	e.do("GET", "/api/images/"+id1, access, nil).want(t, 404)
	e.do("DELETE", "/api/images/"+id1, access, nil).want(t, 404)
	e.do("GET", "/api/images/not-an-id", access, nil).want(t, 404)

	// Logout: only the caller's own refresh token; then it is refused.
	e.do("POST", "/api/auth/logout", otherAccess, map[string]string{"refresh_token": refresh}).want(t, 401)
	r = e.do("POST", "/api/auth/logout", access, map[string]string{"refresh_token": refresh}).want(t, 200)
	if str(t, r.body, "message") == "" {
		t.Errorf("logout answer %v", r.body)
	}
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh}).want(t, 401)
}

// checkImage checks an enhance or get answer against the sizes asked for and
// the PNG it carries.
func checkImage(t *testing.T, im map[string]any, ow, oh, ew, eh int) {
	t.Helper()
	if !idPattern.MatchString(str(t, im, "id")) {
		t.Errorf("id %v", im["id"])
	}
	if str(t, im, "status") != "completed" || im["error_message"] != nil {
		t.Errorf("status %v error %v", im["status"], im["error_message"])
	}
	if str(t, im, "model_type") != testModel || num(t, im, "scale") != 4 || im["face_enhance"] != false || im["gpu_used"] != false {
		t.Errorf("model %v scale %v face %v gpu %v", im["model_type"], im["scale"], im["face_enhance"], im["gpu_used"])
	}
	if num(t, im, "original_width") != ow || num(t, im, "original_height") != oh ||
		num(t, im, "enhanced_width") != ew || num(t, im, "enhanced_height") != eh {
		t.Errorf("sizes %v×%v → %v×%v, want %d×%d → %d×%d", im["original_width"], im["original_height"],
			im["enhanced_width"], im["enhanced_height"], ow, oh, ew, eh)
	}
	if num(t, im, "processing_time_ms") < 0 {
		t.Errorf("processing_time_ms %v", im["processing_time_ms"])
	}
	checkTimestamp(t, im, "created_at")
	checkTimestamp(t, im, "completed_at")
	m := decodePNGBase64(t, str(t, im, "enhanced_base64"))
	if b := m.Bounds(); b.Dx() != ew || b.Dy() != eh {
		t.Errorf("enhanced PNG is %d×%d, want %d×%d", b.Dx(), b.Dy(), ew, eh)
	}
}

// storedFiles counts the files under dataDir/images by name.
func storedFiles(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	n := map[string]int{}
	err := filepath.WalkDir(filepath.Join(dataDir, "images"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			n[d.Name()]++
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}

func countDirs(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			n++
		}
	}
	return n
}
