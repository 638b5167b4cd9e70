package video

import (
	"os"
	"path/filepath"
	"testing"
)

// media returns the path of a test clip. Clips come from Debian packages
// (see the Makefile's testmedia target) into $IE_TESTMEDIA, by default
// .testmedia at the repository root; they are never committed. A missing
// clip fails the test: CI always provides them.
func media(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("IE_TESTMEDIA")
	if dir == "" {
		dir = filepath.Join("..", ".testmedia")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test clip missing (fetch the test media, see the Makefile): %v", err)
	}
	return p
}
