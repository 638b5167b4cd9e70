package enhance

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"imageenhancer/enhance/graph"
	"imageenhancer/enhance/ncnn"
	"imageenhancer/enhance/pth"
)

// ErrUnsupportedNetwork is wrapped by LoadNetwork's errors about a weights
// file that reads fine but is not one of the architectures of package graph
// (or not with the layout those architectures have).
var ErrUnsupportedNetwork = errors.New("unsupported network")

// LoadNetwork reads a weights file into a network description: an official
// PyTorch checkpoint (.pth, the state dict under "params_ema", else
// "params", else at the top level) or an ncnn model (.param, with the .bin
// of the same name beside it). The architecture (RRDBNet or
// SRVGGNetCompact) and its sizes are inferred from tensor names and shapes,
// or from the ncnn layer graph, and checked throughout: anything else is an
// error wrapping ErrUnsupportedNetwork that says what was expected.
func LoadNetwork(path string) (graph.Network, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pth":
		sd, err := readStateDict(path)
		if err != nil {
			return nil, err
		}
		net, err := fromStateDict(sd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return net, nil
	case ".param":
		bin := strings.TrimSuffix(path, filepath.Ext(path)) + ".bin"
		n, err := ncnn.Load(path, bin)
		if err != nil {
			return nil, err
		}
		net, err := fromNcnn(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return net, nil
	}
	return nil, fmt.Errorf("%s: %w: weights must be a PyTorch .pth or an ncnn .param (with its .bin beside it)", path, ErrUnsupportedNetwork)
}

// readStateDict reads the state dict of the PyTorch checkpoint at path.
func readStateDict(path string) (map[string]*pth.Tensor, error) {
	c, err := pth.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sd, err := c.StateDict()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, nil
}

// unsupported formats an ErrUnsupportedNetwork error.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedNetwork}, args...)...)
}

// stateDict hands out tensors by name and remembers which were used, so
// that tensors the architecture does not have can be reported.
type stateDict struct {
	t    map[string]*pth.Tensor
	used map[string]bool
}

// conv takes name.weight (out×in×3×3) and name.bias. A negative out or in
// means any number (it is then read from the weight's shape).
func (s *stateDict) conv(name string, out, in int) (graph.Conv, error) {
	w, ok := s.t[name+".weight"]
	if !ok {
		return graph.Conv{}, unsupported("tensor %s.weight missing", name)
	}
	b, ok := s.t[name+".bias"]
	if !ok {
		return graph.Conv{}, unsupported("tensor %s.bias missing", name)
	}
	s.used[name+".weight"], s.used[name+".bias"] = true, true
	if len(w.Shape) != 4 || w.Shape[2] != 3 || w.Shape[3] != 3 ||
		(out >= 0 && w.Shape[0] != out) || (in >= 0 && w.Shape[1] != in) {
		return graph.Conv{}, unsupported("%s.weight has shape %v, want [%s %s 3 3]", name, w.Shape, dim(out), dim(in))
	}
	if !slices.Equal(b.Shape, w.Shape[:1]) {
		return graph.Conv{}, unsupported("%s.bias has shape %v, want [%d]", name, b.Shape, w.Shape[0])
	}
	return graph.Conv{Out: w.Shape[0], In: w.Shape[1], K: 3, Weight: w.Data, Bias: b.Data}, nil
}

// dim prints an expected size, "N" for any.
func dim(n int) string {
	if n < 0 {
		return "N"
	}
	return strconv.Itoa(n)
}

