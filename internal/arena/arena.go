// Package arena places a network's buffers in one allocation by their
// lifetimes: buffers that are never live at the same step share bytes. The
// CPU and GPU runtimes' GFPGAN plans use it for their activations.
//
// It only computes offsets; it allocates nothing and knows no device.
package arena

import "slices"

// Plan collects buffers and the steps that use them, then places them.
// The zero value is ready for use, with 64-byte alignment.
type Plan struct {
	// Align rounds every buffer's size up (and so its offset); 0 means 64,
	// a cache line.
	Align int
	bufs  []buf
}

// buf is size bytes at off, live from step first to step last (-1 while
// unused).
type buf struct {
	size, off, first, last int
}

func (p *Plan) roundUp(n int) int {
	a := p.Align
	if a <= 0 {
		a = 64
	}
	return (n + a - 1) / a * a
}

// Alloc adds a buffer of size bytes and returns its id. It is live from the
// first step Use names it in to the last.
func (p *Plan) Alloc(size int) int {
	p.bufs = append(p.bufs, buf{size: p.roundUp(size), first: -1, last: -1})
	return len(p.bufs) - 1
}

// Resize sets buffer id's size, for one whose size is known only later.
func (p *Plan) Resize(id, size int) { p.bufs[id].size = p.roundUp(size) }

// Use records that step reads or writes the buffers ids; negative ids are
// left out. Steps are numbered in the order they run.
func (p *Plan) Use(step int, ids ...int) {
	for _, id := range ids {
		if id < 0 {
			continue
		}
		u := &p.bufs[id]
		if u.first < 0 || step < u.first {
			u.first = step
		}
		u.last = max(u.last, step)
	}
}

// Offset is buffer id's offset, valid after Place.
func (p *Plan) Offset(id int) int { return p.bufs[id].off }

// Place gives every buffer an offset and returns the arena's size: largest
// first, each at the lowest offset clear of every placed buffer whose
// lifetime overlaps its own. Buffers never used take no space. (The
// activations of a 512² GFPGANv1.4 in fp32 take 291 MB so, against 1.3 GB
// with a place each.)
func (p *Plan) Place() int {
	order := make([]int, len(p.bufs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return p.bufs[j].size - p.bufs[i].size })
	var placed []*buf
	var busy []*buf // of placed, those live with the one being placed, by offset
	size := 0
	for _, i := range order {
		u := &p.bufs[i]
		if u.first < 0 || u.size == 0 {
			continue // never used
		}
		busy = busy[:0]
		for _, v := range placed {
			if v.first <= u.last && u.first <= v.last {
				busy = append(busy, v)
			}
		}
		slices.SortFunc(busy, func(x, y *buf) int { return x.off - y.off })
		off := 0
		for _, v := range busy {
			if off+u.size <= v.off {
				break
			}
			off = max(off, v.off+v.size)
		}
		u.off = off
		size = max(size, off+u.size)
		placed = append(placed, u)
	}
	return size
}
