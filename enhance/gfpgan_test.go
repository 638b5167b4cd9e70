package enhance

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"imageenhancer/enhance/graph"
	"imageenhancer/enhance/pth"
)

// gfpganDir holds the GFPGAN fixtures: a narrow GFPGANv1Clean in the
// official checkpoint format and the PyTorch reference's output.
const gfpganDir = loadSharedDir + "/fixtures/gfpgan/"

// TestLoadGFPGAN checks the sizes read from the narrow fixture checkpoint
// (narrow=0.125, num_style_feat=64: U-Net 4…32 channels, decoder 64…8).
func TestLoadGFPGAN(t *testing.T) {
	path := gfpganDir + "weights/gfpgan_narrow.pth"
	needFile(t, path)
	net, err := LoadGFPGAN(path)
	if err != nil {
		t.Fatal(err)
	}
	var _ graph.Network = net
	got := fmt.Sprintf("size=%d style=%d latents=%d sfthalf=%v unet=%d", net.Size, net.NumStyleFeat, net.NumLatent, net.SFTHalf, net.First.Out)
	for _, b := range net.Down {
		got += fmt.Sprint(",", b.Conv2.Out)
	}
	got += fmt.Sprint(" decoder=", net.ConstChannels)
	for k := 1; k < len(net.StyleConvs); k += 2 {
		got += fmt.Sprint(",", net.StyleConvs[k].Conv.Out)
	}
	const want = "size=512 style=64 latents=16 sfthalf=true unet=4,8,16,32,32,32,32,32 decoder=64,64,64,64,64,32,16,8"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if net.OutScale() != 1 || net.InputMultiple() != 512 {
		t.Errorf("OutScale %d, InputMultiple %d, want 1 and 512", net.OutScale(), net.InputMultiple())
	}
	for k, s := range net.StyleConvs {
		side := 8 << (k / 2)
		if len(s.Noise) != side*side || s.Latent != k+1 || s.Upsample != (k%2 == 0) || !s.Demodulate {
			t.Errorf("StyleConvs[%d]: noise %d values, latent %d, upsample %v, demodulate %v", k, len(s.Noise), s.Latent, s.Upsample, s.Demodulate)
		}
	}
	for k, r := range net.ToRGBs {
		if r.Latent != 2*k+3 || r.Demodulate || r.Conv.K != 1 || r.Conv.Out != 3 {
			t.Errorf("ToRGBs[%d]: latent %d, demodulate %v, %d×%d to %d", k, r.Latent, r.Demodulate, r.Conv.K, r.Conv.K, r.Conv.Out)
		}
	}
}

