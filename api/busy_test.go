package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
)

// TestBusy: with one inference slot and no queue, requests arriving while
// one runs get 503 with Retry-After, and leave no record.
func TestBusy(t *testing.T) {
	e := newEnv(t, envOptions{queueLength: -1})
	requireModel(t, e.enh, "general_x4")
	access, _ := e.user("miusuario")
	// general_x4 (RRDBNet) on 64×64 takes long enough on a CPU that
	// requests sent together overlap.
	body := map[string]any{
		"image_base64": base64.StdEncoding.EncodeToString(encodePNG(t, photoCrop(t, "astronaut.png", 210, 110, 64))),
		"model_type":   "general_x4",
	}
	const n = 4
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = e.do("POST", "/api/images/enhance", access, body) })
	}
	wg.Wait()
	created, busy := 0, 0
	for _, r := range results {
		switch r.status {
		case 201:
			created++
		case 503:
			busy++
			r.want(t, 503, "ocupado")
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 {
				t.Errorf("503 with Retry-After %q", r.header.Get("Retry-After"))
			}
		default:
			t.Errorf("status %d: %.200s", r.status, r.raw)
		}
	}
	if created < 1 || busy < 1 {
		t.Fatalf("%d created and %d refused as busy, want at least one of each", created, busy)
	}
	r := e.do("GET", "/api/images", access, nil).want(t, 200)
	if num(t, r.body, "total") != created {
		t.Errorf("%d records, want %d (busy requests leave none)", num(t, r.body, "total"), created)
	}
}

// fullRuntime loads networks whose every Forward fails for want of device
// memory, as the GPU runtime does on a card that others have filled.
type fullRuntime struct{ enhance.Runtime }

func (r fullRuntime) Load(net graph.Network) (graph.Model, error) {
	m, err := r.Runtime.Load(net)
	if err != nil {
		return nil, err
	}
	return fullModel{m}, nil
}

type fullModel struct{ graph.Model }

func (fullModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	return fmt.Errorf("test: %dx%d: %w", w, h, graph.ErrOutOfMemory)
}

// TestOutOfMemory: when not even the pipeline's smallest tile fits on the
// device, the client gets 503 with Retry-After, not 500, and no record.
func TestOutOfMemory(t *testing.T) {
	e := newEnv(t, envOptions{runtime: func(rt enhance.Runtime) enhance.Runtime { return fullRuntime{rt} }})
	access, _ := e.user("miusuario")
	body := map[string]any{
		"image_base64": base64.StdEncoding.EncodeToString(encodePNG(t, photoCrop(t, "astronaut.png", 210, 110, 64))),
		"model_type":   testModel,
	}
	r := e.do("POST", "/api/images/enhance", access, body).want(t, 503, "Memoria de GPU insuficiente")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("503 with Retry-After %q", r.header.Get("Retry-After"))
	}
	r = e.do("GET", "/api/images", access, nil).want(t, 200)
	if n := num(t, r.body, "total"); n != 0 {
		t.Errorf("%d records, want none", n)
	}
}
