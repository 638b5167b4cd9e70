package cpu

import (
	"math"
	"math/rand/v2"

	"imageenhancer/enhance/graph"
)

// Networks of random weights for the tests and benchmarks; the reference
// forward they are checked against is fixtures.Reference.

func randConv(rng *rand.Rand, in, out int) graph.Conv {
	c := graph.Conv{Out: out, In: in, K: 3, Weight: make([]float32, out*in*9), Bias: make([]float32, out)}
	bound := 1 / math.Sqrt(float64(in*9))
	for i := range c.Weight {
		c.Weight[i] = float32((2*rng.Float64() - 1) * bound * 1.7)
	}
	for i := range c.Bias {
		c.Bias[i] = float32((2*rng.Float64() - 1) * 0.1)
	}
	return c
}

func randRRDBNet(rng *rand.Rand, scale, blocks, feat, grow int) *graph.RRDBNet {
	r := 4 / scale
	n := &graph.RRDBNet{Scale: scale, NumFeat: feat, NumGrow: grow, Body: make([]graph.RRDB, blocks)}
	n.First = randConv(rng, 3*r*r, feat)
	for i := range n.Body {
		for j := range 3 {
			for k := range 5 {
				out := grow
				if k == 4 {
					out = feat
				}
				n.Body[i][j][k] = randConv(rng, feat+k*grow, out)
			}
		}
	}
	n.ConvBody, n.Up1, n.Up2, n.HR = randConv(rng, feat, feat), randConv(rng, feat, feat), randConv(rng, feat, feat), randConv(rng, feat, feat)
	n.Last = randConv(rng, feat, 3)
	return n
}

func randSRVGG(rng *rand.Rand, upscale, feat, convs int) *graph.SRVGG {
	n := &graph.SRVGG{Upscale: upscale, NumFeat: feat}
	n.Convs = append(n.Convs, randConv(rng, 3, feat))
	for range convs {
		n.Convs = append(n.Convs, randConv(rng, feat, feat))
	}
	n.Convs = append(n.Convs, randConv(rng, feat, 3*upscale*upscale))
	for range len(n.Convs) - 1 {
		s := make([]float32, feat)
		for i := range s {
			s[i] = float32(rng.Float64() * 0.5)
		}
		n.PReLU = append(n.PReLU, s)
	}
	return n
}

func randImage(rng *rand.Rand, n, h, w int) []float32 {
	v := make([]float32, n*3*h*w)
	for i := range v {
		v[i] = rng.Float32()
	}
	return v
}
