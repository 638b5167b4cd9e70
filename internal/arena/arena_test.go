package arena

import (
	"math/rand/v2"
	"testing"
)

func TestPlace(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		live  [][2]int // first, last step of each buffer; {-1, -1}: unused
		want  int      // arena size
	}{
		{"disjoint lifetimes share", []int{128, 64}, [][2]int{{0, 1}, {2, 3}}, 128},
		{"overlapping lifetimes stack", []int{128, 64}, [][2]int{{0, 2}, {2, 3}}, 192},
		{"unused takes nothing", []int{128, 640}, [][2]int{{0, 0}, {-1, -1}}, 128},
		{"sizes round up", []int{1, 1}, [][2]int{{0, 0}, {0, 0}}, 128},
		{"a gap is reused", []int{64, 64, 64, 64}, [][2]int{{0, 4}, {0, 1}, {0, 4}, {2, 3}}, 192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Plan
			for i, s := range tt.sizes {
				id := p.Alloc(s)
				if l := tt.live[i]; l[0] >= 0 {
					p.Use(l[0], id)
					p.Use(l[1], id, -1)
				}
			}
			if got := p.Place(); got != tt.want {
				t.Errorf("Place() = %d, want %d", got, tt.want)
			}
			checkDisjoint(t, &p)
		})
	}
}

// TestPlaceRandom checks on random plans that no two buffers live at the
// same step overlap, and that the arena holds each of them.
func TestPlaceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		p := Plan{Align: 16}
		steps := 1 + rng.IntN(30)
		for range rng.IntN(40) {
			id := p.Alloc(rng.IntN(1000))
			a, b := rng.IntN(steps), rng.IntN(steps)
			p.Use(max(a, b), id)
			p.Use(min(a, b), id)
		}
		size := p.Place()
		for i, u := range p.bufs {
			if u.first >= 0 && u.size > 0 && (u.off < 0 || u.off+u.size > size || u.off%16 != 0) {
				t.Fatalf("buffer %d at %d+%d outside the arena of %d or misaligned", i, u.off, u.size, size)
			}
		}
		checkDisjoint(t, &p)
	}
}

func checkDisjoint(t *testing.T, p *Plan) {
	t.Helper()
	for i, u := range p.bufs {
		for j, v := range p.bufs[:i] {
			if u.first < 0 || v.first < 0 || u.size == 0 || v.size == 0 {
				continue
			}
			live := v.first <= u.last && u.first <= v.last
			apart := u.off+u.size <= v.off || v.off+v.size <= u.off
			if live && !apart {
				t.Errorf("buffers %d [%d,%d) and %d [%d,%d) are live together and overlap", i, u.off, u.off+u.size, j, v.off, v.off+v.size)
			}
		}
	}
}
