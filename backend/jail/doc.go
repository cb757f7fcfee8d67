// Package jail is sandrun's default tier on Linux: every run in its own
// user, mount, pid, ipc, uts and cgroup namespaces and an empty network
// namespace, behind pivot_root, read-only binds of exactly the language's
// runtime paths, seccomp-bpf, Landlock and cgroups. It applies every line
// of the hardening checklist (docs/hardening.md) and fails closed: a
// layer that cannot be applied ends the run as internal_error naming the
// layer (*SetupError), unless the operator downgraded it explicitly
// (Options.Downgrade); the result then lists it in Result.Downgrades.
//
// # Processes
//
//	supervisor (sandrun)                 jail (new namespaces)
//	--------------------                 ---------------------
//	uid slot (flock), cgroup dir (limits)
//	socketpair
//	clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS [|NEWNET]) of
//	  /proc/self/fd/4 (the sandrun binary) with SANDRUN_JAIL_INIT=3:
//	  a C constructor runs the init before the Go runtime starts,
//	  on a thread that joined a fresh empty netns (made ahead of
//	  time) and moved itself into the run's v1 cgroup (v2:
//	  CLONE_INTO_CGROUP): the init is born in both
//	  uid/gid map "1000 <host uid> 1", setgroups deny,
//	  ambient CAP_SYS_ADMIN+CAP_SETPCAP    -> init = pid 1, uid 1000
//	the forking thread returns to the supervisor's netns and cgroups
//	open each runtime path in the init's mount namespace
//	  (openat2 on /proc/<pid>/root, RESOLVE_IN_ROOT)
//	C: config + bind fds  ---------------> read config
//	           <-------------------------- P: entering the mounts
//	                                       mount tree on a tmpfs, binds
//	                                       ro/nosuid/nodev, /proc, /dev,
//	                                       /tmp, /work, /etc, pivot_root,
//	                                       hostname, not dumpable
//	           <-------------------------- P: entering the exec
//	                                       fork; the child: setsid,
//	                                         PDEATHSIG, unshare(NEWCGROUP),
//	                                         drop bounding+ambient,
//	                                         no_new_privs, Landlock,
//	                                         rlimits, CLOEXEC >= 3,
//	                                         capset(0), seccomp, execve
//	                                         (failure: codes on a
//	                                         close-on-exec pipe)
//	           <-------------------------- S: started (program pid inside)
//	  or       <-------------------------- E: layer, step, errno; exit
//	K: signo  -----------------------------> kill(-program, signo)
//	                                       reap every child; when the
//	                                       program ends, kill(-1) and reap
//	           <-------------------------- X: program's wait status
//	with --collect: read /work through
//	  /proc/<init>/root; D  -------------> exit 0
//	wait for the init; read cgroup stats; remove the cgroup; free the uid
//
// # The sync socket protocol
//
// One SOCK_STREAM unix socketpair; the init has its end as fd 3 (marked
// close-on-exec at once, so the program never sees it) and the init
// binary as fd 4. Every message is a frame: one kind byte, a 4-byte
// big-endian length, the payload. The config is binary (config.go
// encodes, init_linux.c parses): the policies are data the Go supervisor
// computed, the seccomp program assembled and the Landlock rules as
// paths and masks. Setup failures travel as codes, never as text: E carries a Layer (uint16), a step number within the layer
// (uint16: which bind, which file) and an errno (uint32); the supervisor
// turns them into a *SetupError. The init writes nothing to stdout or
// stderr: those are the program's. The socket closing before X means the
// init died (killed by a limit, or a failure); the supervisor's own kill
// reason, or the cgroup's OOM count, says which.
//
// # Why these choices
//
//   - One clone with every namespace; the network namespace is a fresh
//     one per run, made ahead of time by a background goroutine (making
//     one costs about a millisecond and serialises in the kernel) and
//     joined by the forking thread. Runs sharing one would see each
//     other's unix sockets in /proc/net/unix (attack case 50).
//   - The init is born in its cgroup rather than moved there: moving a
//     process takes the kernel's cgroup_threadgroup_rwsem for writing,
//     which waits for an RCU grace period (about 10 ms) when no other
//     migration ran just before; a thread moving itself skips that lock
//     (v1), and CLONE_INTO_CGROUP needs no migration at all (v2).
//   - The runs' parent cgroup weighs as many plain processes as it holds
//     runs (v1 cpu.shares, v2 cpu.weight), so concurrent runs together
//     are never squeezed into one process's share of the CPU.
//   - The init's uid is the unprivileged 1000 with two ambient
//     capabilities, dropped before the program starts; there is no root
//     inside at any time. The host uid is distinct per concurrent run
//     (flock'd slots, so several supervisors on one host never share one).
//   - Bind sources are opened by the supervisor inside the init's mount
//     namespace: the init's host uid cannot traverse /root (pyenv), and a
//     bind source must belong to the init's own mount namespace.
//   - The init is C, run by a constructor before the Go runtime starts
//     (as runc's nsexec): a Go init paid the runtime's start and every
//     package's init (about 5 ms of CPU, growing with each library linked
//     into sandrun) on every cold run. C can also do what Go cannot: run
//     code between fork and exec, so the program's child applies seccomp,
//     Landlock, capabilities, rlimits and the cgroup namespace to itself
//     and the init stays outside all of them. As pid 1 of its namespace
//     with default signal actions, the init receives no signal from
//     inside; SIGCHLD comes through a signalfd. Without cgo there is no
//     init: New reports the jail unavailable and says why.
//
// The startup sweep removes cgroups named <pid>-<hex> under this
// package's sandrun-jail directories whose supervisor pid is gone. Mounts
// live only in the jails' own mount namespaces and vanish with them, and
// work directories are tmpfs inside the jail, so neither needs sweeping.
//
// # Warm path
//
// With Options.Warm (serve, mcp), a zygote per language the catalog marks
// lang.WarmFork (python) forks each run a child that is a full sandbox of
// its own: its own user namespace nested in the zygote's (a uid of the
// zygote's host uid range), mount, pid, net, ipc, uts and cgroup
// namespaces, cgroup, fresh tmpfs and /proc, seccomp and Landlock, no
// capabilities. The zygote never runs user code and never holds a run's
// data. zygote.go, zygote_linux.go, warm_linux.go and zygote.py; the
// process diagram and the protocol are in docs/architecture/jail.md
// ("Warm path").
package jail
