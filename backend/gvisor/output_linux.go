//go:build linux

package gvisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// output holds the program's stdout and stderr on the host as regular
// files on a tmpfs of the run's own, which the supervisor follows into
// the capped capture buffers as they grow.
//
// Not pipes: runsc makes the host descriptors it is given non-blocking,
// and this release's gVisor kernel answers a write to a full pipe with a
// short write, which Python's unbuffered stdout does not retry: output
// past the pipe's 64 KiB was lost while the run said ok. A regular file
// takes every write whole. The tmpfs is capped at twice the output limit
// (plus a page each), so a flood between two polls costs the host at most
// that, and whichever stream passes the limit is seen passing it.
type output struct {
	dir  string
	w, r [2]*os.File // stdout, stderr
}

// followEvery is how often a growing output file is read.
const followEvery = 10 * time.Millisecond

func openOutput(dir string, limit int64) (_ *output, err error) {
	o := &output{dir: dir}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	page := int64(os.Getpagesize())
	size := ((2*(limit+1)+page-1)/page + 2) * page
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("size=%d,nr_inodes=16,mode=0700", size)); err != nil {
		return nil, fmt.Errorf("mounting the output tmpfs: %w", err)
	}
	for i, name := range []string{"stdout", "stderr"} {
		p := filepath.Join(dir, name)
		if o.w[i], err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
		if o.r[i], err = os.Open(p); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// follow copies what is written to the files into dst (stdout, stderr)
// until done is closed, then what is left; the returned wait blocks until
// both are copied whole.
func (o *output) follow(dst [2]io.Writer, done <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for i := range o.r {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			t := time.NewTicker(followEvery)
			defer t.Stop()
			last := false
			for {
				n, err := o.r[i].Read(buf)
				if n > 0 {
					_, _ = dst[i].Write(buf[:n])
					continue
				}
				if err != nil && !errors.Is(err, io.EOF) || last {
					return
				}
				select {
				case <-done:
					last = true // one more pass to the end
				case <-t.C:
				}
			}
		}()
	}
	return wg.Wait
}

// writers are what runsc gets as its stdout and stderr.
func (o *output) writers() (stdout, stderr *os.File) { return o.w[0], o.w[1] }

func (o *output) close() {
	for _, f := range append(o.w[:], o.r[:]...) {
		if f != nil {
			f.Close()
		}
	}
	_ = unix.Unmount(o.dir, unix.MNT_DETACH)
}