// TestGFPGANReference runs the manifest's cases through the naive forward
// pass below and compares with the PyTorch reference (gfpnet.py).
func TestGFPGANReference(t *testing.T) {
	const tol = 1e-3 // max abs error the issue sets for the CPU (fp32)
	b, err := os.ReadFile(gfpganDir + "manifest.json")
	if err != nil {
		t.Fatalf("%v: ../shared must sit beside the repo", err)
	}
	var m struct {
		Cases []struct {
			Weights, Input, Expected string
			Shape                    []int
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Cases) == 0 {
		t.Fatal("no cases in the manifest")
	}
	for _, c := range m.Cases {
		t.Run(filepath.Base(c.Expected), func(t *testing.T) {
			net, err := LoadGFPGAN(gfpganDir + c.Weights)
			if err != nil {
				t.Fatal(err)
			}
			in, h, w := readInput(t, gfpganDir+c.Input)
			if h != net.Size || w != net.Size {
				t.Fatalf("input %d×%d, want %d×%d", h, w, net.Size, net.Size)
			}
			x := gfpMap{3, h, w, make([]float32, len(in))}
			for i, v := range in {
				x.d[i] = (v - 0.5) / 0.5 // GFPGAN's normalisation
			}
			want := readF32(t, gfpganDir+c.Expected)
			start := time.Now()
			y := gfpForward(net, x)
			t.Logf("naive forward %.1fs on %d cores", time.Since(start).Seconds(), runtime.NumCPU())
			if len(c.Shape) != 4 || y.c != c.Shape[1] || y.h != c.Shape[2] || y.w != c.Shape[3] || len(want) != len(y.d) {
				t.Fatalf("output %d×%d×%d, want %v (%d values in the file)", y.c, y.h, y.w, c.Shape, len(want))
			}
			maxErr := 0.0
			for i, v := range y.d {
				maxErr = math.Max(maxErr, math.Abs(float64(v)-float64(want[i])))
			}
			if !(maxErr <= tol) {
				t.Errorf("max abs error %.3g, want ≤ %g", maxErr, tol)
			} else {
				t.Logf("max abs error %.3g", maxErr)
			}
		})
	}
}

// TestLoadGFPGANErrors checks that damaged files and other checkpoints are
// refused with errors that say why.
func TestLoadGFPGANErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(gfpganDir + "weights/gfpgan_narrow.pth")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"zero-byte", write("zero.pth", nil), pth.ErrFormat},
		{"truncated", write("trunc.pth", good[:len(good)/2]), pth.ErrFormat},
		{"header only", write("head.pth", good[:100]), pth.ErrFormat},
		{"RRDBNet checkpoint", loadSharedDir + "/fixtures/sr/weights/rrdb_x4_nb2.pth", ErrUnsupportedNetwork},
		{"SRVGG checkpoint", "pth/testdata/srvgg_x4_c4.pth", ErrUnsupportedNetwork},
		{"missing file", filepath.Join(dir, "none.pth"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadGFPGAN(tt.path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

// TestGFPGANStateDictErrors edits the fixture's state dict the ways a
// wrong checkpoint would differ and checks each error names the problem.
func TestGFPGANStateDictErrors(t *testing.T) {
	c, err := pth.ReadFile(gfpganDir + "weights/gfpgan_narrow.pth")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(map[string]*pth.Tensor)
		want string // a part of the message
	}{
		{"missing noise", func(t map[string]*pth.Tensor) { delete(t, "stylegan_decoder.noises.noise13") }, "noises.noise13 missing"},
		{"missing condition", func(t map[string]*pth.Tensor) { delete(t, "condition_shift.3.2.bias") }, "condition_shift.3.2.bias missing"},
		{"misshaped final_linear", func(t map[string]*pth.Tensor) {
			t["final_linear.weight"] = &pth.Tensor{Shape: []int{1024, 256}, Data: make([]float32, 1024*256)}
		}, "final_linear.weight has shape [1024 256], want [1024 512]"},
		{"misshaped modulation", func(t map[string]*pth.Tensor) {
			t["stylegan_decoder.style_convs.9.modulated_conv.modulation.weight"] = &pth.Tensor{Shape: []int{32, 32}, Data: make([]float32, 32*32)}
		}, "style_convs.9.modulated_conv.modulation.weight has shape [32 32], want [32 64]"},
		{"wrong noise size", func(t map[string]*pth.Tensor) {
			t["stylegan_decoder.noises.noise4"] = &pth.Tensor{Shape: []int{1, 1, 8, 8}, Data: make([]float32, 64)}
		}, "noise4 has shape [1 1 8 8], want [1 1 16 16]"},
		{"extra tensor", func(t map[string]*pth.Tensor) {
			t["stylegan_decoder.extra.weight"] = &pth.Tensor{Shape: []int{1}, Data: make([]float32, 1)}
		}, "does not have: stylegan_decoder.extra.weight"},
		{"original GFPGANv1", func(t map[string]*pth.Tensor) {
			t["stylegan_decoder.style_conv1.activate.bias"] = &pth.Tensor{Shape: []int{64}, Data: make([]float32, 64)}
		}, "original GFPGANv1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := c.StateDict()
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(sd)
			_, err = gfpganFromStateDict(&stateDict{t: sd, used: map[string]bool{}})
			if !errors.Is(err, ErrUnsupportedNetwork) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrUnsupportedNetwork with %q", err, tt.want)
			}
		})
	}
}

// The naive forward pass of GFPGANv1Clean, test-only, following
// shared/bench/gfpnet.py step by step: feature maps in float32 as PyTorch
// keeps them, sums in float64.

// gfpMap is a C×H×W feature map.
type gfpMap struct {
	c, h, w int
	d       []float32
}

func newGfpMap(c, h, w int) gfpMap { return gfpMap{c, h, w, make([]float32, c*h*w)} }

// plane is channel ch.
func (m gfpMap) plane(ch int) []float32 { return m.d[ch*m.h*m.w : (ch+1)*m.h*m.w] }

