package face

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// fmap is a feature map in NHWC order without the batch: index (i*w+j)*c+k. For MTCNN
// the first spatial axis is the image's x (the Caffe-trained nets see images transposed).
type fmap struct {
	h, w, c int
	d       []float32
}

func newFmap(h, w, c int) *fmap { return &fmap{h, w, c, make([]float32, h*w*c)} }

// conv is a valid-padded, stride-1 convolution with kernel [kh, kw, in, out] (TF layout)
// followed, when alpha is set, by a per-channel PReLU.
type conv struct {
	kh, kw, in, out int
	k, bias, alpha  []float32
}

func (l *conv) forward(x *fmap) *fmap {
	if x.c != l.in {
		panic(fmt.Sprintf("face: conv wants %d channels, has %d", l.in, x.c))
	}
	oh, ow := x.h-l.kh+1, x.w-l.kw+1
	if oh <= 0 || ow <= 0 {
		return newFmap(0, 0, l.out)
	}
	y := newFmap(oh, ow, l.out)
	parallelRows(oh, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			for j := 0; j < ow; j++ {
				acc := y.d[(i*ow+j)*l.out : (i*ow+j+1)*l.out]
				copy(acc, l.bias)
				for ki := 0; ki < l.kh; ki++ {
					for kj := 0; kj < l.kw; kj++ {
						in := x.d[((i+ki)*x.w+j+kj)*x.c:][:x.c]
						kb := l.k[(ki*l.kw+kj)*l.in*l.out:][:l.in*l.out]
						// Four input channels a pass over acc: the same
						// additions in the same order as one at a time,
						// with a quarter of the loads and stores of acc.
						ci := 0
						for ; ci+4 <= len(in); ci += 4 {
							v0, v1, v2, v3 := in[ci], in[ci+1], in[ci+2], in[ci+3]
							k0 := kb[ci*l.out:][:len(acc)]
							k1 := kb[(ci+1)*l.out:][:len(acc)]
							k2 := kb[(ci+2)*l.out:][:len(acc)]
							k3 := kb[(ci+3)*l.out:][:len(acc)]
							for co := range acc {
								a := acc[co]
								a += v0 * k0[co]
								a += v1 * k1[co]
								a += v2 * k2[co]
								a += v3 * k3[co]
								acc[co] = a
							}
						}
						for ; ci < len(in); ci++ {
							v, kr := in[ci], kb[ci*l.out:][:len(acc)]
							for co := range acc {
								acc[co] += v * kr[co]
							}
						}
					}
				}
				if l.alpha != nil {
					for co, v := range acc {
						if v < 0 {
							acc[co] = v * l.alpha[co]
						}
					}
				}
			}
		}
	})
	return y
}

// parallelRows splits [0, n) over the CPUs; small maps stay on one goroutine.
func parallelRows(n int, f func(i0, i1 int)) {
	p := runtime.GOMAXPROCS(0)
	if p == 1 || n < 16 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + p - 1) / p
	for i := 0; i < n; i += step {
		wg.Add(1)
		go func(i0, i1 int) {
			defer wg.Done()
			f(i0, i1)
		}(i, min(i+step, n))
	}
	wg.Wait()
}

// eachParallel calls f(i) for every i in [0, n) on all the CPUs; the
// calls must be independent.
func eachParallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// maxPool is TF's max pooling with "same" (pad after first, padding never wins) or
// "valid" padding.
func maxPool(x *fmap, k, s int, same bool) *fmap {
	var oh, ow, ph, pw int
	if same {
		oh, ow = (x.h+s-1)/s, (x.w+s-1)/s
		ph = max((oh-1)*s+k-x.h, 0) / 2
		pw = max((ow-1)*s+k-x.w, 0) / 2
	} else {
		oh, ow = (x.h-k)/s+1, (x.w-k)/s+1
	}
	y := newFmap(oh, ow, x.c)
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			acc := y.d[(i*ow+j)*x.c:][:x.c]
			for c := range acc {
				acc[c] = float32(math.Inf(-1))
			}
			for ki := 0; ki < k; ki++ {
				si := i*s + ki - ph
				if si < 0 || si >= x.h {
					continue
				}
				for kj := 0; kj < k; kj++ {
					sj := j*s + kj - pw
					if sj < 0 || sj >= x.w {
						continue
					}
					in := x.d[(si*x.w+sj)*x.c:][:x.c]
					for c, v := range in {
						if v > acc[c] {
							acc[c] = v
						}
					}
				}
			}
		}
	}
	return y
}

// dense is a fully connected layer with weights [in, out], then an optional PReLU.
type dense struct {
	in, out        int
	w, bias, alpha []float32
}

func (l *dense) forward(x []float32) []float32 {
	if len(x) != l.in {
		panic(fmt.Sprintf("face: dense wants %d inputs, has %d", l.in, len(x)))
	}
	y := append([]float32(nil), l.bias...)
	for i, v := range x {
		row := l.w[i*l.out:][:l.out]
		for o := range y {
			y[o] += v * row[o]
		}
	}
	if l.alpha != nil {
		for o, v := range y {
			if v < 0 {
				y[o] = v * l.alpha[o]
			}
		}
	}
	return y
}

// softmax2 is the face probability from a two-way softmax (background, face).
func softmax2(a, b float32) float32 {
	return float32(1 / (1 + math.Exp(float64(a-b))))
}

type pnet struct{ conv1, conv2, conv3, prob, reg conv }
type rnet struct {
	conv1, conv2, conv3 conv
	fc1, prob, reg      dense
}
type onet struct {
	conv1, conv2, conv3, conv4 conv
	fc1, prob, reg, points     dense
}

