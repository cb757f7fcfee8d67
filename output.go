package sandrun

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// EncodingBase64 is the value of Result.StdoutEncoding and StderrEncoding
// (and InputFile.Encoding) for bytes carried as standard base64.
const EncodingBase64 = "base64"

// MarshalJSON writes the Result with its output kept whole: a stream that
// is not valid UTF-8 (binary output, a program that printed a stray
// byte) goes out as base64 with its encoding field set, instead of the
// U+FFFD replacements encoding/json would make. Valid text is unchanged.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result // the same fields without this method
	p := plain(r)
	p.Stdout, p.StdoutEncoding = encodeStream(p.Stdout, p.StdoutEncoding)
	p.Stderr, p.StderrEncoding = encodeStream(p.Stderr, p.StderrEncoding)
	return json.Marshal(p)
}

func encodeStream(s, enc string) (string, string) {
	if enc == "" && !utf8.ValidString(s) {
		return base64.StdEncoding.EncodeToString([]byte(s)), EncodingBase64
	}
	return s, enc
}

// StdoutBytes returns the program's standard output as bytes, decoding
// it when this Result came from JSON with stdout_encoding "base64".
func (r *Result) StdoutBytes() ([]byte, error) {
	return decodeStream("stdout", r.Stdout, r.StdoutEncoding)
}

// StderrBytes is StdoutBytes for standard error.
func (r *Result) StderrBytes() ([]byte, error) {
	return decodeStream("stderr", r.Stderr, r.StderrEncoding)
}

func decodeStream(name, s, enc string) ([]byte, error) {
	switch enc {
	case "":
		return []byte(s), nil
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: bad base64: %w", name, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: unknown encoding %q (want base64)", name, enc)
}
