package enhance

// Pipeline tests on a stand-in network, fast and independent of any
// runtime: decoding, kinds, tiling, sizes, errors, the semaphore. The real
// networks are checked in network_test.go.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"imageenhancer/enhance/graph"
)

// fakeRuntime loads any network as fakeModel.
type fakeRuntime struct {
	block   chan struct{}
	maxTile int // when set, models say this is their largest window
	batch   int // when over 1, models take this many tiles per Forward
	// oomOver, when set, makes models fail larger windows as the GPU
	// does when out of memory, without saying their limit; oomFails
	// counts those failures.
	oomOver  int
	oomFails int
	// quant, when set, makes models Quantizers (quantFake) and counts
	// their ForwardRGBA calls.
	quant *int
}

func (r *fakeRuntime) Name() string { return "cpu" }
func (r *fakeRuntime) Load(net graph.Network) (graph.Model, error) {
	m := &fakeModel{s: net.OutScale(), block: r.block, batch: r.batch}
	if r.quant != nil {
		return &quantFake{&oomFake{m, r}}, nil
	}
	if r.maxTile > 0 {
		return &limitedModel{m, r.maxTile}, nil
	}
	if r.oomOver > 0 {
		return &oomFake{m, r}, nil
	}
	return m, nil
}

// oomFake is a fakeModel on a device with room for windows of r.oomOver
// (any, when it is 0).
type oomFake struct {
	*fakeModel
	r *fakeRuntime
}

func (m *oomFake) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	if err := m.r.fits(h, w); err != nil {
		return err
	}
	return m.fakeModel.Forward(ctx, in, n, h, w, out)
}

// fits fails a window larger than oomOver (when set) as out of memory.
func (r *fakeRuntime) fits(h, w int) error {
	if r.oomOver > 0 && (h > r.oomOver || w > r.oomOver) {
		r.oomFails++
		return fmt.Errorf("window %dx%d: %w", w, h, graph.ErrOutOfMemory)
	}
	return nil
}

// quantFake is an oomFake that quantises its own output, as the GPU
// runtime does.
type quantFake struct{ *oomFake }

func (m *quantFake) ForwardRGBA(ctx context.Context, in []float32, n, h, w int, out []byte) error {
	*m.r.quant++
	f := make([]float32, n*3*h*w*m.s*m.s)
	if err := m.Forward(ctx, in, n, h, w, f); err != nil {
		return err
	}
	plane := h * w * m.s * m.s
	for i := range n * plane {
		img, p := i/plane, i%plane
		for c := range 3 {
			out[4*i+c] = q8(f[(3*img+c)*plane+p])
		}
		out[4*i+3] = 255
	}
	return nil
}

// limitedModel is a fakeModel whose memory allows windows of max pixels.
type limitedModel struct {
	*fakeModel
	max int
}

func (m *limitedModel) MaxTile(n int) (int, error) { return m.max, nil }

func (m *limitedModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	if h > m.max || w > m.max {
		return fmt.Errorf("window %dx%d over %d", w, h, m.max)
	}
	return m.fakeModel.Forward(ctx, in, n, h, w, out)
}

// fakeModel upsamples by nearest neighbour after mixing in a tenth of the
// difference to the right-hand neighbour (the edge repeats), so that its
// output depends on context as a convolution does, keeps flat images flat,
// and goes a little outside [0,1] on edges.
type fakeModel struct {
	s     int
	block chan struct{}
	batch int
}

func (m *fakeModel) MaxBatch(h, w int) int { return m.batch }

func (m *fakeModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	if m.block != nil {
		<-m.block
	}
	s := m.s
	W := w * s
	for p := 0; p < n*3; p++ {
		src, dst := in[p*h*w:(p+1)*h*w], out[p*h*w*s*s:(p+1)*h*w*s*s]
		for y := 0; y < h*s; y++ {
			for x := 0; x < W; x++ {
				sx, sy := x/s, y/s
				v := src[sy*w+sx]
				r := src[sy*w+min(sx+1, w-1)]
				dst[y*W+x] = v + 0.1*(v-r)
			}
		}
	}
	return nil
}

func (m *fakeModel) Close() error { return nil }

