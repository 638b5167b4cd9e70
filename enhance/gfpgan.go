package enhance

import (
	"fmt"
	"strings"

	"imageenhancer/enhance/graph"
	"imageenhancer/enhance/pth"
)

// LoadGFPGAN reads an official GFPGANv1Clean checkpoint (GFPGANv1.3.pth,
// GFPGANv1.4.pth: the state dict under "params_ema", else "params", else
// at the top level) into a network description. Every size is read from
// the tensors and checked against the others; a checkpoint of another
// architecture, a missing tensor or a misshaped one is an error wrapping
// ErrUnsupportedNetwork that names it, and a damaged file an error
// wrapping pth.ErrFormat.
func LoadGFPGAN(path string) (*graph.GFPGAN, error) {
	sd, err := readStateDict(path)
	if err != nil {
		return nil, err
	}
	net, err := gfpganFromStateDict(&stateDict{t: sd, used: map[string]bool{}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return net, nil
}

// isGFPGAN reports whether a state dict looks like a GFPGAN generator, so
// that loadForward can hand it to gfpganFromStateDict.
func isGFPGAN(t map[string]*pth.Tensor) bool {
	return t["stylegan_decoder.constant_input.weight"] != nil
}

// gfpKeys takes tensors from a state dict with shape checks. The first
// error sticks: later calls return zero values, so a builder can read a
// whole layer and check err once.
type gfpKeys struct {
	s   *stateDict
	err error
}

// tensor returns name's tensor if its shape is want (a negative size
// matches any), and marks it used.
func (g *gfpKeys) tensor(name string, want ...int) *pth.Tensor {
	if g.err != nil {
		return nil
	}
	t, ok := g.s.t[name]
	if !ok {
		g.err = unsupported("GFPGANv1Clean tensor %s missing", name)
		return nil
	}
	g.s.used[name] = true
	match := len(t.Shape) == len(want)
	for i := 0; match && i < len(want); i++ {
		match = want[i] < 0 || t.Shape[i] == want[i]
	}
	if !match {
		ds := make([]string, len(want))
		for i, d := range want {
			ds[i] = dim(d)
		}
		g.err = unsupported("%s has shape %v, want [%s]", name, t.Shape, strings.Join(ds, " "))
		return nil
	}
	return t
}

// data is tensor's values, or nil after an error.
func (g *gfpKeys) data(name string, want ...int) []float32 {
	if t := g.tensor(name, want...); t != nil {
		return t.Data
	}
	return nil
}

// conv takes an nn.Conv2d(in, out, k) (negative: any size) with or
// without bias.
func (g *gfpKeys) conv(name string, out, in, k int, bias bool) graph.Conv {
	w := g.tensor(name+".weight", out, in, k, k)
	if w == nil {
		return graph.Conv{}
	}
	c := graph.Conv{Out: w.Shape[0], In: w.Shape[1], K: k, Weight: w.Data}
	if bias {
		c.Bias = g.data(name+".bias", c.Out)
	}
	return c
}

// linear takes an nn.Linear(in, out) as a 1×1 graph.Conv.
func (g *gfpKeys) linear(name string, out, in int) graph.Conv {
	w := g.tensor(name+".weight", out, in)
	if w == nil {
		return graph.Conv{}
	}
	return graph.Conv{Out: w.Shape[0], In: w.Shape[1], K: 1, Weight: w.Data, Bias: g.data(name+".bias", w.Shape[0])}
}

// modConv takes name.modulated_conv: its weight (1×out×in×k×k) and its
// modulation nn.Linear(nstyle, in).
func (g *gfpKeys) modConv(name string, out, in, k, nstyle, latent int, demod, up bool) graph.ModulatedConv {
	w := g.tensor(name+".modulated_conv.weight", 1, out, in, k, k)
	if w == nil {
		return graph.ModulatedConv{}
	}
	return graph.ModulatedConv{
		Conv:       graph.Conv{Out: w.Shape[1], In: w.Shape[2], K: k, Weight: w.Data},
		Modulation: g.linear(name+".modulated_conv.modulation", w.Shape[2], nstyle),
		Demodulate: demod,
		Upsample:   up,
		Latent:     latent,
	}
}

// styleConv takes a StyleConv whose output is side×side, with noise buffer
// noises.noise<noise>.
func (g *gfpKeys) styleConv(name string, out, in, nstyle, latent, noise, side int, up bool) graph.StyleConv {
	m := g.modConv(name, out, in, 3, nstyle, latent, true, up)
	sc := graph.StyleConv{ModulatedConv: m, Bias: g.data(name+".bias", 1, m.Conv.Out, 1, 1)}
	if w := g.data(name+".weight", 1); w != nil {
		sc.NoiseWeight = w[0]
	}
	sc.Noise = g.data(fmt.Sprintf("stylegan_decoder.noises.noise%d", noise), 1, 1, side, side)
	return sc
}

// toRGB takes a ToRGB layer.
func (g *gfpKeys) toRGB(name string, in, nstyle, latent int) graph.StyleToRGB {
	return graph.StyleToRGB{
		ModulatedConv: g.modConv(name, 3, in, 1, nstyle, latent, false, false),
		Bias:          g.data(name+".bias", 1, 3, 1, 1),
	}
}

// unetBlock takes a ResBlock reading in channels (negative: any).
func (g *gfpKeys) unetBlock(name string, in int, up bool) graph.UNetBlock {
	b := graph.UNetBlock{Up: up}
	b.Conv1 = g.conv(name+".conv1", in, in, 3, true)
	b.Conv2 = g.conv(name+".conv2", -1, b.Conv1.Out, 3, true)
	b.Skip = g.conv(name+".skip", b.Conv2.Out, b.Conv1.Out, 1, false)
	return b
}

// sftCondition takes condition_scale.k or condition_shift.k (an
// nn.Sequential of conv, leaky ReLU, conv) reading in channels and
// writing out.
func (g *gfpKeys) sftCondition(name string, in, out int) graph.SFTCondition {
	return graph.SFTCondition{
		Conv1: g.conv(name+".0", in, in, 3, true),
		Conv2: g.conv(name+".2", out, in, 3, true),
	}
}

// gfpganFromStateDict builds a GFPGAN from official key names. The number
// of stages is the number of decoder ToRGB layers; every other size
// follows from the tensors.
func gfpganFromStateDict(s *stateDict) (*graph.GFPGAN, error) {
	if !isGFPGAN(s.t) {
		what := "no stylegan_decoder.constant_input.weight"
		switch {
		case s.t["conv_first.weight"] != nil:
			what = "it holds an RRDBNet (Real-ESRGAN) state dict"
		case s.t["body.0.weight"] != nil:
			what = "it holds an SRVGGNetCompact (Real-ESRGAN) state dict"
		}
		return nil, unsupported("not a GFPGANv1Clean checkpoint (GFPGANv1.3/1.4): %s", what)
	}
	if s.t["stylegan_decoder.style_conv1.activate.bias"] != nil || s.t["conv_body_first.0.weight"] != nil {
		return nil, unsupported("this is the original GFPGANv1 (fused StyleGAN2 ops), not GFPGANv1Clean: use GFPGANv1.3.pth or GFPGANv1.4.pth")
	}
	n := 0
	for s.t[fmt.Sprintf("stylegan_decoder.to_rgbs.%d.modulated_conv.weight", n)] != nil {
		n++
	}
	if n == 0 || n > 12 {
		return nil, unsupported("GFPGANv1Clean with %d decoder stages (stylegan_decoder.to_rgbs.N), want 1 to 12 (7 for 512×512)", n)
	}
	g := &gfpKeys{s: s}
	net := &graph.GFPGAN{Size: 4 << n, NumLatent: 2*n + 2, SFTHalf: true}
	rgb1 := g.tensor("stylegan_decoder.to_rgb1.modulated_conv.modulation.weight", -1, -1)
	if g.err != nil {
		return nil, g.err
	}
	nstyle := rgb1.Shape[1]
	net.NumStyleFeat = nstyle

	// U-Net down, from Size to 4.
	net.First = g.conv("conv_body_first", -1, 3, 1, true)
	c := net.First.Out
	for k := range n {
		b := g.unetBlock(fmt.Sprintf("conv_body_down.%d", k), c, false)
		net.Down = append(net.Down, b)
		c = b.Conv2.Out
	}
	net.FinalConv = g.conv("final_conv", -1, c, 3, true)
	net.FinalLinear = g.linear("final_linear", net.NumLatent*nstyle, net.FinalConv.Out*16)

	// U-Net up, from 4 to Size, adding the down features of the same size.
	c = net.FinalConv.Out
	for k := range n {
		if g.err == nil && net.Down[n-1-k].Conv2.Out != c {
			return nil, unsupported("conv_body_up.%d reads %d channels but conv_body_down.%d, added to them, has %d", k, c, n-1-k, net.Down[n-1-k].Conv2.Out)
		}
		b := g.unetBlock(fmt.Sprintf("conv_body_up.%d", k), c, true)
		net.Up = append(net.Up, b)
		c = b.Conv2.Out
	}

	// Decoder.
	cw := g.tensor("stylegan_decoder.constant_input.weight", 1, -1, 4, 4)
	if g.err != nil {
		return nil, g.err
	}
	net.ConstChannels, net.Constant = cw.Shape[1], cw.Data
	d := net.ConstChannels
	net.StyleConv1 = g.styleConv("stylegan_decoder.style_conv1", d, d, nstyle, 0, 0, 4, false)
	net.ToRGB1 = g.toRGB("stylegan_decoder.to_rgb1", d, nstyle, 1)
	for k := range n {
		side := 8 << k
		up := g.styleConv(fmt.Sprintf("stylegan_decoder.style_convs.%d", 2*k), -1, d, nstyle, 2*k+1, 2*k+1, side, true)
		d = up.Conv.Out
		net.StyleConvs = append(net.StyleConvs, up,
			g.styleConv(fmt.Sprintf("stylegan_decoder.style_convs.%d", 2*k+1), d, d, nstyle, 2*k+2, 2*k+2, side, false))
		net.ToRGBs = append(net.ToRGBs, g.toRGB(fmt.Sprintf("stylegan_decoder.to_rgbs.%d", k), d, nstyle, 2*k+3))
		if g.err != nil {
			return nil, g.err
		}

		// SFT conditions: from Up[k]'s features to half of the decoder's
		// channels (sft_half) or all of them.
		cu := net.Up[k].Conv2.Out
		sc := g.tensor(fmt.Sprintf("condition_scale.%d.2.weight", k), -1, cu, 3, 3)
		if g.err != nil {
			return nil, g.err
		}
		cs := sc.Shape[0]
		if k == 0 {
			net.SFTHalf = 2*cs == d
		}
		want := d
		if net.SFTHalf {
			want = d / 2
		}
		if cs != want {
			return nil, unsupported("condition_scale.%d makes %d channels for a decoder layer of %d: want %d (half of them when sft_half, as condition_scale.0 says, else all)", k, cs, d, want)
		}
		net.CondScale = append(net.CondScale, g.sftCondition(fmt.Sprintf("condition_scale.%d", k), cu, cs))
		net.CondShift = append(net.CondShift, g.sftCondition(fmt.Sprintf("condition_shift.%d", k), cu, cs))
	}
	if g.err != nil {
		return nil, g.err
	}

	// The U-Net's RGB heads only serve training (return_rgb) and the style
	// MLP is skipped with input_is_latent: accept them, unread.
	for k := range s.t {
		if strings.HasPrefix(k, "toRGB.") || strings.HasPrefix(k, "stylegan_decoder.style_mlp.") {
			s.used[k] = true
		}
	}
	if err := s.unused("GFPGANv1Clean"); err != nil {
		return nil, err
	}
	return net, nil
}
