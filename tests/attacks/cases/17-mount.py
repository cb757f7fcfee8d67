# case: 17
# title: mount, umount2, pivot_root, chroot
# tries: mount a tmpfs on a dir in /work and bind-mount one of its dirs onto another; chroot into /work; pivot_root; and,
# tries: only inside a private mount namespace, umount2 of /proc and /tmp with MNT_DETACH
# means: every call fails (denied by seccomp or for lack of capabilities); the host's mount table is
# means: unchanged (the harness compares it)
# expect-status: ok
# expect-contained: 6
# expect-stdout: ^DONE$
import os
from attacklib import expect_denied, guard, syscall, done

os.makedirs("mnt", exist_ok=True)
os.makedirs("mnt2", exist_ok=True)
MS_BIND, MNT_DETACH = 4096, 2

def mount_tmpfs():
    r = syscall("mount", b"none", b"mnt", b"tmpfs", 0, None)
    if r[0] == 0:
        syscall("umount2", b"mnt", MNT_DETACH)
    return r

def bind_own_dir():
    # Bind one of its own dirs, never "/": a bind of the root left under the
    # work dir would make the work dir's removal walk the host.
    r = syscall("mount", b"mnt", b"mnt2", None, MS_BIND, None)
    if r[0] == 0:
        syscall("umount2", b"mnt2", MNT_DETACH)
    return r

expect_denied("mount tmpfs", mount_tmpfs, strict=False)
expect_denied("bind mount", bind_own_dir, strict=False)
expect_denied("chroot", lambda: syscall("chroot", b"."), strict=False)
expect_denied("pivot_root", lambda: syscall("pivot_root", b".", b"."), strict=False)
if guard("mnt", "umount2 /proc"):
    expect_denied("umount2 /proc", lambda: syscall("umount2", b"/proc", MNT_DETACH), strict=False)
if guard("mnt", "umount2 /tmp"):
    expect_denied("umount2 /tmp", lambda: syscall("umount2", b"/tmp", MNT_DETACH), strict=False)
done()
