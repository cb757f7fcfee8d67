//go:build linux && cgo

// The jail init's spawn: clone3 with CLONE_VM|CLONE_VFORK and the jail's
// namespaces, then exec of the init.
//
// Why not Go's os/exec: with CLONE_NEWUSER Go cannot use vfork (its child
// waits for the parent to write the uid map), so every spawn copied the
// supervisor's page tables, the child tore them down again at its exec,
// and the supervisor took a copy-on-write fault for each page it wrote
// afterwards: 0.7 ms of CPU per spawn with a small heap, 7 ms with 200 MB
// (docs/architecture/jail.md). Here the child borrows the supervisor's
// memory until it execs, so that cost is gone whatever the heap. The
// child execs with its uid still unmapped, so it cannot take uid 1000
// first: it keeps CAP_SETUID and CAP_SETGID as ambient capabilities
// beside the init's two, the supervisor writes the maps once it has
// exec'd, and the init takes the uid when its config arrives (then drops
// the two). It also joins its cgroup itself, before the exec: on cgroup
// v2 the clone puts it there (CLONE_INTO_CGROUP); on v1 it writes "0" to
// the run's "tasks" files, which moves only the writer and so skips the
// kernel's global migration lock, as the supervisor's forking thread
// used to do for it (a thread of the supervisor no longer enters the
// run's groups at all).
//
// The child runs on its own small stack but shares everything else with
// the supervisor, whose calling thread is suspended until the exec: it
// touches only that stack and the srj_spawn struct, and calls only
// async-signal-safe functions. Every signal is blocked across the clone
// and the child resets every handler to the default before unblocking.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn_linux.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

// struct clone_args, version 2 (Linux 5.7: the cgroup field).
struct srj_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static int spawn_child(void *arg) {
	struct srj_spawn *s = arg;
	s->step = SRJ_STEP_SIGNALS;
	// The signal table is the child's own copy (no CLONE_SIGHAND): put
	// back every handler the supervisor installed.
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP) continue;
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL) continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		if (sigaction(sig, &sa, NULL) < 0) goto fail;
	}
	s->step = SRJ_STEP_SETSID;
	if (setsid() < 0) goto fail;
	// PDEATHSIG follows the supervisor's calling thread, which stays
	// until the init has ended (see Backend.startIn). The init is pid 1
	// of its namespace, where getppid() is 0 whether or not the parent
	// lives; a supervisor killed before this point leaves an init whose
	// sync socket is closed, and it exits on reading it.
	s->step = SRJ_STEP_PDEATHSIG;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) goto fail;
	s->step = SRJ_STEP_CGROUP;
	for (int i = 0; i < s->ntasks; i++)
		if (write(s->tasks[i], "0", 1) != 1) goto fail;
	// In its new user namespace the child holds every capability; it
	// execs with its uid unmapped (not root there), so only ambient ones
	// survive the exec.
	s->step = SRJ_STEP_CAPS;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0) goto fail;
	data[0].inheritable = (uint32_t)s->ambient;
	data[1].inheritable = (uint32_t)(s->ambient >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0) goto fail;
	for (int c = 0; c < 64; c++)
		if (((s->ambient >> c) & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) goto fail;
	// fds[i] becomes i: first move every source a lower target would
	// overwrite above them all (close-on-exec), then dup2 into place
	// (dup2 clears close-on-exec; a source already in place is cleared
	// by hand).
	s->step = SRJ_STEP_FDS;
	for (int i = 0; i < s->nfds; i++) {
		if (s->fds[i] < s->nfds && s->fds[i] != i) {
			int d = fcntl(s->fds[i], F_DUPFD_CLOEXEC, s->nfds);
			if (d < 0) goto fail;
			s->fds[i] = d;
		}
	}
	for (int i = 0; i < s->nfds; i++) {
		if (s->fds[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(s->fds[i], i) < 0) goto fail;
	}
	s->step = SRJ_STEP_SIGNALS;
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) goto fail;
	s->step = SRJ_STEP_EXEC;
	execve(s->path, s->argv, s->envp);
fail:
	s->err = errno ? errno : EINVAL;
	_exit(127);
}

#if defined(__x86_64__)
// clone3 with CLONE_VM: the child starts on args->stack, where it calls
// fn(arg) and exits with its result; it never returns into the caller's
// frames (whose stack is the parent's). glibc has no public clone3.
static long clone3_vm(struct srj_clone_args *args, int (*fn)(void *), void *arg) {
	long ret;
	register void *r8 __asm__("r8") = arg;
	register int (*r9)(void *) __asm__("r9") = fn;
	__asm__ volatile(
	    "syscall\n\t"
	    "test %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xor %%ebp, %%ebp\n\t"
	    "mov %%r8, %%rdi\n\t"
	    "call *%%r9\n\t"
	    "mov %%eax, %%edi\n\t"
	    "mov $60, %%eax\n\t" // exit
	    "syscall\n\t"
	    "ud2\n\t"
	    "1:\n\t"
	    : "=a"(ret)
	    : "a"(435L /* clone3 */), "D"(args), "S"(sizeof *args), "r"(r8), "r"(r9)
	    : "rcx", "r11", "memory", "cc");
	return ret;
}
#endif

int srj_spawn(struct srj_spawn *s) {
	s->err = 0, s->step = SRJ_STEP_CLONE;
#if defined(__x86_64__)
	size_t size = 64 << 10;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		s->err = errno;
		return -1;
	}
	struct srj_clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = s->flags | CLONE_VM | CLONE_VFORK;
	args.exit_signal = SIGCHLD;
	args.stack = (uint64_t)(uintptr_t)stack;
	args.stack_size = size;
	if (s->flags & CLONE_INTO_CGROUP) args.cgroup = (uint64_t)s->cgroup;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	long pid = clone3_vm(&args, spawn_child, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, size);
	if (pid < 0) {
		s->err = (int)-pid;
		return -1;
	}
	return (int)pid;
#else
	s->err = ENOSYS;
	return -1;
#endif
}
