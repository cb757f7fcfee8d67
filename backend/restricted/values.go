package restricted

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"unicode/utf8"

	"go.starlark.net/starlark"
)

// wire is a Starlark data value on the worker protocol: host-call
// arguments and results, and host-provided data. T is the kind:
//
//	n None  b bool (B)  i int (S, hex)  f float (S, strconv 'g')
//	s string (S, UTF-8)  x string with invalid UTF-8 (S, base64)
//	y bytes (S, base64)  l list (L)  t tuple (L)  S set (L)
//	d dict (L: key, value, key, value ...)  o opaque (S: type name)
//
// Ints travel in hexadecimal because parsing decimal is quadratic in the
// number of digits and the host must not pay that for a hostile argument.
type wire struct {
	T string `json:"t"`
	B bool   `json:"b,omitempty"`
	S string `json:"s,omitempty"`
	L []wire `json:"l,omitempty"`
}

// maxWireDepth bounds nesting (also breaks cycles: a list may contain
// itself).
const maxWireDepth = 64

// encoder turns Starlark values into wire values within a byte budget.
type encoder struct {
	left int // bytes of budget left (approximate encoded size)
}

// errTooLarge is wrapped by encoding errors caused by the budget.
type tooLargeError struct{ limit int }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("value too large to pass between the program and the host (limit %d bytes encoded)", e.limit)
}

func encodeWire(v starlark.Value, budget int) (wire, error) {
	e := &encoder{left: budget}
	w, err := e.value(v, 0)
	if _, ok := err.(*tooLargeError); ok {
		return wire{}, &tooLargeError{budget}
	}
	return w, err
}

func (e *encoder) spend(n int) error {
	e.left -= n + 8
	if e.left < 0 {
		return &tooLargeError{}
	}
	return nil
}

func (e *encoder) value(v starlark.Value, depth int) (wire, error) {
	if depth > maxWireDepth {
		return wire{}, fmt.Errorf("value nested deeper than %d levels (or containing itself)", maxWireDepth)
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return wire{T: "n"}, e.spend(0)
	case starlark.Bool:
		return wire{T: "b", B: bool(x)}, e.spend(1)
	case starlark.Int:
		// BitLen first: the budget check happens before any large text
		// is made.
		if err := e.spend(x.BigInt().BitLen()/4 + 1); err != nil {
			return wire{}, err
		}
		return wire{T: "i", S: x.BigInt().Text(16)}, nil
	case starlark.Float:
		return wire{T: "f", S: strconv.FormatFloat(float64(x), 'g', -1, 64)}, e.spend(24)
	case starlark.String:
		if err := e.spend(len(x) * 4 / 3); err != nil {
			return wire{}, err
		}
		if utf8.ValidString(string(x)) {
			return wire{T: "s", S: string(x)}, nil
		}
		return wire{T: "x", S: base64.StdEncoding.EncodeToString([]byte(x))}, nil
	case starlark.Bytes:
		if err := e.spend(len(x) * 4 / 3); err != nil {
			return wire{}, err
		}
		return wire{T: "y", S: base64.StdEncoding.EncodeToString([]byte(x))}, nil
	case *starlark.List:
		return e.seq("l", x.Len(), x.Index, depth)
	case starlark.Tuple:
		return e.seq("t", x.Len(), x.Index, depth)
	case *starlark.Set:
		if err := e.spend(x.Len()); err != nil {
			return wire{}, err
		}
		items := make([]starlark.Value, 0, x.Len())
		it := x.Iterate()
		defer it.Done()
		var item starlark.Value
		for it.Next(&item) {
			items = append(items, item)
		}
		return e.seq("S", len(items), func(i int) starlark.Value { return items[i] }, depth)
	case *starlark.Dict:
		if err := e.spend(x.Len() * 2); err != nil {
			return wire{}, err
		}
		items := x.Items()
		out := wire{T: "d", L: make([]wire, 0, 2*len(items))}
		for _, kv := range items {
			for _, part := range kv {
				w, err := e.value(part, depth+1)
				if err != nil {
					return wire{}, err
				}
				out.L = append(out.L, w)
			}
		}
		return out, nil
	}
	return wire{T: "o", S: v.Type()}, e.spend(len(v.Type()))
}

func (e *encoder) seq(t string, n int, at func(int) starlark.Value, depth int) (wire, error) {
	if err := e.spend(n); err != nil {
		return wire{}, err
	}
	out := wire{T: t, L: make([]wire, 0, n)}
	for i := 0; i < n; i++ {
		w, err := e.value(at(i), depth+1)
		if err != nil {
			return wire{}, err
		}
		out.L = append(out.L, w)
	}
	return out, nil
}

