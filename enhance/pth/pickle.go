package pth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Global is a class or function that a pickle names with GLOBAL or
// STACK_GLOBAL. Nothing is ever imported or called: the machine knows a few
// torch and collections names and keeps every other one as a value.
type Global struct {
	Module, Name string
}

// String returns "module.name".
func (g Global) String() string { return g.Module + "." + g.Name }

// Tuple is a pickled tuple.
type Tuple []any

// List is a pickled list. It is a pointer type because APPEND changes it in
// place after it may already have been memoised.
type List struct {
	Items []any
}

// Object is the result of calling (REDUCE, NEWOBJ) a Global that the machine
// does not know, with the arguments it was given and the state BUILD set.
// It lets a checkpoint carry extra entries (optimizer settings, argparse
// namespaces) without making the state dict unreadable.
type Object struct {
	Class Global
	Args  Tuple
	State any
}

// Dict is a pickled dict or collections.OrderedDict. It keeps the insertion
// order, which for a state dict is the order of the module's parameters.
type Dict struct {
	Keys   []any
	Values []any
	index  map[string]int // position of each string key
}

// newDict returns an empty Dict.
func newDict() *Dict { return &Dict{index: map[string]int{}} }

// Len is the number of entries.
func (d *Dict) Len() int { return len(d.Keys) }

// Get returns the value of a string key and whether it is present.
func (d *Dict) Get(key string) (any, bool) {
	i, ok := d.index[key]
	if !ok {
		return nil, false
	}
	return d.Values[i], true
}

// set adds or replaces an entry. Keys must be hashable in Python; here only
// the scalar kinds are accepted, which covers every real checkpoint.
func (d *Dict) set(k, v any) error {
	switch k.(type) {
	case string, int64, float64, bool, nil, Tuple:
	default:
		return fmt.Errorf("%w: unhashable dict key of type %T", ErrFormat, k)
	}
	if s, ok := k.(string); ok {
		if i, ok := d.index[s]; ok {
			d.Values[i] = v
			return nil
		}
		d.index[s] = len(d.Keys)
	}
	d.Keys = append(d.Keys, k)
	d.Values = append(d.Values, v)
	return nil
}

// persistentLoader resolves a BINPERSID id into a value (a storage).
type persistentLoader func(pid any) (any, error)

// reducer calls a known Global; it returns handled=false for unknown ones.
type reducer func(g Global, args Tuple) (v any, handled bool, err error)

// machine is a pickle virtual machine restricted to the data types a
// torch state dict uses. It never executes code: globals are names.
type machine struct {
	data    []byte
	pos     int
	stack   []any
	marks   []int
	memo    map[int64]any
	persist persistentLoader
	reduce  reducer
}

// maxStack bounds the stack, the MARKs and the memo. A pickle cannot grow
// them past its own length anyway (one opcode byte per entry at least); the
// bound only keeps a hostile one from using more than a few hundred MB.
const maxStack = 1 << 22

// unpickle runs the machine to STOP and returns the top of the stack.
func unpickle(data []byte, persist persistentLoader, reduce reducer) (any, error) {
	m := &machine{data: data, memo: map[int64]any{}, persist: persist, reduce: reduce}
	v, err := m.run()
	if err != nil {
		return nil, fmt.Errorf("data.pkl at byte %d: %w", m.pos, err)
	}
	return v, nil
}

func (m *machine) errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