// gfpConv is a zero-padded "same" convolution with weights out×in×k×k
// and an optional bias, output channels spread over the cores.
func gfpConv(x gfpMap, out, k int, wt, bias []float64) gfpMap {
	if len(wt) != out*x.c*k*k {
		panic(fmt.Sprintf("conv: %d weights for %d×%d×%d×%d", len(wt), out, x.c, k, k))
	}
	y := newGfpMap(out, x.h, x.w)
	p := k / 2
	next := make(chan int, out)
	for o := range out {
		next <- o
	}
	close(next)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			acc := make([]float64, x.h*x.w)
			for o := range next {
				b := 0.0
				if bias != nil {
					b = bias[o]
				}
				for i := range acc {
					acc[i] = b
				}
				for i := range x.c {
					in := x.plane(i)
					for ky := range k {
						for kx := range k {
							wv := wt[((o*x.c+i)*k+ky)*k+kx]
							dy, dx := ky-p, kx-p
							x0, x1 := max(0, -dx), min(x.w, x.w-dx)
							for yy := max(0, -dy); yy < min(x.h, x.h-dy); yy++ {
								arow := acc[yy*x.w+x0 : yy*x.w+x1]
								irow := in[(yy+dy)*x.w+x0+dx : (yy+dy)*x.w+x1+dx]
								for j, v := range irow {
									arow[j] += wv * float64(v)
								}
							}
						}
					}
				}
				dst := y.plane(o)
				for i, v := range acc {
					dst[i] = float32(v)
				}
			}
		})
	}
	wg.Wait()
	return y
}

// f64 widens weights.
func f64(v []float32) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// conv runs a graph.Conv.
func (m gfpMap) conv(c graph.Conv) gfpMap {
	if m.c != c.In {
		panic(fmt.Sprintf("conv of %d channels on %d", c.In, m.c))
	}
	return gfpConv(m, c.Out, c.K, f64(c.Weight), f64(c.Bias))
}

func (m gfpMap) lrelu() gfpMap {
	for i, v := range m.d {
		if v < 0 {
			m.d[i] = 0.2 * v
		}
	}
	return m
}

// add returns m + o.
func (m gfpMap) add(o gfpMap) gfpMap {
	y := newGfpMap(m.c, m.h, m.w)
	for i := range y.d {
		y.d[i] = m.d[i] + o.d[i]
	}
	return y
}

// up2 is F.interpolate(scale_factor=2, bilinear, align_corners=False).
func (m gfpMap) up2() gfpMap {
	y := newGfpMap(m.c, 2*m.h, 2*m.w)
	// src = (dst+0.5)/2 − 0.5, clamped at 0; the right neighbour clamped
	// at the edge.
	idx := func(dst, n int) (int, int, float64) {
		s := max((float64(dst)+0.5)/2-0.5, 0)
		i0 := int(s)
		return i0, min(i0+1, n-1), s - float64(i0)
	}
	for ch := range m.c {
		in, out := m.plane(ch), y.plane(ch)
		for yy := range y.h {
			y0, y1, ly := idx(yy, m.h)
			for xx := range y.w {
				x0, x1, lx := idx(xx, m.w)
				v := (1-ly)*((1-lx)*float64(in[y0*m.w+x0])+lx*float64(in[y0*m.w+x1])) +
					ly*((1-lx)*float64(in[y1*m.w+x0])+lx*float64(in[y1*m.w+x1]))
				out[yy*y.w+xx] = float32(v)
			}
		}
	}
	return y
}

// down2 is F.interpolate(scale_factor=0.5, bilinear, align_corners=False):
// src = 2·dst + 0.5, the mean of each 2×2 cell.
func (m gfpMap) down2() gfpMap {
	y := newGfpMap(m.c, m.h/2, m.w/2)
	for ch := range m.c {
		in, out := m.plane(ch), y.plane(ch)
		for yy := range y.h {
			for xx := range y.w {
				r0, r1 := (2*yy)*m.w+2*xx, (2*yy+1)*m.w+2*xx
				out[yy*y.w+xx] = float32((float64(in[r0]) + float64(in[r0+1]) + float64(in[r1]) + float64(in[r1+1])) / 4)
			}
		}
	}
	return y
}

func (m gfpMap) resize(up bool) gfpMap {
	if up {
		return m.up2()
	}
	return m.down2()
}

// unetBlock is ResBlock.
func (m gfpMap) unetBlock(b graph.UNetBlock) gfpMap {
	out := m.conv(b.Conv1).lrelu().resize(b.Up).conv(b.Conv2).lrelu()
	return out.add(m.resize(b.Up).conv(b.Skip))
}

