package enhance_test

// The face stage end to end on real weights through the CPU runtime:
// realesr-general-x4v3 (ncnn) as the background upsampler, MTCNN, and the
// synthetic official-format GFPGAN checkpoint of ../shared/fixtures (narrow
// channels, so its faces are not pretty, but it is the real network).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"imageenhancer/enhance"
	"imageenhancer/enhance/graph"
	"imageenhancer/face"
	"imageenhancer/internal/fixtures"
)

// gfpganFixture is the synthetic GFPGANv1Clean checkpoint with the official
// key names.
const gfpganFixture = shared + "/fixtures/gfpgan/weights/gfpgan_narrow.pth"

// faceEngines builds an engines directory of links to the real weights:
// general_v3's ncnn files, the MTCNN weights, and, when gfpgan is set, the
// fixture checkpoint as GFPGANv1.4.pth.
func faceEngines(t testing.TB, gfpgan bool) string {
	t.Helper()
	ckpt := ""
	if gfpgan {
		ckpt = gfpganFixture
	}
	links := fixtures.FaceEngineLinks(enginesDir(), face.WeightsDir, ckpt, "realesrgan-x4fast")
	dir := t.TempDir()
	if err := fixtures.LinkEngines(dir, links); err != nil {
		t.Fatalf("%v: run `go run . models fetch` at the repository root first", err)
	}
	return dir
}

