package video

import (
	"os"
	"path/filepath"
	"testing"
)

// clips maps the test clips' names to where their Debian packages install
// them. `make media` unpacks the packages into $IE_TESTMEDIA (default
// .testmedia at the repository root); they are never committed.
var clips = map[string]string{
	"movie.avi":               "usr/share/kphotoalbum/demo/movie.avi",
	"oa4_launch.webm":         "usr/share/games/renpy/demo/game/oa4_launch.webm",
	"VID_20191220_170832.mp4": "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
	"mp4.mp4":                 mimetype + "mp4.mp4",
	"mov.mov":                 mimetype + "mov.mov",
	"webm.webm":               mimetype + "webm.webm",
	"ogg.ogv":                 mimetype + "ogg.ogv",
	"3gp.3gp":                 mimetype + "3gp.3gp",
	"flv.flv":                 mimetype + "flv.flv",
	"mkv.mkv":                 mimetype + "mkv.mkv",
}

const mimetype = "usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata/"

// media returns the path of a test clip. A missing clip fails the test: CI
// always provides them.
func media(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("IE_TESTMEDIA")
	if dir == "" {
		dir = filepath.Join("..", ".testmedia")
	}
	p := filepath.Join(dir, clips[name])
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test clip missing (run `make media`): %v", err)
	}
	return p
}