// modConv is ModulatedConv2d with style vector w.
func (m gfpMap) modConv(c graph.ModulatedConv, w []float64) gfpMap {
	mod := c.Modulation
	s := make([]float64, mod.Out)
	for i := range s {
		acc := float64(mod.Bias[i])
		for j, v := range w {
			acc += float64(mod.Weight[i*mod.In+j]) * v
		}
		s[i] = acc
	}
	k2 := c.Conv.K * c.Conv.K
	wt := f64(c.Conv.Weight)
	for o := range c.Conv.Out {
		row := wt[o*c.Conv.In*k2 : (o+1)*c.Conv.In*k2]
		sum := 0.0
		for i := range row {
			row[i] *= s[i/k2]
			sum += row[i] * row[i]
		}
		if c.Demodulate {
			d := 1 / math.Sqrt(sum+1e-8)
			for i := range row {
				row[i] *= d
			}
		}
	}
	if c.Upsample {
		m = m.up2()
	}
	return gfpConv(m, c.Conv.Out, c.Conv.K, wt, nil)
}

// styleConv is StyleConv: lrelu(√2·modconv + noise weight·noise + bias).
func (m gfpMap) styleConv(c graph.StyleConv, latents [][]float64) gfpMap {
	y := m.modConv(c.ModulatedConv, latents[c.Latent])
	if len(c.Noise) != y.h*y.w {
		panic(fmt.Sprintf("noise of %d values for %d×%d", len(c.Noise), y.h, y.w))
	}
	for ch := range y.c {
		p := y.plane(ch)
		for i, v := range p {
			p[i] = float32(float64(v)*math.Sqrt2 + float64(c.NoiseWeight)*float64(c.Noise[i]) + float64(c.Bias[ch]))
		}
	}
	return y.lrelu()
}

// toRGB is ToRGB: modconv + bias (+ up2(skip)).
func (m gfpMap) toRGB(c graph.StyleToRGB, latents [][]float64, skip *gfpMap) gfpMap {
	y := m.modConv(c.ModulatedConv, latents[c.Latent])
	var up gfpMap
	if skip != nil {
		up = skip.up2()
	}
	for ch := range y.c {
		p := y.plane(ch)
		for i, v := range p {
			v += c.Bias[ch]
			if skip != nil {
				v += up.plane(ch)[i]
			}
			p[i] = v
		}
	}
	return y
}

// gfpForward is GFPGANv1Clean.forward on one image in [-1,1].
func gfpForward(net *graph.GFPGAN, x gfpMap) gfpMap {
	f := x.conv(net.First).lrelu()
	var skips []gfpMap
	for _, b := range net.Down {
		f = f.unetBlock(b)
		skips = append(skips, f)
	}
	f = f.conv(net.FinalConv).lrelu()
	lin := gfpMap{f.c * f.h * f.w, 1, 1, f.d}.conv(net.FinalLinear)
	latents := make([][]float64, net.NumLatent)
	for l := range latents {
		latents[l] = f64(lin.d[l*net.NumStyleFeat : (l+1)*net.NumStyleFeat])
	}
	var scale, shift []gfpMap
	for k, b := range net.Up {
		f = f.add(skips[len(skips)-1-k]).unetBlock(b)
		scale = append(scale, f.conv(net.CondScale[k].Conv1).lrelu().conv(net.CondScale[k].Conv2))
		shift = append(shift, f.conv(net.CondShift[k].Conv1).lrelu().conv(net.CondShift[k].Conv2))
	}

	o := gfpMap{net.ConstChannels, 4, 4, net.Constant}
	o = o.styleConv(net.StyleConv1, latents)
	rgb := o.toRGB(net.ToRGB1, latents, nil)
	for k := range net.ToRGBs {
		o = o.styleConv(net.StyleConvs[2*k], latents)
		first := 0
		if net.SFTHalf {
			first = o.c / 2
		}
		for ch := first; ch < o.c; ch++ {
			p, sc, sh := o.plane(ch), scale[k].plane(ch-first), shift[k].plane(ch-first)
			for i, v := range p {
				p[i] = v*sc[i] + sh[i]
			}
		}
		o = o.styleConv(net.StyleConvs[2*k+1], latents)
		rgb = o.toRGB(net.ToRGBs[k], latents, &rgb)
	}
	return rgb
}
