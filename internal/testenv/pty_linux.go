package testenv

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Pty opens a pseudo-terminal: the terminal end for the code under test
// to write to, and a function that closes it and returns everything
// written to it as the terminal received it (the line discipline turns
// "\n" into "\r\n"). It skips (fails in strict mode) without /dev/ptmx.
func Pty(t testing.TB) (term *os.File, output func() []byte) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		Skip(t, "no pseudo-terminal here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		t.Fatal(err)
	}
	// Drain the master as the test writes, so a large write never blocks
	// on the pty's small buffer.
	var buf bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(&buf, ptmx) // ends with EIO once the terminal end is closed
	}()
	var once sync.Once
	done := func() []byte {
		once.Do(func() {
			pts.Close()
			wg.Wait()
			ptmx.Close()
		})
		return buf.Bytes()
	}
	t.Cleanup(func() { done() })
	return pts, done
}