// astronautPNG is skimage's astronaut at side×side, encoded as PNG.
func astronautPNG(t testing.TB, side int) []byte {
	t.Helper()
	src := readPNG(t, astronautPath)
	dst := image.NewRGBA(image.Rect(0, 0, side, side))
	draw.CatmullRom.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	var b bytes.Buffer
	if err := png.Encode(&b, dst); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newFaceEnhancer(t testing.TB, engines string) *enhance.Enhancer {
	t.Helper()
	enh, err := enhance.New(enhance.Config{EnginesDir: engines, Runtime: cpuRuntime(t), TilePad: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enh.Close() })
	return enh
}

func TestFaceEnhance(t *testing.T) {
	const side, scale = 192, 2
	in := astronautPNG(t, side)
	engines := faceEngines(t, true)
	enh := newFaceEnhancer(t, engines)
	if info := enh.FaceEnhance(); !info.Available || info.WeightsFile != "GFPGANv1.4.pth" || !info.DetectorInstalled {
		t.Fatalf("FaceEnhance() = %+v, want available with GFPGANv1.4.pth", info)
	}
	ctx := context.Background()

	start := time.Now()
	plain, err := enh.Enhance(ctx, enhance.Request{Image: in, Model: "general_v3", Scale: scale})
	if err != nil {
		t.Fatal(err)
	}
	tPlain := time.Since(start)
	start = time.Now()
	res, err := enh.Enhance(ctx, enhance.Request{Image: in, Model: "general_v3", Scale: scale, FaceEnhance: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d² ×%d: plain %v, with faces %v", side, scale, tPlain.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if res.Width != side*scale || res.Height != side*scale {
		t.Fatalf("output %d×%d, want %d²", res.Width, res.Height, side*scale)
	}

	// The faces GFPGAN would restore, found the same way.
	det, err := face.NewDetector(engines)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := png.Decode(bytes.NewReader(in))
	faces, err := det.Detect(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 1 {
		t.Fatalf("%d faces in the astronaut, want 1: %+v", len(faces), faces)
	}
	box := faces[0].Box
	box = image.Rect(box.Min.X*scale, box.Min.Y*scale, box.Max.X*scale, box.Max.Y*scale)

	a, b := decodeRGBA(t, plain.PNG), decodeRGBA(t, res.PNG)
	// The face: GFPGAN's output replaces the upscaled one.
	var sum float64
	var n int
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			for c := 0; c < 3; c++ {
				sum += math.Abs(float64(pa[c]) - float64(pb[c]))
			}
			n += 3
		}
	}
	if mean := sum / float64(n); mean < 5 {
		t.Errorf("face box %v: mean difference %.2f from the plain upscale, want a restored face (≥ 5)", box, mean)
	} else {
		t.Logf("face box %v: mean difference %.1f", box, mean)
	}
	// Far from the face: the aligned crop is about twice the box's side
	// around it, so outside three sides nothing may change.
	cx, cy := (box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2
	far := 3 * max(box.Dx(), box.Dy()) / 2
	checked := 0
	for y := 0; y < res.Height; y++ {
		for x := 0; x < res.Width; x++ {
			if max(abs(x-cx), abs(y-cy)) <= far {
				continue
			}
			checked++
			pa, pb := a.Pix[a.PixOffset(x, y):], b.Pix[b.PixOffset(x, y):]
			if pa[0] != pb[0] || pa[1] != pb[1] || pa[2] != pb[2] || pa[3] != pb[3] {
				t.Fatalf("pixel (%d,%d) far from the face %v changed: %v, plain %v", x, y, box, pb[:4], pa[:4])
			}
		}
	}
	if checked < res.Width*res.Height/4 {
		t.Errorf("only %d pixels far from the face checked", checked)
	}

	// An output size is applied after the paste, as after the plain upscale.
	sized, err := enh.Enhance(ctx, enhance.Request{Image: in, Model: "general_v3", Scale: scale, FaceEnhance: true, OutputWidth: 300})
	if err != nil {
		t.Fatal(err)
	}
	if sized.Width != 300 || sized.Height != 300 {
		t.Errorf("output_width 300: %d×%d", sized.Width, sized.Height)
	}
}

func TestFaceEnhanceUnavailable(t *testing.T) {
	in := astronautPNG(t, 64)
	for _, c := range []struct {
		name    string
		engines func(t *testing.T) string
		want    string
	}{
		{"no GFPGAN weights", func(t *testing.T) string { return faceEngines(t, false) }, "GFPGANv1.4.pth"},
		{"no detector", func(t *testing.T) string {
			d := faceEngines(t, true)
			os.Remove(filepath.Join(d, face.WeightsDir))
			return d
		}, "models fetch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			enh := newFaceEnhancer(t, c.engines(t))
			info := enh.FaceEnhance()
			if info.Available || !strings.Contains(info.Reason, c.want) {
				t.Errorf("FaceEnhance() = %+v, want unavailable naming %s", info, c.want)
			}
			_, err := enh.Enhance(context.Background(), enhance.Request{Image: in, Model: "general_v3", FaceEnhance: true})
			if !errors.Is(err, enhance.ErrFaceUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Enhance: %v, want ErrFaceUnavailable naming %s", err, c.want)
			}
			if err := enh.CheckFaces(); !errors.Is(err, enhance.ErrFaceUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("CheckFaces: %v, want ErrFaceUnavailable naming %s", err, c.want)
			}
			// Without face_enhance the same engines serve as ever.
			if _, err := enh.Enhance(context.Background(), enhance.Request{Image: in, Model: "general_v3", Scale: 1}); err != nil {
				t.Error(err)
			}
		})
	}
}

func decodeRGBA(t testing.TB, b []byte) *image.RGBA {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := m.(*image.RGBA); ok {
		return r
	}
	r := image.NewRGBA(m.Bounds())
	draw.Draw(r, r.Rect, m, m.Bounds().Min, draw.Src)
	return r
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestFaceEnhanceFrames checks that video frames get the face stage of
// images: the same pixels as Enhance with FaceEnhance on each frame.
func TestFaceEnhanceFrames(t *testing.T) {
	const scale = 2
	enh := newFaceEnhancer(t, faceEngines(t, true))
	var ins [][]byte
	var frames []*image.RGBA
	for _, side := range []int{160, 160} {
		b := astronautPNG(t, side)
		ins = append(ins, b)
		frames = append(frames, decodeRGBA(t, b))
	}
	// The second frame mirrored, so that the two differ.
	f := frames[1]
	m := image.NewRGBA(f.Rect)
	for y := 0; y < f.Rect.Dy(); y++ {
		for x := 0; x < f.Rect.Dx(); x++ {
			copy(m.Pix[m.PixOffset(x, y):m.PixOffset(x, y)+4], f.Pix[f.PixOffset(f.Rect.Dx()-1-x, y):])
		}
	}
	frames[1] = m
	var b bytes.Buffer
	png.Encode(&b, m)
	ins[1] = b.Bytes()

	ctx := context.Background()
	out, err := enh.EnhanceFrames(ctx, "general_v3", scale, true, frames)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := enh.EnhanceFrames(ctx, "general_v3", scale, false, frames)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		res, err := enh.Enhance(ctx, enhance.Request{Image: in, Model: "general_v3", Scale: scale, FaceEnhance: true})
		if err != nil {
			t.Fatal(err)
		}
		want := decodeRGBA(t, res.PNG)
		if !bytes.Equal(out[i].Pix, want.Pix) {
			t.Errorf("frame %d: face-enhanced frame differs from the face-enhanced image", i)
		}
		if bytes.Equal(out[i].Pix, plain[i].Pix) {
			t.Errorf("frame %d: no face restored", i)
		}
	}
}

// TestFaceEnhanceKinds: the output keeps the input's kind with faces too
// (gray stays gray, 16 bits stay 16 bits, alpha is kept).
func TestFaceEnhanceKinds(t *testing.T) {
	const side = 128
	enh := newFaceEnhancer(t, faceEngines(t, true))
	src := decodeRGBA(t, astronautPNG(t, side))
	gray := image.NewGray(src.Rect)
	deep := image.NewRGBA64(src.Rect)
	alpha := image.NewNRGBA(src.Rect)
	draw.Draw(gray, gray.Rect, src, image.Point{}, draw.Src)
	draw.Draw(deep, deep.Rect, src, image.Point{}, draw.Src)
	draw.Draw(alpha, alpha.Rect, src, image.Point{}, draw.Src)
	for i := 3; i < len(alpha.Pix); i += 4 * 7 {
		alpha.Pix[i] = 128
	}
	det, err := face.NewDetector(enginesDir())
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := det.Detect(src); err != nil || len(fs) != 1 {
		t.Fatalf("%d faces at %d² (%v), want the astronaut's", len(fs), side, err)
	}
	for _, c := range []struct {
		name string
		in   image.Image
		want string
	}{
		{"gray", gray, "*image.Gray"},
		{"16-bit", deep, "*image.RGBA64"},
		{"alpha", alpha, "*image.NRGBA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := png.Encode(&b, c.in); err != nil {
				t.Fatal(err)
			}
			res, err := enh.Enhance(context.Background(), enhance.Request{Image: b.Bytes(), Model: "general_v3", Scale: 2, FaceEnhance: true})
			if err != nil {
				t.Fatal(err)
			}
			m, err := png.Decode(bytes.NewReader(res.PNG))
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", m); got != c.want || m.Bounds().Dx() != 2*side {
				t.Errorf("output %s %v, want %s %d²", got, m.Bounds().Size(), c.want, 2*side)
			}
		})
	}
}

