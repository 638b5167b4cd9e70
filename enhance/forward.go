package enhance

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"strings"

	"imageenhancer/enhance/graph"
)

// Forward runs the bare network of a weights file (.pth, or .param with its
// .bin beside it) on an image taken as 8-bit RGB divided by 255 (alpha
// dropped, as PIL's convert("RGB")), with no tiling, padding or clamping.
// out is the network's float32 output in NCHW order and shape its
// dimensions. It is the `forward` command and what every runtime is checked
// with against the PyTorch reference outputs.
//
// A GFPGAN checkpoint (which LoadNetwork refuses: it is no upscaler) runs
// too, on the whole image, which must be its Size×Size; its output is the
// raw network output in [-1,1].
func Forward(rt Runtime, weightsPath string, img image.Image) (out []float32, shape [4]int, err error) {
	l, err := loadModel(loadForward, rt, weightsPath, nil)
	if err != nil {
		return nil, shape, err
	}
	defer l.model.Close()
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if w%l.multiple != 0 || h%l.multiple != 0 {
		return nil, shape, fmt.Errorf("input: %w: %d×%d no es múltiplo de %d, como requiere esta red", ErrInvalidInput, w, h, l.multiple)
	}
	n := w * h
	in := make([]float32, 3*n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			i := y*w + x
			in[i], in[n+i], in[2*n+i] = float32(c.R)/255, float32(c.G)/255, float32(c.B)/255
		}
	}
	s := l.scale
	out = make([]float32, 3*n*s*s)
	if err := l.model.Forward(context.Background(), in, 1, h, w, out); err != nil {
		return nil, shape, fmt.Errorf("inference: %w", err)
	}
	return out, [4]int{1, 3, h * s, w * s}, nil
}

// loadForward is LoadNetwork, or for a PyTorch checkpoint that holds a
// GFPGAN, which LoadNetwork refuses, that GFPGAN. The checkpoint is read
// once whichever it holds: a GFPGAN's is hundreds of megabytes.
func loadForward(path string) (graph.Network, error) {
	if !strings.EqualFold(filepath.Ext(path), ".pth") {
		return LoadNetwork(path)
	}
	sd, err := readStateDict(path)
	if err != nil {
		return nil, err
	}
	var net graph.Network
	if isGFPGAN(sd) {
		net, err = gfpganFromStateDict(&stateDict{t: sd, used: map[string]bool{}})
	} else {
		net, err = fromStateDict(sd)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return net, nil
}
