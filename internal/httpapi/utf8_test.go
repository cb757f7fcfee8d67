package httpapi

import (
	"errors"
	"strings"
	"testing"
)

func TestFieldAt(t *testing.T) {
	doc := `{"a":1,"files":[{"name":"x","content":"y"},{"name":"BAD"}],"env":{"K":"BAD"},"n":{"m":[1,[2,"BAD"]]},"z":"BAD"}`
	var want = []string{"files[1].name", "env.K", "n.m[1][1]", "z"}
	from := 0
	for _, w := range want {
		i := strings.Index(doc[from:], "BAD") + from
		if got := fieldAt([]byte(doc), i+1); got != w {
			t.Errorf("offset %d: %q, want %q", i, got, w)
		}
		from = i + 1
	}
}

func TestCheckUTF8(t *testing.T) {
	for in, field := range map[string]string{
		"{\"code\":\"\xff\"}":                        "code",
		`{"code":"ok","stdin":"\ud800"}`:             "stdin",
		`{"x":"\\ud800"}`:                            "", // an escaped backslash: the text \ud800, valid
		`{"x":"\ud83d\ude00"}`:                       "", // a valid pair
		`{"x":"\ude00\ud83d"}`:                       "x",
		"{\"k\xff\":1}":                              "k\ufffd",
		`{"files":[{"name":"a"},{"name":"\udfff"}]}`: "files[1].name",
	} {
		err := checkUTF8([]byte(in))
		var de *DecodeError
		switch {
		case field == "" && err != nil:
			t.Errorf("%q refused: %v", in, err)
		case field != "" && (!errors.As(err, &de) || de.Field != field || de.Status != 400):
			t.Errorf("%q: %v, want a 400 naming %q", in, err, field)
		}
	}
}