// fakeRead stands in for LoadNetwork: the file name says the network.
func fakeRead(path string) (graph.Network, error) {
	switch {
	case strings.Contains(path, "x2"):
		return &graph.RRDBNet{Scale: 2, Body: make([]graph.RRDB, 23)}, nil
	case strings.Contains(path, "x4fast"), strings.Contains(path, "general-x4v3"):
		return &graph.SRVGG{Upscale: 4, Convs: make([]graph.Conv, 34)}, nil
	case strings.Contains(path, "anime_6B"):
		return &graph.RRDBNet{Scale: 4, Body: make([]graph.RRDB, 6)}, nil
	case strings.Contains(path, "animevideo"): // misnamed on purpose: 32 convs, not 16
		return &graph.SRVGG{Upscale: 4, Convs: make([]graph.Conv, 34)}, nil
	}
	return &graph.RRDBNet{Scale: 4, Body: make([]graph.RRDB, 23)}, nil
}

// newFake returns an Enhancer on the stand-in, with general_v3, general_x2
// and anime_video "installed" in a temporary engines folder.
func newFake(t testing.TB, cfg Config) *Enhancer {
	dir := t.TempDir()
	for _, f := range []string{"realesrgan-x4fast.param", "realesrgan-x4fast.bin", "RealESRGAN_x2plus.pth",
		"realesr-animevideov3-x4.param", "realesr-animevideov3-x4.bin"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.EnginesDir = dir
	if cfg.Runtime == nil {
		cfg.Runtime = &fakeRuntime{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.read = fakeRead
	t.Cleanup(func() { e.Close() })
	return e
}

func noise(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	return m
}

func encode(t testing.TB, m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodePNG(t testing.TB, b []byte) image.Image {
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func samePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel (%d,%d): %v and %v", x, y, a.At(x, y), b.At(x, y))
			}
		}
	}
}

func TestTilingMatchesWholeImage(t *testing.T) {
	in := encode(t, noise(37, 29, 1))
	for _, model := range []string{"general_v3", "general_x2"} {
		whole, err := newFake(t, Config{}).Enhance(context.Background(), Request{Image: in, Model: model})
		if err != nil {
			t.Fatal(err)
		}
		want := decodePNG(t, whole.PNG)
		for _, tc := range []struct{ tile, pad int }{{8, 2}, {16, 1}, {10, 3}, {64, 10}, {7, 1}} {
			t.Run(model, func(t *testing.T) {
				var calls, last, total int
				res, err := newFake(t, Config{TileSize: tc.tile, TilePad: tc.pad}).Enhance(context.Background(),
					Request{Image: in, Model: model, Progress: func(d, n int) { calls++; last, total = d, n }})
				if err != nil {
					t.Fatal(err)
				}
				samePixels(t, decodePNG(t, res.PNG), want)
				if last != total || calls != total {
					t.Errorf("tile %d: progress called %d times, last %d of %d", tc.tile, calls, last, total)
				}
			})
		}
		s := 4
		if model == "general_x2" {
			s = 2
		}
		if want.Bounds().Dx() != 37*s || want.Bounds().Dy() != 29*s {
			t.Errorf("%s: output %v, want %dx%d", model, want.Bounds(), 37*s, 29*s)
		}
	}
}

func TestPlanCoversImage(t *testing.T) {
	for _, tc := range []struct{ w, h, size, pad, m int }{
		{37, 29, 8, 2, 1}, {38, 30, 8, 3, 2}, {128, 128, 32, 10, 1}, {1024, 1024, 256, 10, 4}, {5, 5, 0, 10, 1},
	} {
		covered := make([]int, tc.w*tc.h)
		ts := plan(0, tc.w, tc.h, tc.size, tc.pad, tc.m)
		for _, tl := range ts {
			if tl.w != ts[0].w || tl.h != ts[0].h {
				t.Errorf("%+v: windows %dx%d and %dx%d", tc, tl.w, tl.h, ts[0].w, ts[0].h)
			}
			if tl.tx < min(tl.x+tl.tx, roundUp(tc.pad, tc.m)) || tl.ty < min(tl.y+tl.ty, roundUp(tc.pad, tc.m)) ||
				tl.w-tl.tx-tl.tw < min(tc.w-(tl.x+tl.tx+tl.tw), roundUp(tc.pad, tc.m)) {
				t.Errorf("%+v: tile %+v has less context than pad", tc, tl)
			}
			if tl.x%tc.m != 0 || tl.y%tc.m != 0 || tl.w%tc.m != 0 || tl.h%tc.m != 0 {
				t.Errorf("%+v: window %+v not a multiple of %d", tc, tl, tc.m)
			}
			if tl.x < 0 || tl.y < 0 || tl.x+tl.w > tc.w || tl.y+tl.h > tc.h {
				t.Errorf("%+v: window %+v outside the image", tc, tl)
			}
			for y := tl.y + tl.ty; y < tl.y+tl.ty+tl.th; y++ {
				for x := tl.x + tl.tx; x < tl.x+tl.tx+tl.tw; x++ {
					covered[y*tc.w+x]++
				}
			}
		}
		for i, c := range covered {
			if c != 1 {
				t.Fatalf("%+v: pixel %d covered %d times", tc, i, c)
			}
		}
	}
}

// TestKinds: RGB, RGBA, gray and 16-bit inputs come back as the same kind
// of PNG, four times the size, with flat colours kept exactly.
func TestKinds(t *testing.T) {
	r := image.Rect(0, 0, 9, 7)
	fill := func(m interface{ Set(int, int, color.Color) }, c color.Color) {
		for y := 0; y < 7; y++ {
			for x := 0; x < 9; x++ {
				m.Set(x, y, c)
			}
		}
	}
	rgb := image.NewRGBA(r)
	fill(rgb, color.RGBA{200, 100, 50, 255})
	rgba := image.NewNRGBA(r)
	fill(rgba, color.NRGBA{200, 100, 50, 128})
	gray := image.NewGray(r)
	fill(gray, color.Gray{77})
	gray16 := image.NewGray16(r)
	fill(gray16, color.Gray16{12345})
	rgb16 := image.NewRGBA64(r)
	fill(rgb16, color.RGBA64{1000, 30000, 65000, 65535})
	rgba16 := image.NewNRGBA64(r)
	fill(rgba16, color.NRGBA64{1000, 30000, 65000, 40000})
	for _, tc := range []struct {
		name string
		in   image.Image
		want color.Color
	}{
		{"rgb", rgb, color.RGBA{200, 100, 50, 255}},
		{"rgba", rgba, color.NRGBA{200, 100, 50, 128}},
		{"gray", gray, color.Gray{77}},
		{"gray16", gray16, color.Gray16{12345}},
		{"rgb16", rgb16, color.RGBA64{1000, 30000, 65000, 65535}},
		{"rgba16", rgba16, color.NRGBA64{1000, 30000, 65000, 40000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFake(t, Config{TileSize: 4, TilePad: 1})
			res, err := e.Enhance(context.Background(), Request{Image: encode(t, tc.in), Model: "general_v3"})
			if err != nil {
				t.Fatal(err)
			}
			out := decodePNG(t, res.PNG)
			if got, want := out.ColorModel(), tc.in.ColorModel(); got != want {
				t.Errorf("colour model changed")
			}
			if out.Bounds() != image.Rect(0, 0, 36, 28) || res.Width != 36 || res.Height != 28 {
				t.Errorf("size %v, result says %dx%d", out.Bounds(), res.Width, res.Height)
			}
			for _, p := range []image.Point{{0, 0}, {35, 27}, {17, 13}} {
				if got := out.At(p.X, p.Y); got != tc.want {
					t.Errorf("pixel %v: %v, want %v", p, got, tc.want)
				}
			}
		})
	}
}

// pngBomb is a valid PNG signature and IHDR claiming w×h 8-bit RGB, with
// a single tiny IDAT: a few bytes that would decode to gigabytes.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func TestBadImages(t *testing.T) {
	good := encode(t, noise(16, 16, 2))
	var gifBuf, jpgBuf bytes.Buffer
	gif.Encode(&gifBuf, noise(8, 8, 3), nil)
	jpeg.Encode(&jpgBuf, noise(16, 16, 4), nil)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"zero bytes", nil, ErrInvalidInput},
		{"truncated png", good[:len(good)/2], ErrInvalidInput},
		{"png header only", good[:20], ErrInvalidInput},
		{"truncated jpeg", jpgBuf.Bytes()[:jpgBuf.Len()/2], ErrInvalidInput},
		{"gif", gifBuf.Bytes(), ErrInvalidInput},
		{"text", []byte("hello, world"), ErrInvalidInput},
		{"riff not webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 garbage"), ErrInvalidInput},
		{"png claiming 100000x100000", pngBomb(100000, 100000), ErrTooLarge},
		{"png claiming 0 wide", pngBomb(0, 10), ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFake(t, Config{MaxInputPixels: 4096 * 4096})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := e.Enhance(context.Background(), Request{Image: tc.in, Model: "general_v3"})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "image_base64") {
				t.Errorf("error %q does not name image_base64", err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
				t.Errorf("allocated %d MB to refuse it", d>>20)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	in := encode(t, noise(20, 10, 5))
	for _, tc := range []struct {
		name   string
		req    Request
		cfg    Config
		want   error
		w, h   int
		scale  int
		inText string
	}{
		{name: "default scale", req: Request{Model: "general_v3"}, w: 80, h: 40, scale: 4},
		{name: "config default scale", req: Request{Model: "general_v3"}, cfg: Config{DefaultScale: 2}, w: 40, h: 20, scale: 2},
		{name: "x2 keeps its scale", req: Request{Model: "general_x2"}, cfg: Config{DefaultScale: 4}, w: 40, h: 20, scale: 2},
		{name: "scale 1", req: Request{Model: "general_v3", Scale: 1}, w: 20, h: 10, scale: 1},
		{name: "scale 3", req: Request{Model: "general_v3", Scale: 3}, w: 60, h: 30, scale: 3},
		{name: "scale 4 on x2", req: Request{Model: "general_x2", Scale: 4}, w: 80, h: 40, scale: 4},
		{name: "both sizes", req: Request{Model: "general_v3", OutputWidth: 33, OutputHeight: 77}, w: 33, h: 77, scale: 4},
		{name: "width only", req: Request{Model: "general_v3", OutputWidth: 51}, w: 51, h: 26, scale: 4},
		{name: "height only", req: Request{Model: "general_v3", OutputHeight: 7}, w: 14, h: 7, scale: 4},
		{name: "scale 5", req: Request{Model: "general_v3", Scale: 5}, want: ErrInvalidInput, inText: "scale: entrada inválida: debe estar entre 1 y 4 (recibido 5)"},
		{name: "scale -1", req: Request{Model: "general_v3", Scale: -1}, want: ErrInvalidInput, inText: "scale: entrada inválida: debe estar entre 1 y 4 (recibido -1)"},
		{name: "negative width", req: Request{Model: "general_v3", OutputWidth: -3}, want: ErrInvalidInput, inText: "output_width/output_height: entrada inválida: los tamaños deben ser positivos (recibido -3×0)"},
		{name: "unknown model", req: Request{Model: "nope"}, want: ErrInvalidInput, inText: `model_type: entrada inválida: modelo desconocido "nope" (modelos: `},
		{name: "not installed", req: Request{Model: "anime"}, want: ErrModelNotInstalled, inText: `model_type "anime": modelo no instalado: coloque RealESRGAN_x4plus_anime_6B.pth`},
		{name: "default not installed", req: Request{}, want: ErrModelNotInstalled, inText: "realesrgan-x4plus.param"},
		{name: "wrong network in file", req: Request{Model: "anime_video"}, inText: "SRVGGNetCompact with 32 convs"},
		{name: "face", req: Request{Model: "general_v3", FaceEnhance: true}, want: ErrFaceUnavailable, inText: "face_enhance: mejora de caras no disponible: pesos de GFPGAN no instalados: coloque GFPGANv1.4.pth (https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth), o GFPGANv1.3.pth"},
		{name: "output too large", req: Request{Model: "general_v3"}, cfg: Config{MaxOutputPixels: 799}, want: ErrTooLarge, inText: "scale: demasiado grande: la salida de 80×40 píxeles supera el límite de 799"},
		{name: "sizes too large", req: Request{Model: "general_v3", OutputWidth: 1000, OutputHeight: 1000}, cfg: Config{MaxOutputPixels: 1e5}, want: ErrTooLarge, inText: "output_width/output_height: demasiado grande: la salida de 1000×1000 píxeles supera el límite de 100000"},
		{name: "input too large", req: Request{Model: "general_v3"}, cfg: Config{MaxInputPixels: 199}, want: ErrTooLarge, inText: "image_base64: demasiado grande: la imagen de 20×10 píxeles supera el límite de 199"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Image = in
			res, err := newFake(t, tc.cfg).Enhance(context.Background(), tc.req)
			if tc.inText != "" && tc.w == 0 {
				if err == nil || !strings.Contains(err.Error(), tc.inText) {
					t.Fatalf("error %v, want one naming %q", err, tc.inText)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := decodePNG(t, res.PNG).Bounds()
			if b.Dx() != tc.w || b.Dy() != tc.h || res.Width != tc.w || res.Height != tc.h || res.Scale != tc.scale {
				t.Errorf("got %v, result %dx%d scale %d; want %dx%d scale %d", b, res.Width, res.Height, res.Scale, tc.w, tc.h, tc.scale)
			}
			if res.OriginalWidth != 20 || res.OriginalHeight != 10 {
				t.Errorf("original %dx%d", res.OriginalWidth, res.OriginalHeight)
			}
		})
	}
}

func TestCheckAndModels(t *testing.T) {
	e := newFake(t, Config{})
	for _, tc := range []struct {
		model string
		scale int
		want  error
	}{
		{"general_v3", 4, nil}, {"general_v3", 0, nil}, {"anime_video", 2, nil},
		{"general_v3", 5, ErrInvalidInput}, {"x", 4, ErrInvalidInput}, {"general_x4", 4, ErrModelNotInstalled},
	} {
		if err := e.Check(tc.model, tc.scale); !errors.Is(err, tc.want) {
			t.Errorf("Check(%q, %d) = %v, want %v", tc.model, tc.scale, err, tc.want)
		}
	}
	installed := map[string]bool{}
	for _, m := range e.Models() {
		installed[m.ID] = m.Installed
		if m.Name == "" || m.Description == "" || len(m.SupportedScales) != 4 || m.WeightsFile == "" {
			t.Errorf("incomplete entry %+v", m)
		}
	}
	want := map[string]bool{"general_x4": false, "general_x2": true, "anime": false, "anime_video": true, "general_v3": true}
	if len(installed) != 5 {
		t.Errorf("%d models, want 5", len(installed))
	}
	for id, w := range want {
		if installed[id] != w {
			t.Errorf("%s installed = %v, want %v", id, installed[id], w)
		}
	}
}

func TestBusy(t *testing.T) {
	rt := &fakeRuntime{block: make(chan struct{})}
	e := newFake(t, Config{Runtime: rt, Concurrency: 1, QueueLength: -1})
	in := encode(t, noise(8, 8, 6))
	errc := make(chan error)
	go func() {
		_, err := e.Enhance(context.Background(), Request{Image: in, Model: "general_v3"})
		errc <- err
	}()
	// Wait until the first request holds the slot.
	for len(e.gate.slots) == 0 {
		runtime.Gosched()
	}
	_, err := e.Enhance(context.Background(), Request{Image: in, Model: "general_v3"})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("second request: %v, want ErrBusy", err)
	}
	close(rt.block)
	if err := <-errc; err != nil {
		t.Errorf("first request: %v", err)
	}
}

// TestEnhanceFrames: each frame comes back, in order, as Enhance makes the
// same picture, whether frames go through the network one by one or with
// their tiles batched together.
func TestEnhanceFrames(t *testing.T) {
	var frames []*image.RGBA
	var pngs [][]byte
	for i := 0; i < 3; i++ {
		n := noise(12, 10, uint64(20+i)) // opaque: its bytes are an RGBA's
		frames = append(frames, &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect})
		pngs = append(pngs, encode(t, n))
	}
	ctx := context.Background()
	for _, batch := range []int{0, 4} {
		e := newFake(t, Config{Runtime: &fakeRuntime{batch: batch}, TileSize: 4, TilePad: 2})
		for _, scale := range []int{4, 2} {
			out, err := e.EnhanceFrames(ctx, "general_v3", scale, false, frames)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 3 {
				t.Fatalf("batch %d, scale %d: %d frames", batch, scale, len(out))
			}
			for i, f := range out {
				if f.Rect != image.Rect(0, 0, 12*scale, 10*scale) {
					t.Errorf("batch %d, scale %d, frame %d: %v", batch, scale, i, f.Rect)
				}
				res, err := e.Enhance(ctx, Request{Image: pngs[i], Model: "general_v3", Scale: scale})
				if err != nil {
					t.Fatal(err)
				}
				samePixels(t, f, decodePNG(t, res.PNG))
			}
		}
		if _, err := e.EnhanceFrames(ctx, "general_x4", 4, false, frames); !errors.Is(err, ErrModelNotInstalled) {
			t.Errorf("uninstalled model: %v", err)
		}
	}
}

