package tarfiles

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestBuild(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	files := []sandrun.InputFile{
		{Name: "a/b/c.txt", Content: "deep"},
		{Name: "./top.bin", Content: "AAEC", Encoding: "base64"},
		{Name: "a/x.txt", Content: "x"},
		{Name: "main.py", Content: "print(1)"},
	}
	ar, err := Build(files, mtime)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(ar))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, mtime)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, h.Name+"|"+string(rune(h.Typeflag))+"|"+strings.TrimSpace(string(body)))
		if h.Typeflag == tar.TypeDir && h.Mode != 0o700 || h.Typeflag == tar.TypeReg && h.Mode != 0o600 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
	}
	want := []string{"a/|5|", "a/b/|5|", "a/b/c.txt|0|deep", "top.bin|0|\x00\x01\x02", "a/x.txt|0|x", "main.py|0|print(1)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("archive:\n%q\nwant:\n%q", got, want)
	}
}

func TestBuildRefusesBadNamesBeforeWriting(t *testing.T) {
	for _, name := range []string{"../out", "/etc/passwd", "a/../../b", ""} {
		ar, err := Build([]sandrun.InputFile{{Name: "ok.txt", Content: "x"}, {Name: name, Content: "x"}}, time.Now())
		if err == nil || ar != nil {
			t.Errorf("%q: archive %d bytes, err %v; want a refusal", name, len(ar), err)
		}
	}
	if _, err := Build([]sandrun.InputFile{{Name: "x", Content: "!", Encoding: "base64"}}, time.Now()); err == nil {
		t.Error("bad base64 accepted")
	}
}
