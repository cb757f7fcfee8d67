# case: 22
# title: userfaultfd, modules, kexec, reboot, clocks, swap and the rest of the deny list
# tries: every system call of the hardening deny list not covered by its own case, each in a forked
# tries: child with arguments the kernel rejects after its permission check (bad reboot magic, an
# tries: invalid time, missing files), so an unfiltered root host is not harmed
# means: each call is denied (EPERM/EACCES/ENOSYS or SIGSYS); a call that gets as far as the kernel's
# means: argument checks (EINVAL, ENOENT, EBADF) was not filtered and counts as escaped
# expect-status: ok
# expect-contained: 30
# expect-stdout: ^DONE$
import ctypes, os
from attacklib import expect_denied, syscall, done

class timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]

class timeval(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long)]

bad_ts = timespec(0, 2_000_000_000)  # invalid: the kernel checks it before the capability
bad_tv = timeval(0, 2_000_000)
timex = ctypes.create_string_buffer(256)  # modes 0: a read-only query, still denied
handle = ctypes.create_string_buffer(b"\x08\x00\x00\x00\x01\x00\x00\x00" + b"\0" * 8)
mount_id = ctypes.c_int(0)
nodemask = ctypes.c_ulong(1)

calls = [
    ("userfaultfd", lambda: syscall("userfaultfd", 0)),
    ("init_module", lambda: syscall("init_module", b"\0" * 64, 64, b"")),
    ("finit_module", lambda: syscall("finit_module", 9999, b"", 0)),
    ("delete_module", lambda: syscall("delete_module", b"sandrun_attack_nonexistent", 0o4000)),
    ("kexec_load", lambda: syscall("kexec_load", 0, 1, None, 0xDEAD0000)),
    ("kexec_file_load", lambda: syscall("kexec_file_load", 9999, 9999, 0, None, 0)),
    ("reboot (bad magic)", lambda: syscall("reboot", 0x12345678, 0x87654321, 0, None)),
    ("clock_settime (invalid time)", lambda: syscall("clock_settime", 0, ctypes.byref(bad_ts))),
    ("settimeofday (invalid time)", lambda: syscall("settimeofday", ctypes.byref(bad_tv), None)),
    ("adjtimex (query)", lambda: syscall("adjtimex", timex)),
    ("clock_adjtime (query)", lambda: syscall("clock_adjtime", 0, timex)),
    ("swapon", lambda: syscall("swapon", b"/sandrun-attack-nonexistent", 0)),
    ("swapoff", lambda: syscall("swapoff", b"/sandrun-attack-nonexistent")),
    ("acct", lambda: syscall("acct", b"/sandrun-attack-nonexistent")),
    ("quotactl", lambda: syscall("quotactl", 0x800007, b"/sandrun-attack-nonexistent", 0, None)),
    ("iopl(3)", lambda: syscall("iopl", 3)),
    ("ioperm", lambda: syscall("ioperm", 0x80, 1, 1)),
    ("personality(ADDR_NO_RANDOMIZE)", lambda: syscall("personality", 0x0040000)),
    ("open_by_handle_at", lambda: syscall("open_by_handle_at", -100, handle, 0)),
    ("name_to_handle_at", lambda: syscall("name_to_handle_at", -100, b".", handle, ctypes.byref(mount_id), 0)),
    ("kcmp", lambda: syscall("kcmp", os.getpid(), os.getpid(), 0, 0, 0)),
    ("mbind", lambda: syscall("mbind", 0, 0, 0, None, 0, 0)),
    ("set_mempolicy", lambda: syscall("set_mempolicy", 0, None, 0)),
    ("move_pages", lambda: syscall("move_pages", 0, 0, None, None, None, 0)),
    ("uselib", lambda: syscall("uselib", b"/sandrun-attack-nonexistent")),
    ("ustat", lambda: syscall("ustat", 0, timex)),
    ("sysfs", lambda: syscall("sysfs", 3)),
    ("_sysctl", lambda: syscall("_sysctl", None)),
    ("lookup_dcookie", lambda: syscall("lookup_dcookie", 0, None, 0)),
    ("nfsservctl", lambda: syscall("nfsservctl", 0, None, None)),
]
for name, fn in calls:
    expect_denied(name, fn)
done()
