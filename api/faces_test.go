package api_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"imageenhancer/face"
	"imageenhancer/internal/fixtures"
)

// gfpganFixture is the synthetic GFPGANv1Clean checkpoint with the official
// key names (narrow channels: the real network, not a pretty face).
const gfpganFixture = "../../shared/fixtures/gfpgan/weights/gfpgan_narrow.pth"

// faceEngines is an engines directory of links to the real weights of
// testModel, anime_video and the face detector, plus, when gfpgan is set, the fixture
// checkpoint as GFPGANv1.4.pth.
func faceEngines(t *testing.T, gfpgan bool) string {
	t.Helper()
	ckpt := ""
	if gfpgan {
		ckpt = gfpganFixture
	}
	// anime_video is for the video test.
	links := fixtures.FaceEngineLinks(enginesDir(), face.WeightsDir, ckpt, "realesrgan-x4fast", "realesr-animevideov3-x4")
	dir := t.TempDir()
	if err := fixtures.LinkEngines(dir, links); err != nil {
		t.Fatalf("%v: run `go run . models fetch` at the repository root first", err)
	}
	return dir
}

func TestFaceEnhance(t *testing.T) {
	// The astronaut's face, 96 pixels across, at scale 2.
	crop := base64.StdEncoding.EncodeToString(encodePNG(t, photoCrop(t, "astronaut.png", 220, 120, 96)))
	body := map[string]any{"image_base64": crop, "filename": "astronauta.png", "model_type": testModel, "scale": 2, "face_enhance": true}

	t.Run("weights present", func(t *testing.T) {
		e := newEnv(t, envOptions{enginesDir: faceEngines(t, true)})
		fe := obj(t, e.do("GET", "/api/models", "", nil).want(t, 200).body, "face_enhance")
		if fe["available"] != true || fe["weights_file"] != "GFPGANv1.4.pth" || fe["detector_installed"] != true {
			t.Errorf("/api/models face_enhance %v", fe)
		}
		access, _ := e.user("miusuario")
		im := obj(t, e.do("POST", "/api/images/enhance", access, body).want(t, 201).body, "image")
		if im["face_enhance"] != true || num(t, im, "enhanced_width") != 192 || num(t, im, "enhanced_height") != 192 {
			t.Errorf("image %v×%v face_enhance %v", im["enhanced_width"], im["enhanced_height"], im["face_enhance"])
		}
		got := obj(t, e.do("GET", "/api/images/"+str(t, im, "id"), access, nil).want(t, 200).body, "image")
		if got["face_enhance"] != true || decodePNGBase64(t, str(t, got, "enhanced_base64")).Bounds().Dx() != 192 {
			t.Errorf("stored image face_enhance %v", got["face_enhance"])
		}
	})

	t.Run("weights absent", func(t *testing.T) {
		e := newEnv(t, envOptions{enginesDir: faceEngines(t, false)})
		fe := obj(t, e.do("GET", "/api/models", "", nil).want(t, 200).body, "face_enhance")
		reason, _ := fe["reason"].(string)
		if fe["available"] != false || fe["weights_file"] != "GFPGANv1.4.pth" || !strings.HasPrefix(reason, "coloque GFPGANv1.4.pth en el directorio de motores") {
			t.Errorf("/api/models face_enhance %v", fe)
		}
		access, _ := e.user("miusuario")
		e.do("POST", "/api/images/enhance", access, body).want(t, 400, "face_enhance: ", "coloque GFPGANv1.4.pth", "en el directorio de motores")
		// A refused request leaves no record.
		if n := num(t, e.do("GET", "/api/images", access, nil).want(t, 200).body, "total"); n != 0 {
			t.Errorf("%d images recorded", n)
		}
	})
}

// TestVideoFaceEnhance follows a face_enhance job on a real clip with faces
// (kphotoalbum's demo movie) to its MKV.
func TestVideoFaceEnhance(t *testing.T) {
	clip := base64.StdEncoding.EncodeToString(testClip(t))
	body := map[string]any{"video_base64": clip, "filename": "caras.avi", "model_type": "anime_video", "scale": 2, "face_enhance": true}

	e := newEnv(t, envOptions{enginesDir: faceEngines(t, false)})
	access, _ := e.user("miusuario")
	e.do("POST", "/api/videos/enhance", access, body).want(t, 400, "face_enhance: ", "coloque GFPGANv1.4.pth", "en el directorio de motores")

	e = newEnv(t, envOptions{enginesDir: faceEngines(t, true)})
	access, _ = e.user("miusuario")
	v := obj(t, e.do("POST", "/api/videos/enhance", access, body).want(t, 202).body, "video")
	if v["face_enhance"] != true {
		t.Errorf("accepted video face_enhance %v", v["face_enhance"])
	}
	id := str(t, v, "id")
	start := time.Now()
	for str(t, v, "status") != "completed" {
		if str(t, v, "status") == "error" {
			t.Fatalf("job failed: %v", v["error_message"])
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("job not done in time: %v", v)
		}
		time.Sleep(300 * time.Millisecond)
		v = obj(t, e.do("GET", "/api/videos/"+id, access, nil).want(t, 200).body, "video")
	}
	t.Logf("68 frames 160×120 ×2 with faces: %v", time.Since(start).Round(100*time.Millisecond))
	if v["face_enhance"] != true || num(t, v, "frames_processed") != 68 || num(t, v, "enhanced_width") != 320 {
		t.Errorf("completed video %v", v)
	}
}