// TestEnhanceFramesOutOfMemory: frames whose windows do not fit are tiled
// at half the size, as if configured so, and the next frames start at the
// size that fitted.
func TestEnhanceFramesOutOfMemory(t *testing.T) {
	var frames []*image.RGBA
	for i := 0; i < 3; i++ {
		n := noise(40, 30, uint64(30+i))
		frames = append(frames, &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect})
	}
	ctx := context.Background()
	rt := &fakeRuntime{oomOver: 24}
	got, err := newFake(t, Config{Runtime: rt, TilePad: 2}).EnhanceFrames(ctx, "general_v3", 4, false, frames)
	if err != nil {
		t.Fatal(err)
	}
	if rt.oomFails != 1 { // the first frame whole; then tiles of 20 (windows of 24) for all
		t.Errorf("%d forwards refused, want 1", rt.oomFails)
	}
	want, err := newFake(t, Config{TileSize: 20, TilePad: 2}).EnhanceFrames(ctx, "general_v3", 4, false, frames)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		samePixels(t, got[i], want[i])
	}
	_, err = newFake(t, Config{Runtime: &fakeRuntime{oomOver: 8}, TilePad: 2}).EnhanceFrames(ctx, "general_v3", 4, false, frames)
	if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "16 px") {
		t.Errorf("no room for the smallest tile: %v", err)
	}
}

