package api_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnhancementFault: when the enhancement itself fails (here: damaged
// weights of an installed model), the image is recorded as failed with its
// error_message, its original kept, and the answer is the manual's 500.
func TestEnhancementFault(t *testing.T) {
	engines := t.TempDir()
	for _, f := range []string{"realesrgan-x4fast.param", "realesrgan-x4fast.bin"} {
		b, err := os.ReadFile(filepath.Join(enginesDir(), f))
		if err != nil {
			t.Fatalf("%v: run `go run . models fetch`", err)
		}
		if strings.HasSuffix(f, ".bin") {
			b = b[:len(b)/3] // damaged
		}
		if err := os.WriteFile(filepath.Join(engines, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, envOptions{enginesDir: engines})
	access, _ := e.user("miusuario")
	crop := encodePNG(t, photoCrop(t, "astronaut.png", 210, 110, 16))
	e.do("POST", "/api/images/enhance", access, map[string]any{
		"image_base64": base64.StdEncoding.EncodeToString(crop), "filename": "astronauta.png", "model_type": testModel,
	}).want(t, 500, "Error procesando imagen: ")

	r := e.do("GET", "/api/images?status=failed", access, nil).want(t, 200)
	if num(t, r.body, "total") != 1 {
		t.Fatalf("failed enhancement not recorded: %v", r.body)
	}
	im := r.body["images"].([]any)[0].(map[string]any)
	if str(t, im, "status") != "failed" || str(t, im, "error_message") == "" || str(t, im, "original_filename") != "astronauta.png" ||
		num(t, im, "original_width") != 16 {
		t.Errorf("failed record %v", im)
	}
	r = e.do("GET", "/api/images/"+str(t, im, "id"), access, nil).want(t, 200)
	got := obj(t, r.body, "image")
	if str(t, got, "original_base64") != base64.StdEncoding.EncodeToString(crop) || got["enhanced_base64"] != nil {
		t.Errorf("failed image files: original %.20v enhanced %.20v", got["original_base64"], got["enhanced_base64"])
	}
	e.do("DELETE", "/api/images/"+str(t, im, "id"), access, nil).want(t, 200)
	if n := storedFiles(t, e.dataDir); len(n) != 0 {
		t.Errorf("files left: %v", n)
	}
}
