//go:build cgo

package gpu

/*
#include "shim.h"
*/
import "C"

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"imageenhancer/enhance/graph"
)

// planVersion changes when the library's kernel variants change meaning.
const planVersion = "v5"

// applyPlan reads the cached plan for this model on this GPU and driver, or
// tunes and stores one.
func (m *Model) applyPlan(net graph.Network) error {
	info := m.rt.info
	var path string
	if dir := m.rt.cfg.EnginesDir; dir != "" {
		name := fmt.Sprintf("%s-%s-%s-%s.plan", modelHash(net), slug(info.Name), slug(info.Driver), planVersion)
		path = filepath.Join(dir, "plans", name)
		// A stale or broken plan is replaced below.
		if b, err := os.ReadFile(path); err == nil && m.SetPlan(string(b)) == nil {
			m.Plan = "cache"
			return nil
		}
	}
	if m.rt.cfg.NoTune {
		m.Plan = "default"
		return nil
	}
	side := m.rt.cfg.TuneTile
	if side <= 0 {
		side = 256
	}
	side -= side % m.mult
	if err := m.Tune(1, side, side); err != nil {
		if errors.Is(err, ErrOutOfMemory) {
			m.Plan = "default"
			return nil
		}
		return fmt.Errorf("gpu: tuning: %w", err)
	}
	m.Plan = "tuned"
	if path == "" {
		return nil
	}
	text := m.PlanText()
	// A plan that cannot be saved only costs a tuning next time.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, []byte(text), 0o644) == nil {
			os.Rename(tmp, path)
		}
	}
	return nil
}

// modelHash identifies a network by its architecture and every weight.
func modelHash(net graph.Network) string {
	h := sha256.New()
	var b [8]byte
	put := func(v int) {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	floats := func(f []float32) {
		put(len(f))
		buf := make([]byte, 4*len(f))
		for i, v := range f {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf)
	}
	conv := func(c *graph.Conv) {
		put(c.Out)
		put(c.In)
		put(c.K)
		floats(c.Weight)
		floats(c.Bias)
	}
	switch n := net.(type) {
	case *graph.RRDBNet:
		h.Write([]byte("rrdb"))
		put(n.Scale)
		put(n.NumFeat)
		put(n.NumGrow)
		conv(&n.First)
		for b := range n.Body {
			for r := range n.Body[b] {
				for i := range n.Body[b][r] {
					conv(&n.Body[b][r][i])
				}
			}
		}
		for _, c := range []*graph.Conv{&n.ConvBody, &n.Up1, &n.Up2, &n.HR, &n.Last} {
			conv(c)
		}
	case *graph.SRVGG:
		h.Write([]byte("srvgg"))
		put(n.Upscale)
		put(n.NumFeat)
		for i := range n.Convs {
			conv(&n.Convs[i])
		}
		for _, p := range n.PReLU {
			floats(p)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// slug keeps letters, digits, '.' and '-' of s, turning the rest into '_'.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
