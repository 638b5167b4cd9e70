package cpu

import (
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
	}
	return net
}
