package gpu_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"imageenhancer/enhance/graph"
	"imageenhancer/enhance/pth"
)

// The tests read weights themselves, in the two formats of the fixtures, so
// that they depend on nothing but the graph contract and the pth reader.

// loadPth maps a Real-ESRGAN state dict (official key names) to a network.
func loadPth(path, key string, scale int) (graph.Network, error) {
	ck, err := pth.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sd, err := ck.StateDict(key)
	if err != nil {
		return nil, err
	}
	conv := func(name string) (graph.Conv, error) {
		w, ok := sd[name+".weight"]
		if !ok || len(w.Shape) != 4 {
			return graph.Conv{}, fmt.Errorf("%s: no 4-D weight", name)
		}
		c := graph.Conv{Out: w.Shape[0], In: w.Shape[1], K: w.Shape[2], Weight: w.Data}
		if b, ok := sd[name+".bias"]; ok {
			c.Bias = b.Data
		}
		return c, nil
	}
	if _, ok := sd["conv_first.weight"]; ok {
		n := &graph.RRDBNet{Scale: scale}
		nb := 0
		for k := range sd {
			if strings.HasPrefix(k, "body.") {
				i, _ := strconv.Atoi(strings.Split(k, ".")[1])
				nb = max(nb, i+1)
			}
		}
		var err error
		if n.First, err = conv("conv_first"); err != nil {
			return nil, err
		}
		n.NumFeat = n.First.Out
		n.Body = make([]graph.RRDB, nb)
		for b := range nb {
			for r := range 3 {
				for i := range 5 {
					if n.Body[b][r][i], err = conv(fmt.Sprintf("body.%d.rdb%d.conv%d", b, r+1, i+1)); err != nil {
						return nil, err
					}
				}
			}
		}
		if nb > 0 {
			n.NumGrow = n.Body[0][0][0].Out
		}
		for _, p := range []struct {
			c    *graph.Conv
			name string
		}{{&n.ConvBody, "conv_body"}, {&n.Up1, "conv_up1"}, {&n.Up2, "conv_up2"}, {&n.HR, "conv_hr"}, {&n.Last, "conv_last"}} {
			if *p.c, err = conv(p.name); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	var idx []int
	for k := range sd {
		if strings.HasPrefix(k, "body.") && strings.HasSuffix(k, ".weight") {
			i, _ := strconv.Atoi(strings.Split(k, ".")[1])
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	n := &graph.SRVGG{}
	for _, i := range idx {
		name := fmt.Sprintf("body.%d", i)
		if len(sd[name+".weight"].Shape) == 4 {
			c, err := conv(name)
			if err != nil {
				return nil, err
			}
			n.Convs = append(n.Convs, c)
		} else {
			n.PReLU = append(n.PReLU, sd[name+".weight"].Data)
		}
	}
	n.NumFeat = n.Convs[0].Out
	n.Upscale = int(math.Round(math.Sqrt(float64(n.Convs[len(n.Convs)-1].Out / 3))))
	return n, nil
}

// loadNcnn reads an ncnn .param/.bin pair of the Real-ESRGAN family: its
// Convolution and PReLU layers in order (as shared/bench/ncnn2npz.py does).
func loadNcnn(param, bin string) (graph.Network, error) {
	pt, err := os.ReadFile(param)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	off := 0
	f32 := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[off+4*i:]))
		}
		off += 4 * n
		return v
	}
	var convs []graph.Conv
	var prelu [][]float32
	for _, ln := range strings.Split(string(pt), "\n")[2:] {
		t := strings.Fields(ln)
		if len(t) < 4 {
			continue
		}
		nin, _ := strconv.Atoi(t[2])
		nout, _ := strconv.Atoi(t[3])
		kv := map[string]int{}
		for _, p := range t[4+nin+nout:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k], _ = strconv.Atoi(v)
		}
		switch t[0] {
		case "Convolution":
			n, cout, k := kv["6"], kv["0"], kv["1"]
			flag := binary.LittleEndian.Uint32(data[off:])
			off += 4
			var w []float32
			switch flag {
			case 0x01306B47:
				w = make([]float32, n)
				for i := range w {
					w[i] = halfToFloat(binary.LittleEndian.Uint16(data[off+2*i:]))
				}
				off += (2*n + 3) / 4 * 4
			case 0:
				w = f32(n)
			default:
				return nil, fmt.Errorf("%s: weight flag %x", t[1], flag)
			}
			c := graph.Conv{Out: cout, In: n / (cout * k * k), K: k, Weight: w}
			if kv["5"] == 1 {
				c.Bias = f32(cout)
			}
			convs = append(convs, c)
		case "PReLU":
			prelu = append(prelu, f32(kv["0"]))
		}
	}
	if off != len(data) {
		return nil, fmt.Errorf("%s: read %d of %d bytes", bin, off, len(data))
	}
	if len(prelu) > 0 {
		last := convs[len(convs)-1]
		return &graph.SRVGG{Upscale: int(math.Round(math.Sqrt(float64(last.Out / 3)))), NumFeat: convs[0].Out,
			Convs: convs, PReLU: prelu}, nil
	}
	nb := (len(convs) - 6) / 15
	n := &graph.RRDBNet{Scale: map[int]int{3: 4, 12: 2, 48: 1}[convs[0].In], NumFeat: convs[0].Out,
		First: convs[0], Body: make([]graph.RRDB, nb)}
	k := 1
	for b := range nb {
		for r := range 3 {
			for i := range 5 {
				n.Body[b][r][i] = convs[k]
				k++
			}
		}
	}
	if nb > 0 {
		n.NumGrow = n.Body[0][0][0].Out
	}
	n.ConvBody, n.Up1, n.Up2, n.HR, n.Last = convs[k], convs[k+1], convs[k+2], convs[k+3], convs[k+4]
	return n, nil
}

func halfToFloat(h uint16) float32 { return pth.HalfToFloat32(h) }