// unused returns an error naming tensors that no layer took.
func (s *stateDict) unused(arch string) error {
	var extra []string
	for k := range s.t {
		if !s.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	if len(extra) > 5 {
		extra = append(extra[:5], "…")
	}
	return unsupported("tensors that %s does not have: %s", arch, strings.Join(extra, ", "))
}

// scaleOfInput maps conv_first's input channels to the RRDBNet scale: the
// input is pixel-unshuffled by 4/scale first (Real-ESRGAN's RRDBNet).
func scaleOfInput(in int) (int, bool) {
	switch in {
	case 3:
		return 4, true
	case 12:
		return 2, true
	case 48:
		return 1, true
	}
	return 0, false
}

// fromStateDict builds an RRDBNet or SRVGG from official key names.
func fromStateDict(t map[string]*pth.Tensor) (graph.Network, error) {
	s := &stateDict{t: t, used: map[string]bool{}}
	switch {
	case t["conv_first.weight"] != nil:
		return rrdbFromStateDict(s)
	case t["body.0.weight"] != nil:
		return srvggFromStateDict(s)
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 5 {
		keys = append(keys[:5], "…")
	}
	return nil, unsupported("want an RRDBNet (conv_first.weight, body.N.rdbK.convJ…) or an SRVGGNetCompact (body.N.weight) state dict, found %s", strings.Join(keys, ", "))
}

func rrdbFromStateDict(s *stateDict) (graph.Network, error) {
	first, err := s.conv("conv_first", -1, -1)
	if err != nil {
		return nil, err
	}
	scale, ok := scaleOfInput(first.In)
	if !ok {
		return nil, unsupported("conv_first reads %d channels, want 3 (x4), 12 (x2) or 48 (x1)", first.In)
	}
	nf := first.Out
	g, ok := s.t["body.0.rdb1.conv1.weight"]
	if !ok || len(g.Shape) != 4 {
		return nil, unsupported("RRDBNet without body.0.rdb1.conv1.weight")
	}
	net := &graph.RRDBNet{Scale: scale, NumFeat: nf, NumGrow: g.Shape[0], First: first}
	for b := 0; s.t[fmt.Sprintf("body.%d.rdb1.conv1.weight", b)] != nil; b++ {
		var block graph.RRDB
		for r := range block {
			for c := range block[r] {
				in, out := nf+c*net.NumGrow, net.NumGrow
				if c == 4 {
					out = nf
				}
				block[r][c], err = s.conv(fmt.Sprintf("body.%d.rdb%d.conv%d", b, r+1, c+1), out, in)
				if err != nil {
					return nil, err
				}
			}
		}
		net.Body = append(net.Body, block)
	}
	for _, c := range []struct {
		dst  *graph.Conv
		name string
		out  int
	}{{&net.ConvBody, "conv_body", nf}, {&net.Up1, "conv_up1", nf}, {&net.Up2, "conv_up2", nf}, {&net.HR, "conv_hr", nf}, {&net.Last, "conv_last", 3}} {
		if *c.dst, err = s.conv(c.name, c.out, nf); err != nil {
			return nil, err
		}
	}
	return net, s.unused("RRDBNet")
}

func srvggFromStateDict(s *stateDict) (graph.Network, error) {
	net := &graph.SRVGG{}
	i := 0
	for ; ; i += 2 {
		in := net.NumFeat
		if i == 0 {
			in = 3
		}
		c, err := s.conv(fmt.Sprintf("body.%d", i), -1, in)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			net.NumFeat = c.Out
		}
		net.Convs = append(net.Convs, c)
		name := fmt.Sprintf("body.%d.weight", i+1)
		p, ok := s.t[name]
		if !ok {
			break // the last conv has no PReLU after it
		}
		if c.Out != net.NumFeat {
			return nil, unsupported("body.%d maps to %d channels, want num_feat %d (only the last conv differs)", i, c.Out, net.NumFeat)
		}
		if !slices.Equal(p.Shape, []int{net.NumFeat}) {
			return nil, unsupported("%s (PReLU) has shape %v, want [%d]", name, p.Shape, net.NumFeat)
		}
		s.used[name] = true
		net.PReLU = append(net.PReLU, p.Data)
	}
	if len(net.Convs) < 2 {
		return nil, unsupported("SRVGGNetCompact with a single conv")
	}
	up, err := upscaleOf(net.Convs[len(net.Convs)-1].Out)
	if err != nil {
		return nil, fmt.Errorf("body.%d: %w", i, err)
	}
	net.Upscale = up
	return net, s.unused("SRVGGNetCompact")
}

// upscaleOf inverts SRVGGNetCompact's last conv width, 3·upscale².
func upscaleOf(out int) (int, error) {
	for s := 1; s <= 8; s++ {
		if 3*s*s == out {
			return s, nil
		}
	}
	return 0, unsupported("the last conv maps to %d channels, want 3·upscale² (48 for x4, 12 for x2)", out)
}

// ncnnConv checks an ncnn Convolution against torch.nn.Conv2d(in, out, 3,
// 1, 1) with bias (in or out negative: any), followed by a leaky ReLU of
// slope 0.2 when leaky is set, and returns it as a graph.Conv.
func ncnnConv(l *ncnn.Layer, out, in int, leaky bool) (graph.Conv, error) {
	get := func(key, def int) int {
		v, err := l.Int(key, def)
		if err != nil {
			return -1 << 30 // never a valid value: reported below
		}
		return v
	}
	k, kh := get(1, 0), get(11, get(1, 0))
	if k != 3 || kh != 3 || get(2, 1) != 1 || get(3, 1) != 1 || get(5, 0) != 1 || (get(4, 0) != 1 && get(4, 0) != -233) {
		return graph.Conv{}, unsupported("ncnn layer %s is not a 3×3 convolution with stride 1, dilation 1, padding 1 and bias", l.Name)
	}
	o := get(0, 0)
	if o <= 0 || len(l.Weight)%(o*9) != 0 {
		return graph.Conv{}, unsupported("ncnn layer %s: %d weights for %d outputs", l.Name, len(l.Weight), o)
	}
	c := graph.Conv{Out: o, In: len(l.Weight) / (o * 9), K: 3, Weight: l.Weight, Bias: l.Bias}
	if (out >= 0 && c.Out != out) || (in >= 0 && c.In != in) {
		return graph.Conv{}, unsupported("ncnn layer %s maps %d to %d channels, want %s to %s", l.Name, c.In, c.Out, dim(in), dim(out))
	}
	act := get(9, 0)
	slope, _ := l.Floats(10)
	isLeaky := act == 2 && len(slope) == 1 && float32(slope[0]) == 0.2
	if leaky != isLeaky || (!leaky && act != 0) {
		want := "no activation"
		if leaky {
			want = "a leaky ReLU of slope 0.2"
		}
		return graph.Conv{}, unsupported("ncnn layer %s: want %s (activation_type 9=%d)", l.Name, want, act)
	}
	return c, nil
}

// fromNcnn recognises the layer graph of a converted Real-ESRGAN model.
func fromNcnn(n *ncnn.Net) (graph.Network, error) {
	var convs []*ncnn.Layer
	count := map[string]int{}
	for i := range n.Layers {
		l := &n.Layers[i]
		count[l.Type]++
		if l.Type == "Convolution" {
			convs = append(convs, l)
		}
	}
	if count["PReLU"] > 0 || count["PixelShuffle"] > 0 {
		return srvggFromNcnn(n, convs, count)
	}
	return rrdbFromNcnn(n, convs, count)
}

// allowOnly reports layer types outside allowed.
func allowOnly(arch string, count map[string]int, allowed ...string) error {
	for typ := range count {
		if !slices.Contains(allowed, typ) {
			return unsupported("ncnn layer type %s is not part of %s (want only %s)", typ, arch, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func srvggFromNcnn(n *ncnn.Net, convs []*ncnn.Layer, count map[string]int) (graph.Network, error) {
	const arch = "SRVGGNetCompact"
	if err := allowOnly(arch, count, "Input", "Split", "Convolution", "PReLU", "PixelShuffle", "Interp", "BinaryOp"); err != nil {
		return nil, err
	}
	if count["PixelShuffle"] != 1 || count["Interp"] != 1 || count["BinaryOp"] != 1 || count["PReLU"] != len(convs)-1 || len(convs) < 2 {
		return nil, unsupported("%s in ncnn has N convolutions, N-1 PReLUs, one PixelShuffle, one Interp and one BinaryOp; this model has %d, %d, %d, %d and %d",
			arch, len(convs), count["PReLU"], count["PixelShuffle"], count["Interp"], count["BinaryOp"])
	}
	net := &graph.SRVGG{}
	// The weighted layers must alternate conv, PReLU, …, conv.
	next := 0 // 0: want a conv, 1: want a PReLU
	for i := range n.Layers {
		l := &n.Layers[i]
		switch l.Type {
		case "Convolution":
			if next != 0 {
				return nil, unsupported("ncnn layer %s: two convolutions without a PReLU between them", l.Name)
			}
			in, out := net.NumFeat, net.NumFeat
			if len(net.Convs) == 0 {
				in, out = 3, -1
			} else if len(net.Convs) == len(convs)-1 {
				out = -1
			}
			c, err := ncnnConv(l, out, in, false)
			if err != nil {
				return nil, err
			}
			if len(net.Convs) == 0 {
				net.NumFeat = c.Out
			}
			net.Convs = append(net.Convs, c)
			next = 1
		case "PReLU":
			if next != 1 {
				return nil, unsupported("ncnn layer %s: a PReLU that does not follow a convolution", l.Name)
			}
			if len(l.Weight) != net.NumFeat {
				return nil, unsupported("ncnn layer %s has %d slopes, want num_feat %d", l.Name, len(l.Weight), net.NumFeat)
			}
			net.PReLU = append(net.PReLU, l.Weight)
			next = 0
		case "PixelShuffle":
			s, err := l.Int(0, 1)
			if err != nil {
				return nil, unsupported("ncnn layer %s: %v", l.Name, err)
			}
			net.Upscale = s
		case "Interp":
			mode, err := l.Int(0, 0)
			if err != nil || mode != 1 {
				return nil, unsupported("ncnn layer %s: want nearest-neighbour Interp (0=1)", l.Name)
			}
		}
	}
	up, err := upscaleOf(net.Convs[len(net.Convs)-1].Out)
	if err != nil {
		return nil, err
	}
	if up != net.Upscale {
		return nil, unsupported("the last conv maps to %d channels (upscale %d) but PixelShuffle upscales by %d", net.Convs[len(net.Convs)-1].Out, up, net.Upscale)
	}
	return net, nil
}

func rrdbFromNcnn(n *ncnn.Net, convs []*ncnn.Layer, count map[string]int) (graph.Network, error) {
	const arch = "RRDBNet"
	// Reshape and Permute are how an x2/x1 export pixel-unshuffles its input.
	if err := allowOnly(arch, count, "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "Convolution", "Reshape", "Permute"); err != nil {
		return nil, err
	}
	// conv_first, 15 per RRDB, then conv_body, conv_up1, conv_up2, conv_hr,
	// conv_last: the order of RRDBNet.convs() in shared/bench/srnets.py.
	if len(convs) < 6+15 || (len(convs)-6)%15 != 0 || count["Interp"] != 2 {
		return nil, unsupported("%s in ncnn has 6 + 15·num_block convolutions and two Interp layers; this model has %d and %d", arch, len(convs), count["Interp"])
	}
	first, err := ncnnConv(convs[0], -1, -1, false)
	if err != nil {
		return nil, err
	}
	scale, ok := scaleOfInput(first.In)
	if !ok {
		return nil, unsupported("the first convolution reads %d channels, want 3 (x4), 12 (x2) or 48 (x1)", first.In)
	}
	nf := first.Out
	grow, err := ncnnConv(convs[1], -1, nf, true)
	if err != nil {
		return nil, err
	}
	net := &graph.RRDBNet{Scale: scale, NumFeat: nf, NumGrow: grow.Out, First: first}
	k := 1
	for range (len(convs) - 6) / 15 {
		var block graph.RRDB
		for r := range block {
			for c := range block[r] {
				in, out := nf+c*net.NumGrow, net.NumGrow
				if c == 4 {
					out = nf
				}
				if block[r][c], err = ncnnConv(convs[k], out, in, c < 4); err != nil {
					return nil, err
				}
				k++
			}
		}
		net.Body = append(net.Body, block)
	}
	for _, c := range []struct {
		dst   *graph.Conv
		out   int
		leaky bool
	}{{&net.ConvBody, nf, false}, {&net.Up1, nf, true}, {&net.Up2, nf, true}, {&net.HR, nf, true}, {&net.Last, 3, false}} {
		if *c.dst, err = ncnnConv(convs[k], c.out, nf, c.leaky); err != nil {
			return nil, err
		}
		k++
	}
	return net, nil
}
