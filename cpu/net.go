package cpu

import (
	"errors"
	"fmt"
	"slices"

	"imageenhancer/enhance/graph"
)

// checkConv checks one convolution's sizes against its weights.
func checkConv(name string, c *graph.Conv, in, out int) error {
	switch {
	case c.In != in || c.Out != out:
		return fmt.Errorf("cpu: %s is %d→%d, want %d→%d", name, c.In, c.Out, in, out)
	case c.K <= 0 || c.K%2 == 0:
		return fmt.Errorf("cpu: %s has kernel size %d, want an odd size", name, c.K)
	case len(c.Weight) != c.Out*c.In*c.K*c.K:
		return fmt.Errorf("cpu: %s has %d weights, want %d", name, len(c.Weight), c.Out*c.In*c.K*c.K)
	case c.Bias != nil && len(c.Bias) != c.Out:
		return fmt.Errorf("cpu: %s has %d biases, want %d", name, len(c.Bias), c.Out)
	}
	return nil
}

func checkRRDB(n *graph.RRDBNet) error {
	if n.Scale != 1 && n.Scale != 2 && n.Scale != 4 {
		return fmt.Errorf("cpu: RRDBNet scale %d, want 1, 2 or 4", n.Scale)
	}
	f, g := n.NumFeat, n.NumGrow
	if f <= 0 || g <= 0 {
		return fmt.Errorf("cpu: RRDBNet with %d features and %d growth channels", f, g)
	}
	r := 4 / n.Scale
	if err := checkConv("conv_first", &n.First, 3*r*r, f); err != nil {
		return err
	}
	for i := range n.Body {
		for j := range 3 {
			for k := range 5 {
				out := g
				if k == 4 {
					out = f
				}
				name := fmt.Sprintf("body.%d.rdb%d.conv%d", i, j+1, k+1)
				if err := checkConv(name, &n.Body[i][j][k], f+k*g, out); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		c    *graph.Conv
		out  int
	}{{"conv_body", &n.ConvBody, f}, {"conv_up1", &n.Up1, f}, {"conv_up2", &n.Up2, f}, {"conv_hr", &n.HR, f}, {"conv_last", &n.Last, 3}} {
		if err := checkConv(c.name, c.c, f, c.out); err != nil {
			return err
		}
	}
	return nil
}

func checkSRVGG(n *graph.SRVGG) error {
	if n.Upscale <= 0 || n.NumFeat <= 0 || len(n.Convs) < 2 {
		return fmt.Errorf("cpu: SRVGG with upscale %d, %d features, %d convolutions", n.Upscale, n.NumFeat, len(n.Convs))
	}
	if len(n.PReLU) != len(n.Convs)-1 {
		return fmt.Errorf("cpu: SRVGG has %d PReLUs for %d convolutions", len(n.PReLU), len(n.Convs))
	}
	for i := range n.Convs {
		in, out := n.NumFeat, n.NumFeat
		if i == 0 {
			in = 3
		}
		if i == len(n.Convs)-1 {
			out = 3 * n.Upscale * n.Upscale
		} else if len(n.PReLU[i]) != out {
			return fmt.Errorf("cpu: SRVGG PReLU %d has %d slopes, want %d", i, len(n.PReLU[i]), out)
		}
		if err := checkConv(fmt.Sprintf("body.%d", 2*i), &n.Convs[i], in, out); err != nil {
			return err
		}
	}
	return nil
}

// cloneNet copies a network's weights: Load's contract is that the caller's
// description is not kept.
func cloneNet(net graph.Network) graph.Network {
	cp := func(c graph.Conv) graph.Conv {
		c.Weight = slices.Clone(c.Weight)
		c.Bias = slices.Clone(c.Bias)
		return c
	}
	switch n := net.(type) {
	case *graph.RRDBNet:
		m := *n
		m.First, m.ConvBody, m.Up1, m.Up2, m.HR, m.Last = cp(n.First), cp(n.ConvBody), cp(n.Up1), cp(n.Up2), cp(n.HR), cp(n.Last)
		m.Body = make([]graph.RRDB, len(n.Body))
		for i := range n.Body {
			for j := range 3 {
				for k := range 5 {
					m.Body[i][j][k] = cp(n.Body[i][j][k])
				}
			}
		}
		return &m
	case *graph.SRVGG:
		m := *n
		m.Convs = make([]graph.Conv, len(n.Convs))
		for i := range n.Convs {
			m.Convs[i] = cp(n.Convs[i])
		}
		m.PReLU = make([][]float32, len(n.PReLU))
		for i := range n.PReLU {
			m.PReLU[i] = slices.Clone(n.PReLU[i])
		}
		return &m
	case *graph.GFPGAN:
		m := *n
		m.First, m.FinalConv, m.FinalLinear = cp(n.First), cp(n.FinalConv), cp(n.FinalLinear)
		block := func(b graph.UNetBlock) graph.UNetBlock {
			b.Conv1, b.Conv2, b.Skip = cp(b.Conv1), cp(b.Conv2), cp(b.Skip)
			return b
		}
		m.Down, m.Up = make([]graph.UNetBlock, len(n.Down)), make([]graph.UNetBlock, len(n.Up))
		for i := range n.Down {
			m.Down[i] = block(n.Down[i])
		}
		for i := range n.Up {
			m.Up[i] = block(n.Up[i])
		}
		cond := func(cs []graph.SFTCondition) []graph.SFTCondition {
			out := make([]graph.SFTCondition, len(cs))
			for i, c := range cs {
				out[i] = graph.SFTCondition{Conv1: cp(c.Conv1), Conv2: cp(c.Conv2)}
			}
			return out
		}
		m.CondScale, m.CondShift = cond(n.CondScale), cond(n.CondShift)
		m.Constant = slices.Clone(n.Constant)
		mod := func(c graph.ModulatedConv) graph.ModulatedConv {
			c.Conv, c.Modulation = cp(c.Conv), cp(c.Modulation)
			return c
		}
		style := func(s graph.StyleConv) graph.StyleConv {
			s.ModulatedConv = mod(s.ModulatedConv)
			s.Noise, s.Bias = slices.Clone(s.Noise), slices.Clone(s.Bias)
			return s
		}
		rgb := func(r graph.StyleToRGB) graph.StyleToRGB {
			r.ModulatedConv = mod(r.ModulatedConv)
			r.Bias = slices.Clone(r.Bias)
			return r
		}
		m.StyleConv1, m.ToRGB1 = style(n.StyleConv1), rgb(n.ToRGB1)
		m.StyleConvs = make([]graph.StyleConv, len(n.StyleConvs))
		for i := range n.StyleConvs {
			m.StyleConvs[i] = style(n.StyleConvs[i])
		}
		m.ToRGBs = make([]graph.StyleToRGB, len(n.ToRGBs))
		for i := range n.ToRGBs {
			m.ToRGBs[i] = rgb(n.ToRGBs[i])
		}
		return &m
	}
	return net
}

// checkGFPGAN checks the sizes that the plan relies on: every layer's
// channels against its neighbours', the noise buffers and the latents.
func checkGFPGAN(n *graph.GFPGAN) error {
	st := len(n.Down)
	switch {
	case st == 0 || n.Size != 4<<st:
		return fmt.Errorf("cpu: GFPGAN of size %d with %d stages, want 4·2^stages", n.Size, st)
	case len(n.Up) != st || len(n.CondScale) != st || len(n.CondShift) != st || len(n.ToRGBs) != st || len(n.StyleConvs) != 2*st:
		return fmt.Errorf("cpu: GFPGAN with %d down blocks, %d up, %d/%d conditions, %d ToRGBs, %d style convs", st, len(n.Up), len(n.CondScale), len(n.CondShift), len(n.ToRGBs), len(n.StyleConvs))
	case n.NumStyleFeat <= 0 || n.NumLatent != 2*st+2:
		return fmt.Errorf("cpu: GFPGAN with %d latents of %d, want %d", n.NumLatent, n.NumStyleFeat, 2*st+2)
	case n.ConstChannels <= 0 || len(n.Constant) != n.ConstChannels*16:
		return fmt.Errorf("cpu: GFPGAN constant of %d values for %d channels", len(n.Constant), n.ConstChannels)
	}
	var errs []error
	conv := func(name string, c *graph.Conv, in, out int, bias bool) {
		if err := checkConv(name, c, in, out); err != nil {
			errs = append(errs, err)
		} else if bias != (c.Bias != nil) {
			errs = append(errs, fmt.Errorf("cpu: %s: bias %v, want %v", name, c.Bias != nil, bias))
		}
	}
	c := n.First.Out
	conv("conv_body_first", &n.First, 3, c, true)
	block := func(name string, b *graph.UNetBlock, in int, up bool) int {
		out := b.Conv2.Out
		conv(name+".conv1", &b.Conv1, in, in, true)
		conv(name+".conv2", &b.Conv2, in, out, true)
		conv(name+".skip", &b.Skip, in, out, false)
		if b.Up != up {
			errs = append(errs, fmt.Errorf("cpu: %s: up %v, want %v", name, b.Up, up))
		}
		return out
	}
	down := make([]int, st)
	for k := range n.Down {
		c = block(fmt.Sprintf("conv_body_down.%d", k), &n.Down[k], c, false)
		down[k] = c
	}
	conv("final_conv", &n.FinalConv, c, n.FinalConv.Out, true)
	c = n.FinalConv.Out
	conv("final_linear", &n.FinalLinear, c*16, n.NumLatent*n.NumStyleFeat, true)
	mod := func(name string, m *graph.ModulatedConv, in, out, k int, demod, up bool) {
		if m.Conv.K != k {
			errs = append(errs, fmt.Errorf("cpu: %s: kernel %d, want %d", name, m.Conv.K, k))
			return
		}
		conv(name, &m.Conv, in, out, false)
		conv(name+".modulation", &m.Modulation, n.NumStyleFeat, in, true)
		if m.Demodulate != demod || m.Upsample != up || m.Latent < 0 || m.Latent >= n.NumLatent {
			errs = append(errs, fmt.Errorf("cpu: %s: demodulate %v, upsample %v, latent %d", name, m.Demodulate, m.Upsample, m.Latent))
		}
	}
	style := func(name string, s *graph.StyleConv, in, side int, up bool) int {
		out := s.Conv.Out
		mod(name, &s.ModulatedConv, in, out, 3, true, up)
		if len(s.Bias) != out || len(s.Noise) != side*side {
			errs = append(errs, fmt.Errorf("cpu: %s: %d biases, %d noise values, want %d and %d", name, len(s.Bias), len(s.Noise), out, side*side))
		}
		return out
	}
	rgb := func(name string, r *graph.StyleToRGB, in int) {
		mod(name, &r.ModulatedConv, in, 3, 1, false, false)
		if len(r.Bias) != 3 {
			errs = append(errs, fmt.Errorf("cpu: %s: %d biases, want 3", name, len(r.Bias)))
		}
	}
	d := style("style_conv1", &n.StyleConv1, n.ConstChannels, 4, false)
	rgb("to_rgb1", &n.ToRGB1, d)
	for k := range st {
		if c != down[st-1-k] {
			errs = append(errs, fmt.Errorf("cpu: conv_body_up.%d reads %d channels plus conv_body_down.%d's %d", k, c, st-1-k, down[st-1-k]))
			break
		}
		c = block(fmt.Sprintf("conv_body_up.%d", k), &n.Up[k], c, true)
		side := 8 << k
		d = style(fmt.Sprintf("style_convs.%d", 2*k), &n.StyleConvs[2*k], d, side, true)
		cs := d
		if n.SFTHalf {
			cs = d / 2
		}
		for i, cd := range []*graph.SFTCondition{&n.CondScale[k], &n.CondShift[k]} {
			name := fmt.Sprintf("%s.%d", [2]string{"condition_scale", "condition_shift"}[i], k)
			conv(name+".0", &cd.Conv1, c, c, true)
			conv(name+".2", &cd.Conv2, c, cs, true)
		}
		d = style(fmt.Sprintf("style_convs.%d", 2*k+1), &n.StyleConvs[2*k+1], d, side, false)
		rgb(fmt.Sprintf("to_rgbs.%d", k), &n.ToRGBs[k], d)
	}
	return errors.Join(errs...)
}