func (m *machine) need(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, m.errf("pickle truncated (need %d bytes)", n)
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

func (m *machine) u8() (int, error) {
	b, err := m.need(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (m *machine) u16() (int, error) {
	b, err := m.need(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (m *machine) u32() (uint32, error) {
	b, err := m.need(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (m *machine) u64() (uint64, error) {
	b, err := m.need(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// line reads up to and excluding the next '\n' (text opcodes of protocol 0).
func (m *machine) line() (string, error) {
	rest := m.data[m.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return "", m.errf("pickle truncated (unterminated line)")
	}
	m.pos += i + 1
	return string(rest[:i]), nil
}

func (m *machine) push(v any) error {
	if len(m.stack) >= maxStack {
		return m.errf("pickle stack too deep")
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return nil, m.errf("pickle stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return nil, m.errf("pickle stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, m.errf("pickle MARK missing")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]any(nil), m.stack[k:]...)
	m.stack = m.stack[:k]
	return items, nil
}

func (m *machine) popN(n int) ([]any, error) {
	floor := 0
	if len(m.marks) > 0 {
		floor = m.marks[len(m.marks)-1]
	}
	if len(m.stack)-floor < n {
		return nil, m.errf("pickle stack underflow")
	}
	items := append([]any(nil), m.stack[len(m.stack)-n:]...)
	m.stack = m.stack[:len(m.stack)-n]
	return items, nil
}

func (m *machine) memoPut(i int64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if len(m.memo) >= maxStack {
		return m.errf("pickle memo too large")
	}
	m.memo[i] = v
	return nil
}

func (m *machine) memoGet(i int64) error {
	v, ok := m.memo[i]
	if !ok {
		return m.errf("pickle memo key %d missing", i)
	}
	return m.push(v)
}

func (m *machine) str(n int) error {
	b, err := m.need(n)
	if err != nil {
		return err
	}
	return m.push(string(b))
}

func (m *machine) bytes(n int) error {
	b, err := m.need(n)
	if err != nil {
		return err
	}
	return m.push(append([]byte(nil), b...))
}

// callGlobal applies REDUCE or NEWOBJ.
func (m *machine) callGlobal(fn any, args any) error {
	g, ok := fn.(Global)
	if !ok {
		return m.errf("pickle calls a %T, not a global", fn)
	}
	t, ok := args.(Tuple)
	if !ok {
		return m.errf("pickle calls %s with %T, not a tuple", g, args)
	}
	switch g {
	case Global{"collections", "OrderedDict"}, Global{"builtins", "dict"}, Global{"__builtin__", "dict"}:
		d := newDict()
		if len(t) > 0 {
			return m.errf("%s with arguments is not supported", g)
		}
		return m.push(d)
	}
	if m.reduce != nil {
		v, handled, err := m.reduce(g, t)
		if err != nil {
			return err
		}
		if handled {
			return m.push(v)
		}
	}
	return m.push(&Object{Class: g, Args: t})
}

func (m *machine) setItems(d any, items []any) error {
	dict, ok := d.(*Dict)
	if !ok {
		if o, isObj := d.(*Object); isObj {
			// A dict subclass rebuilt as an Object keeps its items in State.
			if o.State == nil {
				o.State = newDict()
			}
			if dict, ok = o.State.(*Dict); !ok {
				return m.errf("SETITEM on %T", d)
			}
		} else {
			return m.errf("SETITEM on %T", d)
		}
	}
	if len(items)%2 != 0 {
		return m.errf("SETITEMS with an odd number of items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := dict.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (m *machine) appendItems(l any, items []any) error {
	switch l := l.(type) {
	case *List:
		l.Items = append(l.Items, items...)
		return nil
	case *Object:
		// list subclass (rare): keep items in State.
		s, _ := l.State.(*List)
		if s == nil {
			s = &List{}
			l.State = s
		}
		s.Items = append(s.Items, items...)
		return nil
	}
	return m.errf("APPEND on %T", l)
}

func (m *machine) run() (any, error) {
	for {
		op, err := m.u8()
		if err != nil {
			return nil, err
		}
		switch op {
		case 0x80: // PROTO
			if _, err = m.u8(); err != nil {
				return nil, err
			}
		case 0x95: // FRAME
			_, err = m.u64()
		case '.': // STOP
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case '(': // MARK
			m.marks = append(m.marks, len(m.stack))
			if len(m.marks) > maxStack {
				return nil, m.errf("too many MARKs")
			}
		case '0': // POP
			_, err = m.pop()
		case '1': // POP_MARK
			_, err = m.popMark()
		case '2': // DUP
			var v any
			if v, err = m.top(); err == nil {
				err = m.push(v)
			}
		case 'N':
			err = m.push(nil)
		case 0x88:
			err = m.push(true)
		case 0x89:
			err = m.push(false)
		case 'J': // BININT
			var v uint32
			if v, err = m.u32(); err == nil {
				err = m.push(int64(int32(v)))
			}
		case 'K': // BININT1
			var v int
			if v, err = m.u8(); err == nil {
				err = m.push(int64(v))
			}
		case 'M': // BININT2
			var v int
			if v, err = m.u16(); err == nil {
				err = m.push(int64(v))
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			var n int
			if op == 0x8a {
				n, err = m.u8()
			} else {
				var u uint32
				u, err = m.u32()
				n = int(min(u, math.MaxInt32))
			}
			if err != nil {
				return nil, err
			}
			if n > 8 {
				return nil, m.errf("integer of %d bytes is too large", n)
			}
			b, err := m.need(n)
			if err != nil {
				return nil, err
			}
			var v uint64
			for i := n - 1; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			if n > 0 && n < 8 && b[n-1]&0x80 != 0 { // sign-extend
				v |= ^uint64(0) << (8 * n)
			}
			err = m.push(int64(v))
		case 'I', 'L': // INT, LONG (text)
			var s string
			if s, err = m.line(); err != nil {
				return nil, err
			}
			s = strings.TrimSuffix(s, "L")
			switch s {
			case "00":
				err = m.push(false)
			case "01":
				err = m.push(true)
			default:
				v, perr := strconv.ParseInt(s, 10, 64)
				if perr != nil {
					return nil, m.errf("bad integer %q", s)
				}
				err = m.push(v)
			}
		case 'F': // FLOAT (text)
			var s string
			if s, err = m.line(); err != nil {
				return nil, err
			}
			v, perr := strconv.ParseFloat(s, 64)
			if perr != nil {
				return nil, m.errf("bad float %q", s)
			}
			err = m.push(v)
		case 'G': // BINFLOAT, big-endian
			var b []byte
			if b, err = m.need(8); err == nil {
				err = m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'X', 'T', 'B': // BINUNICODE, BINSTRING, BINBYTES: 4-byte length
			var n uint32
			if n, err = m.u32(); err != nil {
				return nil, err
			}
			ln := int(min(n, math.MaxInt32))
			if op == 'B' {
				err = m.bytes(ln)
			} else {
				err = m.str(ln)
			}
		case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
			var n int
			if n, err = m.u8(); err != nil {
				return nil, err
			}
			if op == 'C' {
				err = m.bytes(n)
			} else {
				err = m.str(n)
			}
		case 0x8d, 0x8e: // BINUNICODE8, BINBYTES8
			var n uint64
			if n, err = m.u64(); err != nil {
				return nil, err
			}
			ln := int(min(n, math.MaxInt32))
			if op == 0x8e {
				err = m.bytes(ln)
			} else {
				err = m.str(ln)
			}
		case 'S': // STRING (text, quoted)
			var s string
			if s, err = m.line(); err != nil {
				return nil, err
			}
			if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
				return nil, m.errf("bad STRING %q", s)
			}
			err = m.push(s[1 : len(s)-1])
		case 'V': // UNICODE (text)
			var s string
			if s, err = m.line(); err == nil {
				err = m.push(s)
			}
		case ')':
			err = m.push(Tuple{})
		case 't', 0x91: // TUPLE, FROZENSET (kept as a tuple)
			var items []any
			if items, err = m.popMark(); err == nil {
				err = m.push(Tuple(items))
			}
		case 0x85, 0x86, 0x87: // TUPLE1..3
			var items []any
			if items, err = m.popN(int(op - 0x84)); err == nil {
				err = m.push(Tuple(items))
			}
		case ']':
			err = m.push(&List{})
		case 'l':
			var items []any
			if items, err = m.popMark(); err == nil {
				err = m.push(&List{Items: items})
			}
		case 'a': // APPEND
			var v, l any
			if v, err = m.pop(); err != nil {
				return nil, err
			}
			if l, err = m.top(); err == nil {
				err = m.appendItems(l, []any{v})
			}
		case 'e', 0x90: // APPENDS, ADDITEMS (a set is kept as a list)
			var items []any
			if items, err = m.popMark(); err != nil {
				return nil, err
			}
			var l any
			if l, err = m.top(); err == nil {
				err = m.appendItems(l, items)
			}
		case '}':
			err = m.push(newDict())
		case 'd':
			var items []any
			if items, err = m.popMark(); err != nil {
				return nil, err
			}
			d := newDict()
			if err = m.setItems(d, items); err == nil {
				err = m.push(d)
			}
		case 's': // SETITEM
			var kv []any
			if kv, err = m.popN(2); err != nil {
				return nil, err
			}
			var d any
			if d, err = m.top(); err == nil {
				err = m.setItems(d, kv)
			}
		case 'u': // SETITEMS
			var items []any
			if items, err = m.popMark(); err != nil {
				return nil, err
			}
			var d any
			if d, err = m.top(); err == nil {
				err = m.setItems(d, items)
			}
		case 0x8f: // EMPTY_SET: kept as a list
			err = m.push(&List{})
		case 'c': // GLOBAL
			var mod, name string
			if mod, err = m.line(); err != nil {
				return nil, err
			}
			if name, err = m.line(); err != nil {
				return nil, err
			}
			err = m.push(Global{Module: mod, Name: name})
		case 0x93: // STACK_GLOBAL
			var v []any
			if v, err = m.popN(2); err != nil {
				return nil, err
			}
			mod, ok1 := v[0].(string)
			name, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return nil, m.errf("STACK_GLOBAL needs two strings")
			}
			err = m.push(Global{Module: mod, Name: name})
		case 'R', 0x81: // REDUCE, NEWOBJ
			var v []any
			if v, err = m.popN(2); err == nil {
				err = m.callGlobal(v[0], v[1])
			}
		case 'b': // BUILD
			var state, obj any
			if state, err = m.pop(); err != nil {
				return nil, err
			}
			if obj, err = m.top(); err != nil {
				return nil, err
			}
			// Only unknown objects keep their state; a state dict's
			// _metadata and a tensor's attributes are not needed.
			if o, ok := obj.(*Object); ok {
				o.State = state
			}
		case 'p', 'q', 'r': // PUT (text), BINPUT, LONG_BINPUT
			var i int64
			if i, err = m.memoIndex(op, "PUT"); err == nil {
				err = m.memoPut(i)
			}
		case 0x94: // MEMOIZE
			err = m.memoPut(int64(len(m.memo)))
		case 'g', 'h', 'j': // GET (text), BINGET, LONG_BINGET
			var i int64
			if i, err = m.memoIndex(op, "GET"); err == nil {
				err = m.memoGet(i)
			}
		case 'Q': // BINPERSID
			var pid any
			if pid, err = m.pop(); err != nil {
				return nil, err
			}
			err = m.persistent(pid)
		case 'P': // PERSID (text)
			var s string
			if s, err = m.line(); err == nil {
				err = m.persistent(s)
			}
		default:
			return nil, m.errf("unsupported pickle opcode 0x%02x", op)
		}
		if err != nil {
			return nil, err
		}
	}
}

// memoIndex reads the memo index that follows a PUT or GET opcode: a text
// line (p, g), one byte (q, h) or four (r, j). name is the opcode family
// for the error.
func (m *machine) memoIndex(op int, name string) (int64, error) {
	switch op {
	case 'p', 'g':
		s, err := m.line()
		if err != nil {
			return 0, err
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, m.errf("bad %s index %q", name, s)
		}
		return i, nil
	case 'q', 'h':
		i, err := m.u8()
		return int64(i), err
	default:
		i, err := m.u32()
		return int64(i), err
	}
}

func (m *machine) persistent(pid any) error {
	if m.persist == nil {
		return m.errf("persistent id without a loader")
	}
	v, err := m.persist(pid)
	if err != nil {
		return err
	}
	return m.push(v)
}
