//go:build cgo && !noonednn

package cpu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"imageenhancer/enhance/graph"
)

// TestProfile prints where the time of one 128×128 forward goes, by step
// kind and oneDNN implementation. It runs only with CPU_PROFILE=1:
//
//	CPU_PROFILE=1 go test -run Profile -v ./cpu
func TestProfile(t *testing.T) {
	if os.Getenv("CPU_PROFILE") == "" {
		t.Skip("set CPU_PROFILE=1")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, cfg := range []Config{{}, {layout: layoutNHWC}, {BF16: true}} {
		for _, net := range []graph.Network{randSRVGG(rng, 4, 64, 32), randRRDBNet(rng, 4, 23, 64, 32)} {
			r, _ := New(cfg)
			mi, err := r.Load(net)
			if err != nil {
				t.Fatal(err)
			}
			m := mi.(*Model)
			const h, w = 128, 128
			in := randImage(rng, 1, h, w)
			out := make([]float32, 3*h*w*16)
			st := m.st
			totals := map[string]time.Duration{}
			err = m.do(func() error {
				p, err := st.plan(h, w)
				if err != nil {
					return err
				}
				if err := p.run(context.Background(), st.ctx, in, out); err != nil {
					return err
				}
				steps := p.steps
				for i := range steps {
					p.steps = steps[i : i+1]
					t0 := time.Now()
					if err := p.run(context.Background(), st.ctx, in, out); err != nil {
						return err
					}
					k := fmt.Sprint("kind", steps[i].kind)
					if steps[i].conv != nil {
						k = fmt.Sprintf("conv %s", convImpl(steps[i].conv))
						if convImpl(steps[i].conv) == "ref:any" {
							t.Logf("ref conv at step %d", i)
						}
					}
					totals[k] += time.Since(t0)
				}
				p.steps = steps
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			var sum time.Duration
			for k, v := range totals {
				keys = append(keys, k)
				sum += v
			}
			sort.Strings(keys)
			t.Logf("%T %+v total %v", net, cfg, sum)
			for _, k := range keys {
				t.Logf("  %-40s %v", k, totals[k])
			}
			m.Close()
		}
	}
}
