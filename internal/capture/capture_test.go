package capture

import (
	"strings"
	"sync/atomic"
	"testing"
)

func TestBufferCapsAndNotifiesOnce(t *testing.T) {
	var fired atomic.Int32
	var seen int
	b := New("stdout", 10, func(s string, p []byte) { seen += len(p) }, func() { fired.Add(1) })
	for i := 0; i < 5; i++ {
		n, err := b.Write([]byte("abcdef"))
		if n != 6 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := string(b.Bytes()); got != "abcdefabcd" {
		t.Fatalf("kept %q", got)
	}
	if fired.Load() != 1 || !b.Overflowed() || b.Total() != 30 || seen != 10 {
		t.Fatalf("fired=%d overflow=%v total=%d seen=%d", fired.Load(), b.Overflowed(), b.Total(), seen)
	}
	if !strings.HasSuffix(b.Text(), "[OUTPUT TRUNCATED: 30 bytes, showing first 10]\n") {
		t.Fatalf("text %q", b.Text())
	}
}

func TestBufferExactLimitIsNotOverflow(t *testing.T) {
	b := New("stderr", 4, nil, func() { t.Fatal("overflow at exact limit") })
	b.Write([]byte("abcd"))
	if b.Overflowed() || b.Text() != "abcd" {
		t.Fatalf("overflow=%v text=%q", b.Overflowed(), b.Text())
	}
}
