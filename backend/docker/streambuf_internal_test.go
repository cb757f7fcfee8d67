package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestStreamBuf(t *testing.T) {
	b := newStreamBuf(8)
	if n, err := b.Write([]byte("12345")); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	// A write past the capacity blocks until a reader makes room.
	wrote := make(chan error, 1)
	go func() { _, err := b.Write([]byte("6789ABCD")); wrote <- err }()
	select {
	case err := <-wrote:
		t.Fatalf("a write into a full buffer returned: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	got, _ := io.ReadAll(io.LimitReader(b, 13))
	if err := <-wrote; err != nil || string(got) != "123456789ABCD" {
		t.Fatalf("read %q, write %v", got, err)
	}
	// Closed by the writer: what is buffered, then the error.
	b.Write([]byte("end"))
	b.CloseWithError(nil)
	if rest, err := io.ReadAll(b); err != nil || string(rest) != "end" {
		t.Fatalf("after close: %q %v", rest, err)
	}
	// A writer blocked on a full buffer is released by CloseWithError.
	full := newStreamBuf(1)
	full.Write([]byte("x"))
	go func() { _, err := full.Write([]byte("y")); wrote <- err }()
	time.Sleep(20 * time.Millisecond)
	full.CloseWithError(errors.New("gone"))
	if err := <-wrote; !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("blocked writer: %v", err)
	}
	// Closed by the reader: writes fail.
	r := newStreamBuf(4)
	r.Close()
	if _, err := r.Write([]byte("z")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write after the reader closed: %v", err)
	}
}

// The boot archive's timestamps are never in the future: archive/tar
// rounds to the nearest second, and GNU tar in the container then warned
// on the program's stderr half the time.
func TestBootPayloadTimestamps(t *testing.T) {
	// Late in a second, rounding would go up.
	if f := time.Now().Nanosecond(); f < 600_000_000 {
		time.Sleep(time.Duration(600_000_000-f) * time.Nanosecond)
	}
	req := &sandrun.Request{Language: "python", Code: "print(1)", Files: []sandrun.InputFile{{Name: "a/b.txt", Content: "x"}}}
	p, err := bootPayload(recipe(t, "python"), req)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	br := bufio.NewReader(bytes.NewReader(p))
	line, _ := br.ReadString('\n')
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("size line %q", line)
	}
	tr := tar.NewReader(io.LimitReader(br, int64(n)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.After(now) {
			t.Errorf("%s: time stamp %v is after %v", h.Name, h.ModTime, now)
		}
	}
}
