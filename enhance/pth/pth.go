// Package pth reads PyTorch checkpoints written by torch.save (the zip
// format of torch 1.6 and later): a pickle, archive/data.pkl, whose tensors
// point at raw storages archive/data/N. It decodes the pickle with a small
// virtual machine that knows the handful of globals a state dict uses and
// returns every tensor as float32 in its logical (row-major) order.
//
// It deliberately runs no code from the file and imports nothing it names:
// unknown classes become inert Object values. It does not read the legacy
// (pre-1.6, non-zip) format, TorchScript archives or safetensors, and it
// does not know what a network looks like: package enhance maps the names
// to an architecture.
//
// Every size in the file is checked against the file's length before
// anything is allocated, so a truncated or hostile file gives an error that
// wraps ErrFormat, never a panic or an allocation out of proportion to it.
package pth

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"
)

// ErrFormat is wrapped by every error about the content of a checkpoint
// (as opposed to an error opening or reading the file).
var ErrFormat = errors.New("pth: malformed checkpoint")

// Tensor is one tensor of a checkpoint, converted to float32 and laid out
// contiguously in row-major order (PyTorch's logical order), whatever the
// strides and storage type in the file.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Numel is the number of elements, the product of Shape.
func (t *Tensor) Numel() int { return len(t.Data) }

// Checkpoint is a decoded torch.save file.
type Checkpoint struct {
	// Top is the object that was saved; for Real-ESRGAN and GFPGAN
	// releases it holds "params_ema" and/or "params", each a state dict.
	Top *Dict
}

// DefaultStateDictKeys are the top-level keys StateDict tries when given
// none: BasicSR saves the EMA weights (the ones to use) as "params_ema" and
// the plain ones as "params".
func DefaultStateDictKeys() []string { return []string{"params_ema", "params"} }

