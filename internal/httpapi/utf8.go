package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// checkUTF8 refuses a body whose strings are not valid UTF-8: raw bytes
// that are not UTF-8, and \u escapes of lone surrogates. encoding/json
// decodes both to U+FFFD, which would change the caller's code, stdin,
// args or file names without a word. The error names the field.
func checkUTF8(data []byte) error {
	off := -1
	if !utf8.Valid(data) {
		off = invalidOffset(data)
	} else if i := loneSurrogate(data); i >= 0 {
		off = i
	}
	if off < 0 {
		return nil
	}
	field := fieldAt(data, off)
	if field == "" {
		field = "body"
	}
	return &DecodeError{Status: http.StatusBadRequest, Field: field,
		Msg: fmt.Sprintf("is not valid UTF-8 (byte %d); send binary content base64-encoded (files: \"encoding\": \"base64\")", off)}
}

func invalidOffset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// loneSurrogate returns the offset of a \uD800-\uDFFF escape that is not
// half of a valid pair, or -1. Only escapes inside strings count; a
// backslash escaping a backslash is skipped.
func loneSurrogate(b []byte) int {
	inStr := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inStr = !inStr
		case c == '\\' && inStr && i+1 < len(b):
			if b[i+1] != 'u' {
				i++ // \" \\ \n ...
				continue
			}
			r1, ok := hex4(b, i+2)
			if !ok || !utf16.IsSurrogate(r1) {
				i += 5
				continue
			}
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if r2, ok := hex4(b, i+8); ok && utf16.DecodeRune(r1, r2) != utf8.RuneError {
					i += 11
					continue
				}
			}
			return i
		}
	}
	return -1
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(v), err == nil
}

// fieldAt names the member of the JSON value data whose text holds byte
// off: "code", "files[1].name", "env.X". "" when it cannot tell.
func fieldAt(data []byte, off int) string {
	type level struct {
		array bool
		index int
		key   string
		atKey bool // an object expecting a key next
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []level
	path := func() string {
		var p string
		for _, l := range stack {
			switch {
			case l.array:
				p += fmt.Sprintf("[%d]", l.index)
			case l.key != "":
				if p != "" {
					p += "."
				}
				p += l.key
			}
		}
		return p
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return path()
		}
		end := int(dec.InputOffset())
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, level{atKey: true, index: -1})
			case '[':
				stack = append(stack, level{array: true, index: -1})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			if d == '{' || d == '[' {
				// The container itself is a value of its parent.
				if len(stack) > 1 {
					parent := &stack[len(stack)-2]
					if parent.array {
						parent.index++
					}
				}
			} else if len(stack) > 0 {
				top := &stack[len(stack)-1]
				if !top.array {
					top.atKey = true
				}
			}
			continue
		}
		if len(stack) == 0 {
			return ""
		}
		top := &stack[len(stack)-1]
		switch {
		case !top.array && top.atKey:
			top.key, top.atKey = tok.(string), false
			if end > off { // the bad bytes are in the key itself
				return path()
			}
		case top.array:
			top.index++
			if end > off {
				return path()
			}
		default: // a scalar member value
			if end > off {
				return path()
			}
			top.atKey = true
		}
	}
}
