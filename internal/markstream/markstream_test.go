package markstream

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// TestSplitter: the mark is found whatever the write boundaries, the
// output before it is passed on whole, and the archive after it parsed.
func TestSplitter(t *testing.T) {
	var ar bytes.Buffer
	tw := tar.NewWriter(&ar)
	for _, f := range []struct{ name, body string }{{"./out.txt", "result"}, {"./skip.bin", "x"}, {"./sub/a.txt", "A"}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.WriteHeader(&tar.Header{Name: "./link.txt", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"})
	tw.Close()
	mark := "<<sandrun-collect-abc>>"
	stream := append([]byte("hello <world> <<sandrun"), mark...)
	stream = append(stream, ar.Bytes()...)
	for _, step := range []int{1, 3, 7, 64, len(stream)} {
		var out bytes.Buffer
		m := &Splitter{Mark: []byte(mark), Out: &out}
		for i := 0; i < len(stream); i += step {
			m.Write(stream[i:min(i+step, len(stream))])
		}
		m.Flush()
		if out.String() != "hello <world> <<sandrun" {
			t.Fatalf("step %d: output %q", step, out.String())
		}
		files, err := m.Files([]string{"*.txt", "sub/*"}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range files {
			names = append(names, f.Name+"="+string(f.Content))
		}
		if strings.Join(names, ",") != "out.txt=result,sub/a.txt=A" {
			t.Fatalf("step %d: files %v", step, names)
		}
	}
	// No mark: everything is output.
	var out bytes.Buffer
	m := &Splitter{Mark: []byte(mark), Out: &out}
	m.Write([]byte("abc<<sandr"))
	m.Flush()
	if out.String() != "abc<<sandr" || m.Found() {
		t.Fatalf("unflushed: %q", out.String())
	}
}

// TestSplitterCap: past Cap the rest is cut and reported as such.
func TestSplitterCap(t *testing.T) {
	var out bytes.Buffer
	m := &Splitter{Mark: []byte("<M>"), Out: &out, Cap: 4}
	m.Write([]byte("a<M>123456"))
	rest, over := m.Rest()
	if string(rest) != "1234" || !over || out.String() != "a" {
		t.Fatalf("rest %q over %v out %q", rest, over, out.String())
	}
}
