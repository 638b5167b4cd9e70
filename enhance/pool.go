package enhance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"imageenhancer/enhance/graph"
)

// Concurrent is implemented by runtimes and models that run several Forward
// calls at once (a Pool of GPUs). Their models are safe for concurrent use:
// Concurrency calls run at once and more wait, so the pipeline needs no lock
// of its own around them and may keep that many batches in flight.
type Concurrent interface {
	Concurrency() int
}

// Pool is a Runtime made of several runtimes of one kind, one per device:
// each network is loaded on every member, and each Forward runs on a member
// that is free. It is how the service uses every GPU of a machine.
type Pool struct {
	members []Runtime
}

var (
	_ Runtime    = (*Pool)(nil)
	_ Concurrent = (*Pool)(nil)
)

// NewPool returns a Pool of rts, which should be of one kind (Name). With
// one runtime it returns that runtime itself, unchanged.
func NewPool(rts ...Runtime) Runtime {
	if len(rts) == 1 {
		return rts[0]
	}
	return &Pool{members: rts}
}

// Name is the members' name ("gpu").
func (p *Pool) Name() string {
	if len(p.members) == 0 {
		return "none"
	}
	return p.members[0].Name()
}

// Concurrency is the number of members: Forward calls that run at once.
func (p *Pool) Concurrency() int { return len(p.members) }

// Load loads net on every member and returns a model that is safe for
// concurrent use (Concurrent). When a member fails, what the others loaded
// is closed and the error names the member.
func (p *Pool) Load(net graph.Network) (graph.Model, error) {
	if len(p.members) == 0 {
		return nil, errors.New("enhance: a pool of no runtimes")
	}
	m := &poolModel{free: make(chan *member, len(p.members))}
	for i, rt := range p.members {
		mm, err := rt.Load(net)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("pool member %d: %w", i, err)
		}
		mem := &member{model: mm}
		m.members = append(m.members, mem)
		m.free <- mem
	}
	for _, mem := range m.members {
		if _, ok := mem.model.(Quantizer); !ok {
			return m, nil
		}
	}
	return &quantPoolModel{m}, nil
}

// Close closes the members that have a Close method; calling it twice is
// safe when theirs is.
func (p *Pool) Close() error {
	var errs []error
	for _, rt := range p.members {
		if c, ok := rt.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// poolModel is a network loaded on every member of a Pool.
type poolModel struct {
	members []*member
	free    chan *member // members no Forward is running on
}

// member is a network on one member. A graph.Model is for one goroutine at
// a time: mu is held around every call into it, since MaxTile and Close
// reach members that a Forward may be running on.
type member struct {
	mu    sync.Mutex
	model graph.Model
}

var (
	_ graph.Model = (*poolModel)(nil)
	_ TileLimiter = (*poolModel)(nil)
	_ Batcher     = (*poolModel)(nil)
	_ Concurrent  = (*poolModel)(nil)
)

// Concurrency is the number of members.
func (m *poolModel) Concurrency() int { return len(m.members) }

// Forward runs on the first member to be free, waiting for one as long as
// ctx allows.
func (m *poolModel) Forward(ctx context.Context, in []float32, n, h, w int, out []float32) error {
	return m.on(ctx, func(mm graph.Model) error { return mm.Forward(ctx, in, n, h, w, out) })
}

// on calls f with the model of the first member to be free, waiting for
// one as long as ctx allows.
func (m *poolModel) on(ctx context.Context, f func(graph.Model) error) error {
	var mem *member
	select {
	case mem = <-m.free:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { m.free <- mem }()
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return f(mem.model)
}

// quantPoolModel is a poolModel whose members all quantise their own
// output (GPUs): it passes ForwardRGBA on, so that a pool keeps the
// pipeline's 8-bit path.
type quantPoolModel struct{ *poolModel }

var _ Quantizer = quantPoolModel{}

// ForwardRGBA runs on the first member to be free, as Forward does.
func (m quantPoolModel) ForwardRGBA(ctx context.Context, in []float32, n, h, w int, out []byte) error {
	return m.on(ctx, func(mm graph.Model) error { return mm.(Quantizer).ForwardRGBA(ctx, in, n, h, w, out) })
}

// errNoTileLimit is MaxTile's answer when no member bounds its tile; the
// pipeline then chooses as for any model that is not a TileLimiter.
var errNoTileLimit = errors.New("enhance: no pool member limits its tile")

// MaxTile is the smallest MaxTile of the members that are TileLimiters,
// so that a tile fits whichever member runs it. It asks each member in
// turn, waiting for a Forward running on it to end.
func (m *poolModel) MaxTile(n int) (int, error) {
	side, limited := 0, false
	for i, mem := range m.members {
		tl, ok := mem.model.(TileLimiter)
		if !ok {
			continue
		}
		mem.mu.Lock()
		s, err := tl.MaxTile(n)
		mem.mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("pool member %d: %w", i, err)
		}
		if !limited || s < side {
			side, limited = s, true
		}
	}
	if !limited {
		return 0, errNoTileLimit
	}
	return side, nil
}

// MaxBatch is the smallest MaxBatch of the members; a member that is not a
// Batcher takes one tile per call. Like the pipeline, it takes MaxBatch to
// depend on the shape alone and asks members without waiting for them.
func (m *poolModel) MaxBatch(h, w int) int {
	nb := 0
	for _, mem := range m.members {
		k := 1
		if b, ok := mem.model.(Batcher); ok {
			k = max(b.MaxBatch(h, w), 1)
		}
		if nb == 0 || k < nb {
			nb = k
		}
	}
	return max(nb, 1)
}

// Close closes every member's model, each once the Forward running on it
// (if any) has ended. Calling it twice is safe when the members' Close is.
func (m *poolModel) Close() error {
	var errs []error
	for _, mem := range m.members {
		mem.mu.Lock()
		errs = append(errs, mem.model.Close())
		mem.mu.Unlock()
	}
	return errors.Join(errs...)
}
