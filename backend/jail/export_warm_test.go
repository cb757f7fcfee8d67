//go:build linux

package jail

import "golang.org/x/sys/unix"

// BreakWarmLayer makes every warm child's config ask for something the
// kernel refuses at one layer, to test that the child fails closed.
func BreakWarmLayer(b *Backend, layer string) {
	b.warm.hook = func(c *warmConfig) {
		switch layer {
		case "capabilities":
			c.Sys["capset"] = 100000 // no such system call: ENOSYS
		case "seccomp":
			c.Seccomp = []byte{0, 0, 0, 0, 0, 0, 0, 0} // one "ld" and no return: EINVAL
		case "landlock":
			c.Landlock.Rules = append(c.Landlock.Rules, warmRule{Path: "/work", Access: 1 << 62})
		case "tmpfs":
			c.WorkInodes = -1
		}
	}
}

// KillZygote kills the language's zygote program (not its init, nor the
// runs it forked).
func KillZygote(b *Backend, language string) bool {
	z := b.warm.ready(language)
	if z == nil {
		return false
	}
	return unix.PidfdSendSignal(z.pidfd, unix.SIGKILL, nil, 0) == nil
}
