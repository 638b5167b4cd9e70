package api_test

import (
	"testing"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
)

// testRuntime is the CPU runtime (oneDNN) the tests run the real models on.
func testRuntime(t *testing.T) enhance.Runtime {
	t.Helper()
	rt, err := cpu.New(cpu.Config{})
	if err != nil {
		t.Fatalf("CPU runtime: %v (needs Debian's libdnnl-dev and cgo)", err)
	}
	return rt
}
