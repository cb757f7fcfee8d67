// The jail init's spawn (spawn_linux.c), shared with its Go caller
// (spawn_cgo_linux.go).

#ifndef SANDRUN_JAIL_SPAWN_H
#define SANDRUN_JAIL_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#define SRJ_SPAWN_MAX_FDS 8

// Steps of the child before its exec, reported with the errno of the
// one that failed (spawn_cgo_linux.go names them).
#define SRJ_STEP_CLONE 0
#define SRJ_STEP_SIGNALS 1
#define SRJ_STEP_SETSID 2
#define SRJ_STEP_PDEATHSIG 3
#define SRJ_STEP_CGROUP 4
#define SRJ_STEP_CAPS 5
#define SRJ_STEP_FDS 6
#define SRJ_STEP_EXEC 7

struct srj_spawn {
	uint64_t flags;   // CLONE_NEW* flags (and CLONE_INTO_CGROUP with cgroup)
	int cgroup;       // a cgroup v2 directory for CLONE_INTO_CGROUP
	int nfds;         // fds[i] becomes descriptor i in the child
	int fds[SRJ_SPAWN_MAX_FDS];
	int ntasks;       // cgroup v1 "tasks" files the child writes "0" to
	int tasks[SRJ_SPAWN_MAX_FDS];
	const char *path; // what the child execs
	char *const *argv;
	char *const *envp;
	uint64_t ambient; // capabilities raised as ambient (bit per capability)
	// Set by the child when a step fails (the parent reads them after
	// clone returns: the child shares its memory until exec).
	int err, step;
};

// srj_spawn clones with CLONE_VM|CLONE_VFORK: nothing of the caller's
// address space is copied. It returns when the child has exec'd or
// exited: the child's pid, or -1 when the clone failed. err (and step)
// say that the child failed before its exec (it has exited and must be
// reaped) or why the clone did; ENOSYS where this is not implemented
// (the caller falls back).
int srj_spawn(struct srj_spawn *s);

#endif
