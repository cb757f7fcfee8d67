package restricted

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// The parent decodes what a worker sends; a broken or hostile worker must
// get an error, never a panic or an allocation past the cap.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_ = writeFrame(w, frameOut, []byte("hello"))
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'O'})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			_, p, err := readFrame(r, 1024)
			if err != nil {
				return
			}
			if len(p) > 1024 {
				t.Fatalf("frame of %d bytes past the cap", len(p))
			}
		}
	})
}

func FuzzDecodeCall(f *testing.F) {
	m, _ := encodeCall(1, starlark.Tuple{starlark.MakeInt(7), starlark.String("x"),
		starlark.NewList([]starlark.Value{starlark.Float(1.5), starlark.None})}, nil, 1<<20)
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Add([]byte(`{"func":1,"args":[{"t":"d","l":[{"t":"l"},{"t":"n"}]}]}`))
	f.Add([]byte(`{"func":1,"args":[{"t":"i","s":"zz"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m callMsg
		if json.Unmarshal(data, &m) != nil {
			return
		}
		args, kwargs, err := decodeCall(&m)
		if err != nil {
			return
		}
		// What decodes must encode again.
		if _, err := encodeCall(m.Func, args, kwargs, 1<<30); err != nil {
			if _, ok := err.(*tooLargeError); !ok && !bytes.Contains([]byte(err.Error()), []byte("nested")) {
				t.Fatalf("re-encoding: %v", err)
			}
		}
	})
}

// Values survive the wire unchanged.
func TestWireRoundTrip(t *testing.T) {
	d := starlark.NewDict(2)
	_ = d.SetKey(starlark.String("k"), starlark.Tuple{starlark.True, starlark.Bytes("\x00\xff")})
	_ = d.SetKey(starlark.MakeInt(-3), starlark.String("bad \xff utf8"))
	big, _ := starlark.Binary(syntax.STAR, starlark.MakeInt64(1<<62), starlark.MakeInt64(1<<62))
	for _, v := range []starlark.Value{starlark.None, starlark.MakeInt(-42), big, starlark.Float(-0.1), d,
		starlark.NewList([]starlark.Value{starlark.String("é")})} {
		w, err := encodeWire(v, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeWire(w, 0)
		if err != nil {
			t.Fatal(err)
		}
		if eq, err := starlark.Equal(v, back); err != nil || !eq {
			t.Errorf("%s came back as %s", v, back)
		}
	}
}