// oomOnce is the CPU runtime on a device that is out of memory the first
// time GFPGAN is loaded, as a GPU shared with another process can be.
type oomOnce struct {
	enhance.Runtime
	failed bool
}

func (r *oomOnce) Load(net graph.Network) (graph.Model, error) {
	if _, ok := net.(*graph.GFPGAN); ok && !r.failed {
		r.failed = true
		return nil, fmt.Errorf("test: no room for GFPGAN: %w", graph.ErrOutOfMemory)
	}
	return r.Runtime.Load(net)
}

// TestFaceEnhanceOutOfMemory checks that running out of memory while loading
// GFPGAN is a 503 (ErrOutOfMemory), not a refusal kept for good: the next
// request loads it.
func TestFaceEnhanceOutOfMemory(t *testing.T) {
	in := astronautPNG(t, 96)
	enh, err := enhance.New(enhance.Config{EnginesDir: faceEngines(t, true), Runtime: &oomOnce{Runtime: cpuRuntime(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer enh.Close()
	req := enhance.Request{Image: in, Model: "general_v3", Scale: 1, FaceEnhance: true}
	_, err = enh.Enhance(context.Background(), req)
	if !errors.Is(err, enhance.ErrOutOfMemory) || errors.Is(err, enhance.ErrFaceUnavailable) {
		t.Fatalf("first request: %v, want ErrOutOfMemory only", err)
	}
	if info := enh.FaceEnhance(); !info.Available {
		t.Errorf("after running out of memory FaceEnhance() = %+v, want available", info)
	}
	if _, err := enh.Enhance(context.Background(), req); err != nil {
		t.Fatalf("second request: %v", err)
	}
}
