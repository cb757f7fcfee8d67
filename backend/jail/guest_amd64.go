//go:build linux && amd64

package jail

import "golang.org/x/sys/unix"

// guestSysnums numbers guestAllowed on this architecture.
var guestSysnums = map[string]uintptr{
	"read": unix.SYS_READ, "write": unix.SYS_WRITE, "readv": unix.SYS_READV, "writev": unix.SYS_WRITEV,
	"pread64": unix.SYS_PREAD64, "lseek": unix.SYS_LSEEK, "close": unix.SYS_CLOSE, "close_range": unix.SYS_CLOSE_RANGE, "fcntl": unix.SYS_FCNTL,
	"dup": unix.SYS_DUP, "dup2": unix.SYS_DUP2, "dup3": unix.SYS_DUP3,
	"openat": unix.SYS_OPENAT, "open": unix.SYS_OPEN, "fstat": unix.SYS_FSTAT, "stat": unix.SYS_STAT,
	"lstat": unix.SYS_LSTAT, "newfstatat": unix.SYS_NEWFSTATAT, "statx": unix.SYS_STATX,
	"getdents64": unix.SYS_GETDENTS64, "readlink": unix.SYS_READLINK, "readlinkat": unix.SYS_READLINKAT,
	"access": unix.SYS_ACCESS, "faccessat": unix.SYS_FACCESSAT, "faccessat2": unix.SYS_FACCESSAT2,
	"getcwd": unix.SYS_GETCWD,
	"mmap":   unix.SYS_MMAP, "munmap": unix.SYS_MUNMAP, "mremap": unix.SYS_MREMAP, "mprotect": unix.SYS_MPROTECT,
	"brk": unix.SYS_BRK, "madvise": unix.SYS_MADVISE,
	"rt_sigaction": unix.SYS_RT_SIGACTION, "rt_sigprocmask": unix.SYS_RT_SIGPROCMASK,
	"rt_sigreturn": unix.SYS_RT_SIGRETURN, "sigaltstack": unix.SYS_SIGALTSTACK, "restart_syscall": unix.SYS_RESTART_SYSCALL,
	"clock_gettime": unix.SYS_CLOCK_GETTIME, "clock_getres": unix.SYS_CLOCK_GETRES, "gettimeofday": unix.SYS_GETTIMEOFDAY,
	"time": unix.SYS_TIME, "nanosleep": unix.SYS_NANOSLEEP, "clock_nanosleep": unix.SYS_CLOCK_NANOSLEEP,
	"getrandom": unix.SYS_GETRANDOM, "getpid": unix.SYS_GETPID, "gettid": unix.SYS_GETTID, "getppid": unix.SYS_GETPPID,
	"getuid": unix.SYS_GETUID, "geteuid": unix.SYS_GETEUID, "getgid": unix.SYS_GETGID, "getegid": unix.SYS_GETEGID,
	"getresuid": unix.SYS_GETRESUID, "getresgid": unix.SYS_GETRESGID, "getgroups": unix.SYS_GETGROUPS,
	"sched_yield": unix.SYS_SCHED_YIELD, "sched_getaffinity": unix.SYS_SCHED_GETAFFINITY, "getrusage": unix.SYS_GETRUSAGE,
	"sysinfo": unix.SYS_SYSINFO, "uname": unix.SYS_UNAME, "futex": unix.SYS_FUTEX, "poll": unix.SYS_POLL, "ppoll": unix.SYS_PPOLL,
	"exit": unix.SYS_EXIT, "exit_group": unix.SYS_EXIT_GROUP,
	"recvmsg": unix.SYS_RECVMSG, "recvfrom": unix.SYS_RECVFROM,
}
