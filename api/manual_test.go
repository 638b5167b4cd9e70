package api_test

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// manualPath is the user manual whose examples must run unchanged.
const manualPath = "../../shared/seeds/MANUAL_USUARIO_API.md"

// manualBlock returns the first fenced code block of language lang after
// the heading, read from the manual at test time.
func manualBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	path := manualPath
	if p := os.Getenv("MANUAL_PATH"); p != "" {
		path = p
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the user manual: %v (set MANUAL_PATH)", err)
	}
	md := string(b)
	i := strings.Index(md, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("the manual has no heading %q", heading)
	}
	m := regexp.MustCompile("(?s)\n```" + lang + "\n(.*?)\n```").FindStringSubmatch(md[i:])
	if m == nil {
		t.Fatalf("no ```%s block after %q", lang, heading)
	}
	return m[1]
}

// substitute replaces old by new in an example, failing if old is not
// there: a substitution that stops applying must be noticed.
func substitute(t *testing.T, code, old, new string) string {
	t.Helper()
	if !strings.Contains(code, old) {
		t.Fatalf("the example no longer contains %q", old)
	}
	return strings.ReplaceAll(code, old, new)
}

// TestManualExamples runs the manual's Python and cURL (bash + jq) examples
// against a real listening server. The only substitutions are the base URL
// (the manual's http://localhost:8888 → the test server) and, in the Python
// example, model_type "anime" → general_v3 unless the anime model is
// installed: its weights (RealESRGAN_x4plus_anime_6B.pth) cannot be fetched
// at setup, and without them the server rightly answers 400 naming the file.
// The examples' own credentials and file names are used: the test registers
// usuario@ejemplo.com / mipassword123 and writes a real photo crop as
// mi_imagen.jpg in the working folder.
func TestManualExamples(t *testing.T) {
	python := pythonWithRequests(t)
	for _, tool := range []string{"bash", "curl", "jq", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the manual's bash example needs %s (Debian: apt-get install %s)", tool, tool)
		}
	}

	e := newEnv(t, envOptions{})
	e.do("POST", "/api/auth/register", "", map[string]string{
		"username": "miusuario", "email": "usuario@ejemplo.com", "password": "mipassword123",
	}).want(t, 201)

	const manualURL = "http://localhost:8888"
	run := func(t *testing.T, name, code string, argv ...string) (dir, out string) {
		t.Helper()
		dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "mi_imagen.jpg"), encodeJPEG(t, photoCrop(t, "coffee.png", 300, 200, 32)), 0o644); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(dir, name)
		if err := os.WriteFile(script, []byte(code), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(argv[0], append(argv[1:], script)...)
		cmd.Dir = dir
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s failed: %v\n%s", name, err, buf.String())
		}
		return dir, buf.String()
	}
	checkOutput := func(t *testing.T, dir, out string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !strings.Contains(out, l) {
				t.Errorf("output lacks %q:\n%s", l, out)
			}
		}
		f, err := os.Open(filepath.Join(dir, "imagen_mejorada.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg, err := png.DecodeConfig(f)
		if err != nil {
			t.Fatalf("imagen_mejorada.png: %v", err)
		}
		if cfg.Width != 1920 || cfg.Height != 1080 {
			t.Errorf("imagen_mejorada.png is %d×%d, want 1920×1080", cfg.Width, cfg.Height)
		}
	}

	t.Run("python", func(t *testing.T) {
		code := manualBlock(t, "### Python", "python")
		code = substitute(t, code, manualURL, e.srv.URL)
		model := "anime"
		if !installed(e.enh, model) {
			model = testModel
			code = substitute(t, code, `"model_type": "anime",`, `"model_type": "`+model+`",`)
		}
		dir, out := run(t, "ejemplo.py", code, python)
		checkOutput(t, dir, out, "Modelo: "+model, "GPU usada: False", "Tamano final: 1920x1080", "Imagen guardada!")
	})
	t.Run("bash", func(t *testing.T) {
		requireModel(t, e.enh, "general_x4") // the example leaves model_type to the default
		code := manualBlock(t, "### cURL Script (Bash)", "bash")
		code = substitute(t, code, manualURL, e.srv.URL)
		dir, out := run(t, "ejemplo.sh", code, "bash")
		checkOutput(t, dir, out, "Token obtenido: eyJ", "GPU usada: false", "Tamaño: 1920x1080", "Imagen mejorada guardada!")
	})
}

// pythonWithRequests finds a python3 that can import requests: the one on
// PATH, or Debian's, where python3-requests installs it (PATH may lead to
// another Python, such as a pyenv one).
func pythonWithRequests(t *testing.T) string {
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		python, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(python, "-c", "import requests").CombinedOutput()
		if err == nil {
			return python
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", python, err, out))
	}
	t.Fatalf("the manual's Python example needs python3 with requests (Debian: python3 python3-requests); tried %v", tried)
	return ""
}
