//go:build linux

package jail

import (
	"encoding/binary"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns both ends of a SOCK_STREAM unix socketpair, as the
// supervisor and the init hold them.
func socketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sync")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b = conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b
}

func TestFrameRoundTrip(t *testing.T) {
	a, b := socketPair(t)
	want := []struct {
		kind    byte
		payload []byte
	}{
		{msgStarted, u32(42)},
		{msgError, encodeSetupError(LayerSeccomp, 3, unix.EPERM)},
		{msgProgress, u16(uint16(LayerLandlock))},
		{msgExited, u32(0x0100)},
	}
	go func() {
		for _, w := range want {
			_ = writeFrame(a, w.kind, w.payload)
		}
		_ = a.CloseWrite()
	}()
	for _, w := range want {
		kind, p, fds, err := readFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if kind != w.kind || string(p) != string(w.payload) || len(fds) != 0 {
			t.Fatalf("got %c %q %v, want %c %q", kind, p, fds, w.kind, w.payload)
		}
	}
	if _, _, _, err := readFrame(b); err == nil {
		t.Fatal("a frame after the end")
	}
	se := decodeSetupError(encodeSetupError(LayerSeccomp, 3, unix.EPERM))
	if se.Layer != LayerSeccomp || se.Step != 3 || se.Errno != unix.EPERM {
		t.Fatalf("setup error %+v", se)
	}
	if se := decodeSetupError([]byte{1, 2}); se.Layer != LayerProtocol {
		t.Fatalf("a short error frame decoded as %+v", se)
	}
	if _, ok := getU32([]byte{1, 2, 3}); ok {
		t.Fatal("getU32 took three bytes")
	}
}

// FuzzReadFrame: the supervisor reads the sync socket from an init that
// shares its pid namespace with the program; whatever arrives, it gets
// frames or an error, never a panic, and no frame past maxFrame. The
// decoders of each kind's payload must take any bytes too.
func FuzzReadFrame(f *testing.F) {
	frame := func(kind byte, p []byte) []byte {
		b := []byte{kind, 0, 0, 0, 0}
		b[1], b[2], b[3], b[4] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		return append(b, p...)
	}
	f.Add(frame(msgStarted, u32(7)))
	f.Add(append(frame(msgExited, u32(9)), frame(msgProgress, u16(3))...))
	f.Add(frame(msgError, encodeSetupError(LayerLandlock, 1, unix.ENOSYS)))
	f.Add([]byte{msgProgress, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{msgExited, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := socketPair(t)
		go func() {
			_, _ = a.Write(data)
			_ = a.CloseWrite()
		}()
		for {
			kind, p, fds, err := readFrame(b)
			closeAll(fds)
			if err != nil {
				return
			}
			if len(p) > maxFrame {
				t.Fatalf("frame of %d bytes", len(p))
			}
			switch kind {
			case msgError:
				if decodeSetupError(p) == nil {
					t.Fatal("no setup error")
				}
			case msgStarted, msgExited:
				getU32(p)
			case msgProgress:
				if len(p) == 2 {
					_ = Layer(binary.BigEndian.Uint16(p))
				}
			}
		}
	})
}
