//go:build nolibav

package api_test

import (
	"encoding/base64"
	"testing"
)

// TestVideoWithoutFFmpeg: a build with the nolibav tag serves images and
// answers video submissions with 503, not as a bad upload.
// go test -tags nolibav -run WithoutFFmpeg ./api
func TestVideoWithoutFFmpeg(t *testing.T) {
	e := newEnv(t, envOptions{})
	access, _ := e.user("miusuario")
	clip := base64.StdEncoding.EncodeToString(testClip(t))
	e.do("POST", "/api/videos/enhance", access, map[string]any{"video_base64": clip, "filename": "mi_video.avi"}).
		want(t, 503, "compilado sin FFmpeg")
}
