//go:build linux

package jail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Frame kinds on the sync socket (doc.go draws the protocol).
const (
	// init -> supervisor
	msgError    byte = 'E' // setup failed: layer u16, step u16, errno u32
	msgStarted  byte = 'S' // the program runs: its pid inside, u32
	msgExited   byte = 'X' // the program ended: raw wait status u32
	msgProgress byte = 'P' // the init enters a setup layer: u16 (names a setup that hangs)
	// supervisor -> init
	msgConfig byte = 'C' // initConfig (config.go: encode), bind fds attached (SCM_RIGHTS)
	msgDone   byte = 'D' // after 'X': the supervisor collected /work; the init may exit
	msgSignal byte = 'K' // signal the program's process group: signo u32
)

// maxFrame bounds one frame: request files and collected files are
// capped well below it; anything larger is a protocol error.
const maxFrame = 1 << 30

// writeFrame sends one frame, with fds attached when given.
func writeFrame(c *net.UnixConn, kind byte, payload []byte, fds ...int) error {
	hdr := make([]byte, 5, 5+len(payload))
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	buf := append(hdr, payload...)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(buf, oob, nil)
	if err != nil {
		return err
	}
	if n < len(buf) {
		_, err = c.Write(buf[n:])
	}
	return err
}

// readFrame reads one frame and any fds that came with it (only the
// first read of a frame can carry them).
func readFrame(c *net.UnixConn) (kind byte, payload []byte, fds []int, err error) {
	var hdr [5]byte
	oob := make([]byte, unix.CmsgSpace(4*64))
	n, oobn, _, _, err := c.ReadMsgUnix(hdr[:], oob)
	if err != nil {
		return 0, nil, nil, err
	}
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return 0, nil, nil, perr
		}
		for _, m := range msgs {
			rights, perr := unix.ParseUnixRights(&m)
			if perr == nil {
				fds = append(fds, rights...)
			}
		}
	}
	if n == 0 {
		return 0, nil, fds, io.EOF
	}
	if n < len(hdr) {
		if _, err := io.ReadFull(c, hdr[n:]); err != nil {
			return 0, nil, fds, err
		}
	}
	size := binary.BigEndian.Uint32(hdr[1:])
	if size > maxFrame {
		return 0, nil, fds, fmt.Errorf("frame of %d bytes is too large", size)
	}
	// Grow with what arrives rather than trusting the header: a peer that
	// claims a large frame and sends little costs little.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 64<<10)))
	if _, err := io.CopyN(buf, c, int64(size)); err != nil {
		return 0, nil, fds, err
	}
	return hdr[0], buf.Bytes(), fds, nil
}

func encodeSetupError(l Layer, step uint16, err error) []byte {
	var b [8]byte
	binary.BigEndian.PutUint16(b[0:], uint16(l))
	binary.BigEndian.PutUint16(b[2:], step)
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = unix.EINVAL
	}
	binary.BigEndian.PutUint32(b[4:], uint32(errno))
	return b[:]
}

func decodeSetupError(p []byte) *SetupError {
	if len(p) != 8 {
		return &SetupError{Layer: LayerProtocol, Detail: "malformed error frame"}
	}
	return &SetupError{
		Layer: Layer(binary.BigEndian.Uint16(p[0:])),
		Step:  binary.BigEndian.Uint16(p[2:]),
		Errno: syscall.Errno(binary.BigEndian.Uint32(p[4:])),
	}
}

func u32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

func u16(v uint16) []byte {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return b[:]
}

func getU32(p []byte) (uint32, bool) {
	if len(p) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(p), true
}
