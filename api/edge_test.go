package api_test

import (
	"encoding/base64"
	"image"
	"testing"
)

// tinyPNG is an 8×8 black PNG in base64: enough for the checks that come
// before any inference.
func tinyPNG(t *testing.T) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(encodePNG(t, image.NewRGBA(image.Rect(0, 0, 8, 8))))
}

// Output sizes whose product wraps round int64 once crashed the server
// (out of memory) instead of being refused against MAX_OUTPUT_PIXELS.
func TestEnhanceHugeOutputSize(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("huge")
	img := tinyPNG(t)
	for name, body := range map[string]map[string]any{
		"both 2^32":       {"output_width": int64(1) << 32, "output_height": int64(1) << 32},
		"width max int64": {"output_width": int64(1<<63 - 1)},
		"height 2^40":     {"output_height": int64(1) << 40},
	} {
		t.Run(name, func(t *testing.T) {
			body["image_base64"] = img
			body["model_type"] = testModel
			e.do("POST", "/api/images/enhance", tok, body).want(t, 413, "output_width/output_height")
		})
	}
}

// A page so large that (page-1)×per_page overflows is refused, for images
// and videos alike, rather than answered as page 1 or failing in the store.
func TestListPageBounds(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok, _ := e.user("pages")
	for _, list := range []string{"/api/images", "/api/videos"} {
		for _, q := range []string{"page=0", "page=-1", "page=abc", "page=9223372036854775807", "page=2147483648"} {
			e.do("GET", list+"?"+q, tok, nil).want(t, 400, "page")
		}
		for _, q := range []string{"per_page=0", "per_page=abc", "per_page=-5"} {
			e.do("GET", list+"?"+q, tok, nil).want(t, 400, "per_page")
		}
		e.do("GET", list+"?status=bogus", tok, nil).want(t, 400, "status")
		r := e.do("GET", list+"?page=2147483647&per_page=101", tok, nil).want(t, 200)
		if num(t, r.body, "per_page") != 100 || num(t, r.body, "page") != 2147483647 {
			t.Errorf("%s: page %v per_page %v, want 2147483647 and 100 (clamped)", list, r.body["page"], r.body["per_page"])
		}
	}
}
