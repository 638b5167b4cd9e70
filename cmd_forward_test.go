package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestForwardCommand: `forward` writes the reference's format, and its
// numbers are the reference's within the fixtures' tolerance.
func TestForwardCommand(t *testing.T) {
	const dir = "../shared/fixtures/sr/"
	out := filepath.Join(t.TempDir(), "out.f32")
	if err := runForward([]string{"-weights", dir + "weights/srvgg_x4_c4.pth",
		"-input", dir + "inputs/coffee_17x13.png", "-output", out}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(dir + "expected/srvgg_x4_c4__coffee_17x13.f32")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d bytes, want %d", len(got), len(want))
	}
	var g, w []float32 = make([]float32, len(got)/4), make([]float32, len(want)/4)
	binary.Read(bytes.NewReader(got), binary.LittleEndian, g)
	binary.Read(bytes.NewReader(want), binary.LittleEndian, w)
	for i := range g {
		if math.Abs(float64(g[i]-w[i])) > 1e-3 {
			t.Fatalf("value %d: %v, want %v", i, g[i], w[i])
		}
	}
	for _, args := range [][]string{
		{},
		{"-weights", dir + "weights/srvgg_x4_c4.pth", "-input", "missing.png", "-output", out},
		{"-weights", "missing.pth", "-input", dir + "inputs/coffee_17x13.png", "-output", out},
		{"-weights", dir + "weights/srvgg_x4_c4.pth", "-input", dir + "inputs/coffee_17x13.png", "-output", out, "-device", "tpu"},
	} {
		if err := runForward(args); err == nil {
			t.Errorf("forward %q: no error", args)
		}
	}
}
