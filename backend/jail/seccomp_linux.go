//go:build linux

package jail

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// assembleFilter turns the policy into the struct sock_filter array the
// init installs (prctl PR_SET_SECCOMP on the program, after
// no_new_privs): per instruction a u16 code, u8 jt, u8 jf and u32 k, in
// host order.
func assembleFilter(prog []bpf.Instruction) ([]byte, error) {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// filterBytes builds and assembles the policy (inet: with IPv4 TCP
// sockets allowed).
func filterBytes(inet bool) ([]byte, error) {
	prog, err := buildFilterFor(inet)
	if err != nil {
		return nil, err
	}
	return assembleFilter(prog)
}