// StateDict returns the tensors of the first of keys (DefaultStateDictKeys
// when none are given) that names a dict at the top of the checkpoint, or
// else of the top dict itself, which is how a bare model.state_dict() is
// saved. Entries that are not tensors are left out.
func (c *Checkpoint) StateDict(keys ...string) (map[string]*Tensor, error) {
	if len(keys) == 0 {
		keys = DefaultStateDictKeys()
	}
	d := c.Top
	for _, k := range keys {
		if v, ok := c.Top.Get(k); ok {
			if sub, ok := v.(*Dict); ok {
				d = sub
				break
			}
		}
	}
	out := map[string]*Tensor{}
	for i, k := range d.Keys {
		name, ok := k.(string)
		if !ok {
			continue
		}
		if t, ok := d.Values[i].(*Tensor); ok {
			out[name] = t
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no tensors under any of %q nor at the top level", ErrFormat, keys)
	}
	return out, nil
}

// ReadFile reads a checkpoint from a file.
func ReadFile(name string) (*Checkpoint, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	c, err := Read(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// zipMagic starts every zip local file header.
const zipMagic = "PK\x03\x04"

// Read reads a checkpoint of size bytes from r.
func Read(r io.ReaderAt, size int64) (*Checkpoint, error) {
	if size == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrFormat)
	}
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(head) != zipMagic {
		if head[0] == 0x80 {
			return nil, fmt.Errorf("%w: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current torch.save", ErrFormat)
		}
		return nil, fmt.Errorf("%w: not a zip archive written by torch.save", ErrFormat)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	a := &archive{files: map[string]*zip.File{}, fileSize: size, storages: map[string][]byte{}}
	for _, f := range zr.File {
		a.files[f.Name] = f
		dir, base := path.Split(f.Name)
		if base == "data.pkl" && dir != "" && strings.Count(dir, "/") == 1 && a.prefix == "" {
			a.prefix = dir
		}
	}
	if a.prefix == "" {
		return nil, fmt.Errorf("%w: no <name>/data.pkl in the archive (TorchScript and other zip files are not checkpoints)", ErrFormat)
	}
	// Room for every tensor once, plus views and fp16 files (2 bytes per
	// element): twice the file size in elements is more than any real
	// checkpoint needs and bounds what a hostile one can make us allocate.
	a.elemBudget = 2*size + 1024
	a.inflateBudget = 16*size + 1<<20
	if bo, err := a.read(a.prefix+"byteorder", 16); err == nil && strings.TrimSpace(string(bo)) != "little" {
		return nil, fmt.Errorf("%w: byte order %q is not supported", ErrFormat, bo)
	}
	pkl, err := a.read(a.prefix+"data.pkl", size)
	if err != nil {
		return nil, err
	}
	top, err := unpickle(pkl, a.persistentLoad, a.reduce)
	if err != nil {
		return nil, err
	}
	d, ok := top.(*Dict)
	if !ok {
		if o, ok := top.(*Object); ok {
			return nil, fmt.Errorf("%w: the checkpoint is a pickled %s, not a dict; save model.state_dict() instead", ErrFormat, o.Class)
		}
		return nil, fmt.Errorf("%w: the checkpoint is a %T, not a dict", ErrFormat, top)
	}
	return &Checkpoint{Top: d}, nil
}

// archive reads the entries of one checkpoint within budgets.
type archive struct {
	files         map[string]*zip.File
	prefix        string // "archive/" or whatever torch.save named it
	fileSize      int64
	storages      map[string][]byte
	elemBudget    int64 // float32 elements that tensors may still take
	inflateBudget int64 // bytes that compressed entries may still expand to
}

// read returns an entry's bytes, refusing entries that claim more than
// limit bytes or that would expand beyond the file's budget.
func (a *archive) read(name string, limit int64) ([]byte, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s missing from the archive", ErrFormat, name)
	}
	n := f.UncompressedSize64
	if n > uint64(limit) || n > uint64(a.fileSize) && f.Method == zip.Store {
		return nil, fmt.Errorf("%w: %s claims %d bytes, more than the file allows", ErrFormat, name, n)
	}
	if f.Method != zip.Store {
		if int64(n) > a.inflateBudget {
			return nil, fmt.Errorf("%w: %s claims %d bytes once inflated, too many for a %d-byte file", ErrFormat, name, n, a.fileSize)
		}
		a.inflateBudget -= int64(n)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(n)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	if uint64(len(b)) != n {
		return nil, fmt.Errorf("%w: %s holds %d bytes, not the %d its header says", ErrFormat, name, len(b), n)
	}
	return b, nil
}

// dtype is how one storage type stores its elements.
type dtype struct {
	size int
	conv func(b []byte) float32 // one little-endian element
}

// storageType maps the torch storage classes of a persistent id to their
// element encoding.
func storageType(name string) (dtype, bool) {
	le := binary.LittleEndian
	switch name {
	case "FloatStorage":
		return dtype{4, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) }}, true
	case "DoubleStorage":
		return dtype{8, func(b []byte) float32 { return float32(math.Float64frombits(le.Uint64(b))) }}, true
	case "HalfStorage":
		return dtype{2, func(b []byte) float32 { return HalfToFloat32(le.Uint16(b)) }}, true
	case "BFloat16Storage":
		return dtype{2, func(b []byte) float32 { return math.Float32frombits(uint32(le.Uint16(b)) << 16) }}, true
	case "LongStorage":
		return dtype{8, func(b []byte) float32 { return float32(int64(le.Uint64(b))) }}, true
	case "IntStorage":
		return dtype{4, func(b []byte) float32 { return float32(int32(le.Uint32(b))) }}, true
	case "ShortStorage":
		return dtype{2, func(b []byte) float32 { return float32(int16(le.Uint16(b))) }}, true
	case "CharStorage":
		return dtype{1, func(b []byte) float32 { return float32(int8(b[0])) }}, true
	case "ByteStorage", "BoolStorage", "UntypedStorage":
		return dtype{1, func(b []byte) float32 { return float32(b[0]) }}, true
	}
	return dtype{}, false
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant · 2^-24, exact in float32.
	v := float32(mant) / (1 << 24)
	if sign != 0 {
		v = -v
	}
	return v
}

// storage is what a persistent id resolves to: a reference to data/<key>.
type storage struct {
	typ   string
	dt    dtype
	key   string
	numel int64
}

// persistentLoad resolves ('storage', storage_type, key, location, numel).
func (a *archive) persistentLoad(pid any) (any, error) {
	t, ok := pid.(Tuple)
	if !ok || len(t) < 5 {
		return nil, fmt.Errorf("%w: persistent id %v is not a storage tuple", ErrFormat, pid)
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, fmt.Errorf("%w: persistent id of kind %v, want 'storage'", ErrFormat, t[0])
	}
	g, ok := t[1].(Global)
	if !ok || g.Module != "torch" {
		return nil, fmt.Errorf("%w: storage type %v is not a torch storage class", ErrFormat, t[1])
	}
	dt, ok := storageType(g.Name)
	if !ok {
		return nil, fmt.Errorf("%w: storage type %s is not supported", ErrFormat, g)
	}
	key, ok := t[2].(string)
	if !ok || strings.Contains(key, "/") {
		return nil, fmt.Errorf("%w: bad storage key %v", ErrFormat, t[2])
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 || numel > a.fileSize/int64(dt.size) {
		return nil, fmt.Errorf("%w: storage %s has %v elements, more than the file holds", ErrFormat, key, t[4])
	}
	return &storage{typ: g.Name, dt: dt, key: key, numel: numel}, nil
}

// reduce calls the torch functions that rebuild tensors and parameters.
func (a *archive) reduce(g Global, args Tuple) (any, bool, error) {
	if g.Module != "torch._utils" {
		return nil, false, nil
	}
	switch g.Name {
	case "_rebuild_tensor_v2", "_rebuild_tensor":
		if len(args) < 4 {
			return nil, true, fmt.Errorf("%w: %s with %d arguments", ErrFormat, g, len(args))
		}
		t, err := a.rebuildTensor(args[0], args[1], args[2], args[3])
		return t, true, err
	case "_rebuild_parameter", "_rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, true, fmt.Errorf("%w: %s without arguments", ErrFormat, g)
		}
		t, ok := args[0].(*Tensor)
		if !ok {
			return nil, true, fmt.Errorf("%w: %s of a %T", ErrFormat, g, args[0])
		}
		return t, true, nil
	}
	return nil, false, nil
}