// jpegWithOrientation is a JPEG of m with an EXIF APP1 segment carrying
// the orientation tag, in the byte order given.
func jpegWithOrientation(t *testing.T, m image.Image, o uint16, bo binary.ByteOrder) []byte {
	var j bytes.Buffer
	if err := jpeg.Encode(&j, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	var tiff bytes.Buffer
	if bo == binary.LittleEndian {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	binary.Write(&tiff, bo, uint16(42))
	binary.Write(&tiff, bo, uint32(8))
	binary.Write(&tiff, bo, uint16(1))
	binary.Write(&tiff, bo, [2]uint16{0x0112, 3})
	binary.Write(&tiff, bo, uint32(1))
	binary.Write(&tiff, bo, [2]uint16{o, 0})
	binary.Write(&tiff, bo, uint32(0))
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(j.Bytes()[:2])
	out.Write([]byte{0xff, 0xe1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(j.Bytes()[2:])
	return out.Bytes()
}

func TestEXIFOrientation(t *testing.T) {
	// 32×16: left half red, right half blue.
	m := image.NewRGBA(image.Rect(0, 0, 32, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 16 {
				c = color.RGBA{0, 0, 255, 255}
			}
			m.Set(x, y, c)
		}
	}
	red := func(p *picture, x, y int) bool { return p.rgb[y*p.w+x] > 0.5 }
	for _, tc := range []struct {
		o        uint16
		bo       binary.ByteOrder
		w, h     int
		redAt    image.Point // a pixel that must be red
		notRedAt image.Point
	}{
		{1, binary.BigEndian, 32, 16, image.Pt(2, 8), image.Pt(29, 8)},
		{2, binary.LittleEndian, 32, 16, image.Pt(29, 8), image.Pt(2, 8)},
		{3, binary.BigEndian, 32, 16, image.Pt(29, 8), image.Pt(2, 8)},
		{6, binary.LittleEndian, 16, 32, image.Pt(8, 2), image.Pt(8, 29)}, // 90° clockwise: left goes up
		{8, binary.BigEndian, 16, 32, image.Pt(8, 29), image.Pt(8, 2)},    // 90° counter-clockwise
		{5, binary.BigEndian, 16, 32, image.Pt(8, 2), image.Pt(8, 29)},    // transpose
		{7, binary.LittleEndian, 16, 32, image.Pt(8, 29), image.Pt(8, 2)}, // transverse
	} {
		p, err := decode(jpegWithOrientation(t, m, tc.o, tc.bo), 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.w != tc.w || p.h != tc.h {
			t.Errorf("orientation %d: %dx%d, want %dx%d", tc.o, p.w, p.h, tc.w, tc.h)
			continue
		}
		if !red(p, tc.redAt.X, tc.redAt.Y) || red(p, tc.notRedAt.X, tc.notRedAt.Y) {
			t.Errorf("orientation %d: red in the wrong place", tc.o)
		}
	}
	// Garbage in the EXIF segment is ignored, never a panic.
	b := jpegWithOrientation(t, m, 6, binary.BigEndian)
	for i := 6; i < 40; i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		exifOrientation(c)
	}
}

func TestResize(t *testing.T) {
	p := newPlanes(1, 10, 6)
	for i := range p.pix {
		p.pix[i] = 0.25
	}
	for _, sz := range [][2]int{{40, 24}, {3, 2}, {10, 6}, {17, 1}} {
		q := resize(p, sz[0], sz[1])
		if q.w != sz[0] || q.h != sz[1] {
			t.Fatalf("%v: %dx%d", sz, q.w, q.h)
		}
		for _, v := range q.pix {
			if v < 0.2499 || v > 0.2501 {
				t.Fatalf("%v: flat 0.25 became %v", sz, v)
			}
		}
	}
}

// TestWEBP: lossless WEBP files (made with PIL from skimage's astronaut)
// decode to the same pixels as the PNG of the same crop, and alpha is kept.
func TestWEBP(t *testing.T) {
	for _, tc := range []struct {
		file  string
		alpha bool
	}{{"astronaut_24x20.webp", false}, {"astronaut_24x20_alpha.webp", true}} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		p, err := decode(b, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if p.w != 24 || p.h != 20 || (p.alpha != nil) != tc.alpha || p.gray || p.deep {
			t.Errorf("%s: %dx%d alpha %v gray %v deep %v", tc.file, p.w, p.h, p.alpha != nil, p.gray, p.deep)
		}
		res, err := newFake(t, Config{}).Enhance(context.Background(), Request{Image: b, Model: "general_v3"})
		if err != nil {
			t.Fatal(err)
		}
		out := decodePNG(t, res.PNG)
		if _, isN := out.(*image.NRGBA); out.Bounds().Dx() != 96 || isN != tc.alpha {
			t.Errorf("%s: output %T %v", tc.file, out, out.Bounds())
		}
	}
}

// BenchmarkPipelineOverhead is everything but the network on a 1024²
// photograph at ×4 (decode, pad, tiles, stitch, quantise, PNG), with the
// stand-in network: what the pipeline adds to a runtime's time.
func BenchmarkPipelineOverhead(b *testing.B) {
	src, err := os.ReadFile(astronautPath)
	if err != nil {
		b.Fatal(err)
	}
	p, err := decode(src, 0)
	if err != nil {
		b.Fatal(err)
	}
	in := encode(b, toImage(resize(&planes{c: 3, w: p.w, h: p.h, pix: p.rgb}, 1024, 1024), nil, false))
	for _, tile := range []int{0, 256} {
		b.Run(fmt.Sprintf("tile%d", tile), func(b *testing.B) {
			e := newFake(b, Config{TileSize: tile, TilePad: 10})
			for b.Loop() {
				if _, err := e.Enhance(context.Background(), Request{Image: in, Model: "general_v3"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAutoTile: with no tile size configured, images larger than what the
// model can take whole are tiled at its largest window, with the same result.
func TestAutoTile(t *testing.T) {
	in := encode(t, noise(70, 41, 8))
	whole, err := newFake(t, Config{TilePad: 3}).Enhance(context.Background(), Request{Image: in, Model: "general_v3"})
	if err != nil {
		t.Fatal(err)
	}
	var total int
	res, err := newFake(t, Config{Runtime: &fakeRuntime{maxTile: 24}, TilePad: 3}).Enhance(context.Background(),
		Request{Image: in, Model: "general_v3", Progress: func(_, n int) { total = n }})
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, decodePNG(t, res.PNG), decodePNG(t, whole.PNG))
	if total != 4*3 { // tiles of 24-2·3 = 18: 4 across 70, 3 down 41
		t.Errorf("%d tiles, want 12", total)
	}
}

// TestQuantizedOutput checks the path for models that quantise their own
// output (the GPU's): whole opaque pictures and frames at the network's
// scale come from ForwardRGBA with the pixels the float path makes; the
// rest (a resize, alpha, tiles, a window out of memory) takes the float
// path.
func TestQuantizedOutput(t *testing.T) {
	ctx := context.Background()
	opaque := encode(t, noise(13, 9, 40)) // 13 is odd: general_x2's multiple is 2, so it pads
	alpha := noise(13, 9, 41)
	alpha.Pix[3] = 7
	withAlpha := encode(t, alpha)
	large := encode(t, noise(40, 30, 42))
	var frames []*image.RGBA
	for i := 0; i < 5; i++ {
		n := noise(12, 10, uint64(50+i))
		frames = append(frames, &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect})
	}
	for _, c := range []struct {
		name   string
		cfg    Config
		oom    int
		model  string
		scale  int
		img    []byte
		direct bool
	}{
		{"whole", Config{}, 0, "general_v3", 4, opaque, true},
		{"padded", Config{}, 0, "general_x2", 2, opaque, true},
		{"resize", Config{}, 0, "general_v3", 2, opaque, false},
		{"alpha", Config{}, 0, "general_v3", 4, withAlpha, false},
		{"tiles", Config{TileSize: 4, TilePad: 2}, 0, "general_v3", 4, opaque, false},
		{"out of memory", Config{TilePad: 2}, 24, "general_v3", 4, large, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			cfg := c.cfg
			cfg.Runtime = &fakeRuntime{oomOver: c.oom}
			plain := newFake(t, cfg)
			cfg.Runtime = &fakeRuntime{oomOver: c.oom, quant: &calls, batch: 2}
			quant := newFake(t, cfg)
			want, err := plain.Enhance(ctx, Request{Image: c.img, Model: c.model, Scale: c.scale})
			if err != nil {
				t.Fatal(err)
			}
			got, err := quant.Enhance(ctx, Request{Image: c.img, Model: c.model, Scale: c.scale})
			if err != nil {
				t.Fatal(err)
			}
			samePixels(t, decodePNG(t, got.PNG), decodePNG(t, want.PNG))
			if c.direct != (calls > 0) {
				t.Errorf("ForwardRGBA called %d times", calls)
			}
			if c.img != nil && c.model == "general_v3" {
				calls = 0
				wantF, err := plain.EnhanceFrames(ctx, c.model, c.scale, false, frames)
				if err != nil {
					t.Fatal(err)
				}
				gotF, err := quant.EnhanceFrames(ctx, c.model, c.scale, false, frames)
				if err != nil {
					t.Fatal(err)
				}
				for i := range gotF {
					samePixels(t, gotF[i], wantF[i])
				}
				// Whole frames at the network's scale are batched two at a
				// time: three calls for five.
				wantCalls := 0
				if c.scale == 4 && c.cfg.TileSize == 0 {
					wantCalls = 3
				}
				if c.oom == 0 && calls != wantCalls {
					t.Errorf("frames: ForwardRGBA called %d times, want %d", calls, wantCalls)
				}
			}
		})
	}
}

// TestPoolQuantizes checks that a Pool of runtimes whose models quantise
// their own output keeps the 8-bit path, with the float path's pixels.
func TestPoolQuantizes(t *testing.T) {
	ctx := context.Background()
	img := encode(t, noise(13, 9, 43))
	want, err := newFake(t, Config{}).Enhance(ctx, Request{Image: img, Model: "general_v3", Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	pool := NewPool(&fakeRuntime{quant: &calls}, &fakeRuntime{quant: &calls})
	got, err := newFake(t, Config{Runtime: pool}).Enhance(ctx, Request{Image: img, Model: "general_v3", Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, decodePNG(t, got.PNG), decodePNG(t, want.PNG))
	if calls != 1 {
		t.Errorf("ForwardRGBA called %d times through the pool, want 1", calls)
	}
}
