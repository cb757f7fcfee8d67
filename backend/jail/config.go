//go:build linux

package jail

import (
	"encoding/binary"
	"fmt"
)

// initConfig is everything the jail init needs, sent by the supervisor as
// the first frame on the sync socket, in the binary form encode writes
// and the C init (init_linux.c: parse_config) reads. It is plain data: the
// supervisor validated it and computed the policies (seccomp as assembled
// BPF, Landlock as paths and masks); the init applies it and reports
// failures as codes (see doc.go).
type initConfig struct {
	// Binds are the read-only runtime paths, in the order of the file
	// descriptors that travel with the config (SCM_RIGHTS).
	Binds []bindSpec
	// Argv and Env of the program; Argv[0] is an absolute path inside.
	Argv []string
	Env  []string
	// Files are written into /work before the start (code included);
	// names are validated and cleaned.
	Files []initFile
	// Hostname of the UTS namespace.
	Hostname string
	// UID and GID of the one identity inside.
	UID, GID uint32
	// WorkSize and WorkInodes cap /work, /tmp and /dev/shm (tmpfs).
	WorkSize, WorkInodes uint64
	// Rlimits applied to the program.
	CPUSeconds, FileSize, OpenFiles uint64
	// AddressSpace, when non-zero, sets RLIMIT_AS (only when the cgroup
	// layer is downgraded and the language tolerates it).
	AddressSpace uint64
	// Flags: layers to skip (each an explicit operator downgrade), and
	// whether the init waits for msgDone after the program's end (the
	// supervisor collects /work files through /proc/<init>/root).
	Flags uint32
	// Landlock: the kernel ABI the policy was made for, the handled
	// access masks, the rights a rule on a file may carry, and the rules.
	Landlock landlockConfig
	// Seccomp is the assembled filter (sock_filter array, host order).
	Seccomp []byte
}

// Config flags (init_linux.h: SRJ_FLAG_*).
const (
	flagNoSeccomp       uint32 = 1
	flagNoLandlock      uint32 = 2
	flagLandlockPartial uint32 = 4
	flagWaitDone        uint32 = 8
	// flagSetIDs: the init was started with its uid unmapped (vforkSpawn)
	// and takes UID and GID itself (init_linux.c: take_ids).
	flagSetIDs uint32 = 16
)

// configMagic starts the config (init_linux.h: SRJ_CONFIG_MAGIC).
const configMagic uint32 = 0x314a5253

type landlockConfig struct {
	ABI                           uint32
	HandledFS, HandledNet, Scoped uint64
	FileOnly                      uint64
	Rules                         []llPath
	// Connect are the TCP ports the program may connect to (a run with
	// a network allowlist: the proxy's); none otherwise.
	Connect []uint16
}

// initFile is one file for /work. (The JSON names are the warm path's:
// zygote.go sends files and binds to the zygote as JSON.)
type initFile struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
	Mode uint32 `json:"mode"`
}

// bindSpec is one read-only runtime path. A symlink on the host (such
// as /lib -> usr/lib on merged-/usr systems) is recreated as a symlink;
// anything else is bind-mounted from the fd the supervisor opened.
type bindSpec struct {
	Path    string `json:"path"`
	Symlink string `json:"symlink,omitempty"`
}

// encode writes the config: integers in host order, strings and byte
// strings as a u32 length and the bytes, lists as a u32 count and the
// items, in the order parse_config reads them.
func (c *initConfig) encode() ([]byte, error) {
	var b []byte
	u32 := func(v uint32) { b = binary.NativeEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.NativeEndian.AppendUint64(b, v) }
	bytes := func(s []byte) { u32(uint32(len(s))); b = append(b, s...) }
	str := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	strs := func(ss []string) {
		u32(uint32(len(ss)))
		for _, s := range ss {
			str(s)
		}
	}
	for _, s := range append(append([]string{c.Hostname}, c.Argv...), c.Env...) {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return nil, fmt.Errorf("a NUL byte in %q", s)
			}
		}
	}
	u32(configMagic)
	str(c.Hostname)
	u32(c.UID)
	u32(c.GID)
	for _, v := range []uint64{c.WorkSize, c.WorkInodes, c.CPUSeconds, c.FileSize, c.OpenFiles, c.AddressSpace} {
		u64(v)
	}
	u32(c.Flags)
	u32(uint32(len(c.Binds)))
	for _, bd := range c.Binds {
		str(bd.Path)
		str(bd.Symlink)
	}
	u32(uint32(len(c.Files)))
	for _, f := range c.Files {
		str(f.Name)
		u32(f.Mode)
		bytes(f.Data)
	}
	strs(c.Argv)
	strs(c.Env)
	l := &c.Landlock
	u32(l.ABI)
	for _, v := range []uint64{l.HandledFS, l.HandledNet, l.Scoped, l.FileOnly} {
		u64(v)
	}
	u32(uint32(len(l.Rules)))
	for _, r := range l.Rules {
		str(r.path)
		u64(r.access)
	}
	u32(uint32(len(l.Connect)))
	for _, port := range l.Connect {
		u64(uint64(port))
	}
	if len(c.Seccomp)%8 != 0 {
		return nil, fmt.Errorf("seccomp program of %d bytes is not whole instructions", len(c.Seccomp))
	}
	u32(uint32(len(c.Seccomp) / 8))
	b = append(b, c.Seccomp...)
	return b, nil
}