// decodeWire turns a wire value back into a Starlark value. Opaque values
// become an Opaque that no operation accepts.
func decodeWire(w wire, depth int) (starlark.Value, error) {
	if depth > maxWireDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", maxWireDepth)
	}
	switch w.T {
	case "n":
		return starlark.None, nil
	case "b":
		return starlark.Bool(w.B), nil
	case "i":
		n, ok := new(big.Int).SetString(w.S, 16)
		if !ok {
			return nil, fmt.Errorf("malformed int on the wire")
		}
		return starlark.MakeBigInt(n), nil
	case "f":
		f, err := strconv.ParseFloat(w.S, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed float on the wire")
		}
		return starlark.Float(f), nil
	case "s":
		return starlark.String(w.S), nil
	case "x", "y":
		b, err := base64.StdEncoding.DecodeString(w.S)
		if err != nil {
			return nil, fmt.Errorf("malformed bytes on the wire")
		}
		if w.T == "x" {
			return starlark.String(b), nil
		}
		return starlark.Bytes(b), nil
	case "l", "t", "S":
		elems := make([]starlark.Value, 0, len(w.L))
		for _, c := range w.L {
			v, err := decodeWire(c, depth+1)
			if err != nil {
				return nil, err
			}
			elems = append(elems, v)
		}
		switch w.T {
		case "l":
			return starlark.NewList(elems), nil
		case "t":
			return starlark.Tuple(elems), nil
		}
		s := starlark.NewSet(len(elems))
		for _, v := range elems {
			if err := s.Insert(v); err != nil {
				return nil, err
			}
		}
		return s, nil
	case "d":
		if len(w.L)%2 != 0 {
			return nil, fmt.Errorf("malformed dict on the wire")
		}
		d := starlark.NewDict(len(w.L) / 2)
		for i := 0; i < len(w.L); i += 2 {
			k, err := decodeWire(w.L[i], depth+1)
			if err != nil {
				return nil, err
			}
			v, err := decodeWire(w.L[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case "o":
		return Opaque(w.S), nil
	}
	return nil, fmt.Errorf("unknown value kind %q on the wire", w.T)
}

// Opaque stands for a value that cannot cross the worker boundary (a
// function, a module): a host function receives it in place of a callable
// argument and can report its type, nothing else.
type Opaque string

var _ starlark.Value = Opaque("")

func (o Opaque) String() string        { return "<" + string(o) + ">" }
func (o Opaque) Type() string          { return string(o) }
func (o Opaque) Freeze()               {}
func (o Opaque) Truth() starlark.Bool  { return true }
func (o Opaque) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", o.Type()) }

// encodeVariables renders the program's globals as a JSON object: data as
// JSON values (floats keep their Starlark spelling, so 3.0 stays 3.0),
// anything else as "<type>". Past budget bytes the remaining values are
// replaced by a note.
func encodeVariables(globals starlark.StringDict, budget int) json.RawMessage {
	names := globals.Keys() // sorted
	out := make(map[string]any, len(names))
	left := budget
	for _, n := range names {
		v, size := variable(globals[n], 0, left)
		if size > left {
			v = fmt.Sprintf("<%s: not shown, the variables report is capped at %d bytes>", globals[n].Type(), budget)
			size = 64
		}
		out[n] = v
		left -= size + len(n)
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"_error": "variables could not be encoded: " + err.Error()})
	}
	if len(b) > 2*budget {
		// The size estimate does not count JSON escapes (a control
		// character takes 6 bytes): past twice the budget, give up.
		b, _ = json.Marshal(map[string]string{"_error": fmt.Sprintf("the variables report took %d bytes, over its cap of %d", len(b), budget)})
	}
	return b
}

// variable converts one value and returns its approximate JSON size. It
// stops early once size passes left.
func variable(v starlark.Value, depth, left int) (any, int) {
	if depth > maxWireDepth {
		return "<" + v.Type() + ": nested too deeply>", 32
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, 4
	case starlark.Bool:
		return bool(x), 5
	case starlark.Int:
		if bl := x.BigInt().BitLen(); bl > 4096 {
			return fmt.Sprintf("<int with %d bits>", bl), 24
		}
		s := x.String()
		return json.Number(s), len(s)
	case starlark.Float:
		s := x.String()
		if !json.Valid([]byte(s)) {
			return s, len(s) + 2 // nan, +inf, -inf as strings
		}
		return json.Number(s), len(s)
	case starlark.String:
		return string(x), jsonStringSize(string(x), left)
	case starlark.Bytes:
		return base64.StdEncoding.EncodeToString([]byte(x)), len(x)*4/3 + 2
	case *starlark.List:
		return seqVariable(x.Len(), x.Index, depth, left)
	case starlark.Tuple:
		return seqVariable(x.Len(), x.Index, depth, left)
	case *starlark.Set:
		// Iterated, not copied: only what fits the budget is visited.
		it := x.Iterate()
		defer it.Done()
		out := make([]any, 0, min(x.Len(), 1024))
		size := 2
		var item starlark.Value
		for it.Next(&item) {
			val, n := variable(item, depth+1, left-size)
			out = append(out, val)
			size += n + 1
			if size > left {
				return nil, size
			}
		}
		return out, size
	case *starlark.Dict:
		m := map[string]any{}
		size := 2
		it := x.Iterate()
		defer it.Done()
		var k0 starlark.Value
		for it.Next(&k0) {
			v0, _, _ := x.Get(k0)
			kv := [2]starlark.Value{k0, v0}
			var key string
			switch k := kv[0].(type) {
			case starlark.String:
				key = string(k)
			case starlark.Int, starlark.Float, starlark.Bool, starlark.NoneType:
				key = k.String() // as Python's json.dumps does
			default:
				return "<dict with " + k.Type() + " keys>", 32
			}
			val, n := variable(kv[1], depth+1, left-size)
			m[key] = val
			size += n + len(key) + 4
			if size > left {
				return nil, size
			}
		}
		return m, size
	}
	return "<" + v.Type() + ">", len(v.Type()) + 4
}

func seqVariable(n int, at func(int) starlark.Value, depth, left int) (any, int) {
	out := make([]any, 0, min(n, 1024))
	size := 2
	for i := 0; i < n; i++ {
		val, s := variable(at(i), depth+1, left-size)
		out = append(out, val)
		size += s + 1
		if size > left {
			return nil, size
		}
	}
	return out, size
}

// jsonStringSize is the size of s as a JSON string (encoding/json escapes
// control characters, quotes, backslashes and <, >, & into up to 6 bytes),
// counted until it passes limit.
func jsonStringSize(s string, limit int) int {
	n := 2
	for i := 0; i < len(s) && n <= limit; i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			n += 6
		default:
			n++
		}
	}
	return n
}
