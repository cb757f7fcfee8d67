// Package jail is sandrun's default tier on Linux: every run in its own
// user, mount, pid, ipc, uts and cgroup namespaces and an empty network
// namespace, behind pivot_root, read-only binds of exactly the language's
// runtime paths, seccomp-bpf, Landlock and cgroups. It applies every line
// of the hardening checklist (docs: hardening.md) and fails closed: a
// layer that cannot be applied ends the run as internal_error naming the
// layer (*SetupError), unless the operator downgraded it explicitly
// (Options.Downgrade); the result then lists it in Result.Downgrades.
//
// # Processes
//
//	supervisor (sandrun)                 jail (new namespaces)
//	--------------------                 ---------------------
//	uid slot (flock), cgroup dir
//	socketpair
//	clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS [|NEWNET]) of
//	  /proc/self/fd/4 (the sandrun binary) as "__child jail-init",
//	  on a thread that joined the shared empty netns
//	  uid/gid map "1000 <host uid> 1", setgroups deny,
//	  ambient CAP_SYS_ADMIN+CAP_SETPCAP    -> init = pid 1, uid 1000
//	write init's pid to the cgroup
//	open each runtime path in the init's mount namespace
//	  (openat2 on /proc/<pid>/root, RESOLVE_IN_ROOT)
//	C: config JSON + bind fds  ----------> read config
//	                                       mount tree on a tmpfs, binds
//	                                       ro/nosuid/nodev, /proc, /dev,
//	                                       /tmp, /work, /etc, pivot_root,
//	                                       hostname
//	                                       on a locked non-leader thread:
//	                                         unshare(NEWCGROUP), drop
//	                                         bounding+ambient, no_new_privs,
//	                                         Landlock, seccomp, capset(0),
//	                                         rlimits, CLOEXEC >= 3,
//	                                         fork+exec the program
//	                                         (setsid, PDEATHSIG)
//	           <-------------------------- S: started (program pid inside)
//	  or       <-------------------------- E: layer, step, errno; exit
//	K: signo  -----------------------------> kill(-program, signo)
//	                                       reap every child; when the
//	                                       program ends, kill(-1) and reap
//	           <-------------------------- X: program's wait status
//	           <-------------------------- F: collected files (JSON)
//	                                       exit 0
//	wait for the init; read cgroup stats; remove the cgroup; free the uid
//
// # The sync socket protocol
//
// One SOCK_STREAM unix socketpair; the init has its end as fd 3 (marked
// close-on-exec at once, so the program never sees it) and the init
// binary as fd 4. Every message is a frame: one kind byte, a 4-byte
// big-endian length, the payload. Setup failures travel as codes, never
// as text: E carries a Layer (uint16), a step number within the layer
// (uint16: which bind, which file) and an errno (uint32); the supervisor
// turns them into a *SetupError. The init writes nothing to stdout or
// stderr: those are the program's. The socket closing before X means the
// init died (killed by a limit, or a failure); the supervisor's own kill
// reason, or the cgroup's OOM count, says which.
//
// # Why these choices
//
//   - One clone with every namespace, and setns into one pre-created empty
//     network namespace: creating a netns per run is the slow, serialising
//     step. Sharing one is safe because the seccomp filter allows only
//     AF_UNIX sockets and Landlock (ABI 6) scopes abstract unix sockets to
//     the run's own domain; without ABI 6 each run gets its own netns.
//   - The init's uid is the unprivileged 1000 with two ambient
//     capabilities, dropped before the program starts; there is no root
//     inside at any time. The host uid is distinct per concurrent run
//     (flock'd slots, so several supervisors on one host never share one).
//   - Bind sources are opened by the supervisor inside the init's mount
//     namespace: the init's host uid cannot traverse /root (pyenv), and a
//     bind source must belong to the init's own mount namespace.
//   - seccomp, Landlock, capabilities and the cgroup namespace are per
//     thread; the init applies them on the thread that forks the program,
//     which is never the thread group leader, so the init itself stays
//     outside the program's Landlock domain and the program's signals
//     cannot reach it.
//
// The startup sweep removes cgroups named <pid>-<hex> under this
// package's sandrun-jail directories whose supervisor pid is gone. Mounts
// live only in the jails' own mount namespaces and vanish with them, and
// work directories are tmpfs inside the jail, so neither needs sweeping.
package jail
