package enhance

import (
	"math"
	"runtime"
	"sync"
)

// lanczosA is the Lanczos window: 3 lobes, as PIL's LANCZOS and most image
// libraries use. Real-ESRGAN resizes with OpenCV's INTER_LANCZOS4 (4 lobes,
// no antialiasing); 3 lobes with the kernel widened when shrinking avoids
// the aliasing that scale 1 on a ×4 network would otherwise show.
const lanczosA = 3

func lanczos(x float64) float64 {
	if x == 0 {
		return 1
	}
	if x <= -lanczosA || x >= lanczosA {
		return 0
	}
	px := math.Pi * x
	return lanczosA * math.Sin(px) * math.Sin(px/lanczosA) / (px * px)
}

// weights are one output sample's taps: the first input index and the
// normalised weights of consecutive inputs from there.
type weights struct {
	first int
	w     []float32
}

// kernel computes the taps that map n inputs to m outputs.
func kernel(n, m int) []weights {
	scale := float64(m) / float64(n)
	support, stretch := float64(lanczosA), 1.0
	if scale < 1 { // shrinking: widen the kernel to filter what can't be kept
		support, stretch = lanczosA/scale, scale
	}
	ks := make([]weights, m)
	for i := range ks {
		center := (float64(i)+0.5)/scale - 0.5
		lo := max(int(math.Ceil(center-support)), 0)
		hi := min(int(math.Floor(center+support)), n-1)
		ws := make([]float64, 0, hi-lo+1)
		sum := 0.0
		for j := lo; j <= hi; j++ {
			v := lanczos((float64(j) - center) * stretch)
			ws = append(ws, v)
			sum += v
		}
		k := weights{first: lo, w: make([]float32, len(ws))}
		for j, v := range ws {
			k.w[j] = float32(v / sum)
		}
		ks[i] = k
	}
	return ks
}

// resize returns p resampled to w×h with separable Lanczos-3, horizontal
// pass first. Rows are shared among the CPUs.
func resize(p *planes, w, h int) *planes {
	if p.w == w && p.h == h {
		return p
	}
	kx, ky := kernel(p.w, w), kernel(p.h, h)
	mid := newPlanes(p.c, w, p.h)
	rows(p.c*p.h, func(r int) {
		c, y := r/p.h, r%p.h
		src := p.pix[c*p.w*p.h+y*p.w:][:p.w]
		dst := mid.pix[c*w*p.h+y*w:][:w]
		for x, k := range kx {
			var s float32
			for j, v := range k.w {
				s += v * src[k.first+j]
			}
			dst[x] = s
		}
	})
	out := newPlanes(p.c, w, h)
	rows(p.c*h, func(r int) {
		c, y := r/h, r%h
		k := ky[y]
		dst := out.pix[c*w*h+y*w:][:w]
		for j, v := range k.w {
			src := mid.pix[c*w*p.h+(k.first+j)*w:][:w]
			for x := range dst {
				dst[x] += v * src[x]
			}
		}
	})
	return out
}

// rows calls f for 0..n-1, spread over GOMAXPROCS goroutines.
func rows(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := g; r < n; r += workers {
				f(r)
			}
		}()
	}
	wg.Wait()
}
