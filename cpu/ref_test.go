package cpu

import (
	"math"
	"math/rand/v2"

	"imageenhancer/enhance/graph"
)

// This file is a naive reference forward of the graph networks, written
// straight from ../shared/bench/srnets.py, that the oneDNN plans are
// checked against. It works on one image, CHW, accumulating in float64.

type tensor struct {
	c, h, w int
	v       []float32
}

func newTensor(c, h, w int) tensor { return tensor{c, h, w, make([]float32, c*h*w)} }

func (t tensor) at(c, y, x int) float32 { return t.v[(c*t.h+y)*t.w+x] }

func refConv(x tensor, cv *graph.Conv) tensor {
	y := newTensor(cv.Out, x.h, x.w)
	k, p := cv.K, cv.K/2
	for o := 0; o < cv.Out; o++ {
		for yy := 0; yy < x.h; yy++ {
			for xx := 0; xx < x.w; xx++ {
				var s float64
				if cv.Bias != nil {
					s = float64(cv.Bias[o])
				}
				for i := 0; i < cv.In; i++ {
					for ky := 0; ky < k; ky++ {
						iy := yy + ky - p
						if iy < 0 || iy >= x.h {
							continue
						}
						for kx := 0; kx < k; kx++ {
							ix := xx + kx - p
							if ix < 0 || ix >= x.w {
								continue
							}
							s += float64(cv.Weight[((o*cv.In+i)*k+ky)*k+kx]) * float64(x.at(i, iy, ix))
						}
					}
				}
				y.v[(o*y.h+yy)*y.w+xx] = float32(s)
			}
		}
	}
	return y
}

func refLReLU(x tensor) tensor {
	for i, v := range x.v {
		if v < 0 {
			x.v[i] = 0.2 * v
		}
	}
	return x
}

func refCat(ts ...tensor) tensor {
	c := 0
	for _, t := range ts {
		c += t.c
	}
	y := tensor{c: c, h: ts[0].h, w: ts[0].w}
	for _, t := range ts {
		y.v = append(y.v, t.v...)
	}
	return y
}

// refAXPY returns a·x + y.
func refAXPY(a float32, x, y tensor) tensor {
	z := newTensor(x.c, x.h, x.w)
	for i := range z.v {
		z.v[i] = a*x.v[i] + y.v[i]
	}
	return z
}

func refUnshuffle(x tensor, r int) tensor {
	y := newTensor(x.c*r*r, x.h/r, x.w/r)
	for c := 0; c < x.c; c++ {
		for i := 0; i < r; i++ {
			for j := 0; j < r; j++ {
				for yy := 0; yy < y.h; yy++ {
					for xx := 0; xx < y.w; xx++ {
						y.v[((c*r*r+i*r+j)*y.h+yy)*y.w+xx] = x.at(c, yy*r+i, xx*r+j)
					}
				}
			}
		}
	}
	return y
}

func refShuffle(x tensor, r int) tensor {
	y := newTensor(x.c/(r*r), x.h*r, x.w*r)
	for c := 0; c < y.c; c++ {
		for yy := 0; yy < y.h; yy++ {
			for xx := 0; xx < y.w; xx++ {
				y.v[(c*y.h+yy)*y.w+xx] = x.at(c*r*r+(yy%r)*r+xx%r, yy/r, xx/r)
			}
		}
	}
	return y
}

func refNearest(x tensor, r int) tensor {
	y := newTensor(x.c, x.h*r, x.w*r)
	for c := 0; c < y.c; c++ {
		for yy := 0; yy < y.h; yy++ {
			for xx := 0; xx < y.w; xx++ {
				y.v[(c*y.h+yy)*y.w+xx] = x.at(c, yy/r, xx/r)
			}
		}
	}
	return y
}

func refRRDBNet(n *graph.RRDBNet, x tensor) tensor {
	if n.Scale != 4 {
		x = refUnshuffle(x, 4/n.Scale)
	}
	f := refConv(x, &n.First)
	body := f
	for i := range n.Body {
		in := body
		y := in
		for j := range 3 {
			rdb := &n.Body[i][j]
			parts := []tensor{y}
			for k := 0; k < 4; k++ {
				parts = append(parts, refLReLU(refConv(refCat(parts...), &rdb[k])))
			}
			y = refAXPY(0.2, refConv(refCat(parts...), &rdb[4]), y)
		}
		body = refAXPY(0.2, y, in)
	}
	f = refAXPY(1, refConv(body, &n.ConvBody), f)
	f = refLReLU(refConv(refNearest(f, 2), &n.Up1))
	f = refLReLU(refConv(refNearest(f, 2), &n.Up2))
	return refConv(refLReLU(refConv(f, &n.HR)), &n.Last)
}

func refSRVGG(n *graph.SRVGG, x tensor) tensor {
	y := x
	for i := range n.Convs {
		y = refConv(y, &n.Convs[i])
		if i < len(n.PReLU) {
			for c := 0; c < y.c; c++ {
				a := n.PReLU[i][c]
				plane := y.v[c*y.h*y.w : (c+1)*y.h*y.w]
				for j, v := range plane {
					if v < 0 {
						plane[j] = a * v
					}
				}
			}
		}
	}
	return refAXPY(1, refShuffle(y, n.Upscale), refNearest(x, n.Upscale))
}

// randConv returns a convolution with weights scaled like PyTorch's default
// initialisation, so that activations stay near 1 through deep nets.
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