// ints converts a pickled tuple of ints.
func ints(v any, what string) ([]int64, error) {
	t, ok := v.(Tuple)
	if !ok {
		return nil, fmt.Errorf("%w: tensor %s is a %T, not a tuple", ErrFormat, what, v)
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%w: tensor %s %v", ErrFormat, what, v)
		}
		out[i] = n
	}
	return out, nil
}

// rebuildTensor is torch._utils._rebuild_tensor_v2 without the autograd
// parts: it gathers the view (offset, sizes, strides) of a storage.
func (a *archive) rebuildTensor(st, off, size, stride any) (*Tensor, error) {
	s, ok := st.(*storage)
	if !ok {
		return nil, fmt.Errorf("%w: tensor built from a %T, not a storage", ErrFormat, st)
	}
	offset, ok := off.(int64)
	if !ok || offset < 0 {
		return nil, fmt.Errorf("%w: tensor storage offset %v", ErrFormat, off)
	}
	shape, err := ints(size, "size")
	if err != nil {
		return nil, err
	}
	strides, err := ints(stride, "stride")
	if err != nil {
		return nil, err
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("%w: tensor size %v and stride %v differ in rank", ErrFormat, shape, strides)
	}
	// numel and the last element reached, with overflow checks: every
	// factor is at most the storage's numel, itself bounded by the file.
	numel, last := int64(1), offset
	for i, n := range shape {
		if n == 0 {
			numel = 0
			break
		}
		if n > s.numel || numel > s.numel/n {
			return nil, fmt.Errorf("%w: tensor of size %v is larger than its storage of %d elements", ErrFormat, shape, s.numel)
		}
		numel *= n
		if strides[i] > s.numel {
			return nil, fmt.Errorf("%w: tensor stride %v exceeds its storage of %d elements", ErrFormat, strides, s.numel)
		}
		last += (n - 1) * strides[i]
	}
	if numel > 0 && last >= s.numel {
		return nil, fmt.Errorf("%w: tensor (offset %d, size %v, stride %v) reaches past its storage of %d elements", ErrFormat, offset, shape, strides, s.numel)
	}
	if numel > a.elemBudget {
		return nil, fmt.Errorf("%w: tensors hold more elements than a %d-byte file can", ErrFormat, a.fileSize)
	}
	a.elemBudget -= numel
	raw, err := a.storageBytes(s)
	if err != nil {
		return nil, err
	}
	t := &Tensor{Shape: make([]int, len(shape)), Data: make([]float32, numel)}
	for i, n := range shape {
		t.Shape[i] = int(n)
	}
	if numel == 0 {
		return t, nil
	}
	// Walk the view in row-major order with an odometer over the indices.
	es := int64(s.dt.size)
	idx := make([]int64, len(shape))
	pos := offset
	for i := range t.Data {
		t.Data[i] = s.dt.conv(raw[pos*es : (pos+1)*es])
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			pos += strides[d]
			if idx[d] < shape[d] {
				break
			}
			pos -= shape[d] * strides[d]
			idx[d] = 0
		}
	}
	return t, nil
}

// storageBytes returns the raw bytes of a storage, read once and checked
// to hold the elements its persistent id declares.
func (a *archive) storageBytes(s *storage) ([]byte, error) {
	raw, ok := a.storages[s.key]
	if !ok {
		var err error
		raw, err = a.read(a.prefix+"data/"+s.key, a.fileSize*17)
		if err != nil {
			return nil, err
		}
		a.storages[s.key] = raw
	}
	if int64(len(raw)) < s.numel*int64(s.dt.size) {
		return nil, fmt.Errorf("%w: storage %s holds %d bytes, fewer than %d %s elements", ErrFormat, s.key, len(raw), s.numel, s.typ)
	}
	return raw, nil
}
