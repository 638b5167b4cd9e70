package api_test

import (
	"encoding/base64"
	"strconv"
	"sync"
	"testing"
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