// pnetOut holds PNet's per-cell face probability and box regression.
type pnetOut struct {
	h, w int
	prob []float32 // [h*w]
	reg  []float32 // [h*w*4]: left, top, right, bottom offsets
}

func (n *pnet) forward(x *fmap) pnetOut {
	y := n.conv1.forward(x)
	y = maxPool(y, 2, 2, true)
	y = n.conv2.forward(y)
	y = n.conv3.forward(y)
	p := n.prob.forward(y)
	r := n.reg.forward(y)
	out := pnetOut{h: y.h, w: y.w, prob: make([]float32, y.h*y.w), reg: r.d}
	for i := range out.prob {
		out.prob[i] = softmax2(p.d[2*i], p.d[2*i+1])
	}
	return out
}

func (n *rnet) forward(x *fmap) (prob float32, reg []float32) {
	y := n.conv1.forward(x)
	y = maxPool(y, 3, 2, true)
	y = n.conv2.forward(y)
	y = maxPool(y, 3, 2, false)
	y = n.conv3.forward(y)
	v := n.fc1.forward(y.d)
	p := n.prob.forward(v)
	return softmax2(p[0], p[1]), n.reg.forward(v)
}

func (n *onet) forward(x *fmap) (prob float32, reg, points []float32) {
	y := n.conv1.forward(x)
	y = maxPool(y, 3, 2, true)
	y = n.conv2.forward(y)
	y = maxPool(y, 3, 2, false)
	y = n.conv3.forward(y)
	y = maxPool(y, 2, 2, true)
	y = n.conv4.forward(y)
	v := n.fc1.forward(y.d)
	p := n.prob.forward(v)
	return softmax2(p[0], p[1]), n.reg.forward(v), n.points.forward(v)
}

// netLoader takes tensors out of a manifest by name, checking every shape.
type netLoader struct {
	t   map[string]tensor
	err error
}

func (l *netLoader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	t, ok := l.t[name]
	if !ok {
		l.err = fmt.Errorf("face: weights lack %s", name)
		return nil
	}
	if fmt.Sprint(t.shape) != fmt.Sprint(shape) {
		l.err = fmt.Errorf("face: %s has shape %v, want %v", name, t.shape, shape)
		return nil
	}
	return t.data
}

// conv reads net/name/{weights,bias} and, if prelu is not empty, net/prelu; the
// kernel's sizes come from the tensor itself.
func (l *netLoader) conv(net, name, prelu string) conv {
	t, ok := l.t[net+"/"+name+"/weights"]
	if !ok || len(t.shape) != 4 {
		if l.err == nil {
			l.err = fmt.Errorf("face: weights lack a 4-d %s/%s/weights", net, name)
		}
		return conv{}
	}
	c := conv{kh: t.shape[0], kw: t.shape[1], in: t.shape[2], out: t.shape[3], k: t.data}
	c.bias = l.get(net+"/"+name+"/bias", c.out)
	if prelu != "" {
		c.alpha = l.get(net+"/"+prelu+"_alpha", c.out)
	}
	return c
}

func (l *netLoader) dense(net, name, prelu string) dense {
	t, ok := l.t[net+"/"+name+"/weights"]
	if !ok || len(t.shape) != 2 {
		if l.err == nil {
			l.err = fmt.Errorf("face: weights lack a 2-d %s/%s/weights", net, name)
		}
		return dense{}
	}
	d := dense{in: t.shape[0], out: t.shape[1], w: t.data}
	d.bias = l.get(net+"/"+name+"/bias", d.out)
	if prelu != "" {
		d.alpha = l.get(net+"/"+prelu+"_alpha", d.out)
	}
	return d
}

func loadNets(t map[string]tensor) (*pnet, *rnet, *onet, error) {
	l := &netLoader{t: t}
	p := &pnet{
		conv1: l.conv("pnet", "conv1", "prelu1"),
		conv2: l.conv("pnet", "conv2", "prelu2"),
		conv3: l.conv("pnet", "conv3", "prelu3"),
		prob:  l.conv("pnet", "conv4_1", ""),
		reg:   l.conv("pnet", "conv4_2", ""),
	}
	r := &rnet{
		conv1: l.conv("rnet", "conv1", "prelu1"),
		conv2: l.conv("rnet", "conv2", "prelu2"),
		conv3: l.conv("rnet", "conv3", "prelu3"),
		fc1:   l.dense("rnet", "fc1", "prelu4"),
		prob:  l.dense("rnet", "fc2_1", ""),
		reg:   l.dense("rnet", "fc2_2", ""),
	}
	o := &onet{
		conv1:  l.conv("onet", "conv1", "prelu1"),
		conv2:  l.conv("onet", "conv2", "prelu2"),
		conv3:  l.conv("onet", "conv3", "prelu3"),
		conv4:  l.conv("onet", "conv4", "prelu4"),
		fc1:    l.dense("onet", "fc1", "prelu5"),
		prob:   l.dense("onet", "fc2_1", ""),
		reg:    l.dense("onet", "fc2_2", ""),
		points: l.dense("onet", "fc2_3", ""),
	}
	if l.err != nil {
		return nil, nil, nil, l.err
	}
	// The heads' sizes are the contract with the pipeline below.
	if p.prob.out != 2 || p.reg.out != 4 || r.prob.out != 2 || r.reg.out != 4 ||
		o.prob.out != 2 || o.reg.out != 4 || o.points.out != 10 {
		return nil, nil, nil, fmt.Errorf("face: unexpected MTCNN head sizes")
	}
	return p, r, o, nil
}
