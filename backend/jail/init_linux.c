//go:build linux && cgo

// The jail init, in C, run by a constructor before the Go runtime starts
// (as runc's nsexec does): a jail's init costs an exec of this binary and
// a few hundred system calls, not the Go runtime's start and every
// package's init (which grow with every library linked into sandrun).
//
// The supervisor starts this binary with SANDRUN_JAIL_INIT=3 in its
// environment, the sync socket as fd 3, in fresh user, mount, pid, ipc,
// uts and network namespaces, inside the run's cgroup, as uid 1000 with
// CAP_SYS_ADMIN and CAP_SETPCAP (or, started by spawn_linux.c, with its
// uid unmapped and CAP_SETUID and CAP_SETGID too, which it uses to take
// uid 1000 when the config says so, then drops). Everything it needs comes in one config
// frame (config.go encodes it; the policies are computed by the Go
// supervisor: the seccomp program as assembled BPF, the Landlock rules as
// paths and masks). Failures travel as codes (layer, step, errno); the
// init never writes to stdout or stderr: those are the program's.
//
// Protocol and process tree: doc.go. Layer codes: layers.go (checked by
// TestCLayerCodes).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init_linux.h"

// glibc before 2.36 lacks these (and <linux/mount.h> clashes with
// <sys/mount.h> on some glibc versions).
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
// Landlock's ABI, written out: distributions' headers lag the kernel
// (the network rules are ABI 4, Linux 6.7).
#define SRJ_LL_CREATE_RULESET_VERSION (1U << 0)
#define SRJ_LL_RULE_PATH_BENEATH 1
#define SRJ_LL_RULE_NET_PORT 2
#define SRJ_LL_NET_CONNECT_TCP (1ULL << 1)
struct srj_ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));
struct srj_ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
};

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define SYNC_FD 3
#define NEW_ROOT "/tmp"
#define MAX_FRAME (1u << 30)
#define MAX_FDS 64

// ---- errors and frames -------------------------------------------------

struct fail {
	uint16_t layer, step;
	uint32_t err;
};

static struct fail failed(int layer, int step, int err) {
	struct fail f = {(uint16_t)layer, (uint16_t)step, (uint32_t)(err ? err : EINVAL)};
	return f;
}

#define OK ((struct fail){0, 0, 0})
#define FAILED(f) ((f).layer != 0)
#define TRY(layer, step, call)                       \
	do {                                             \
		if ((call) < 0) return failed(layer, step, errno); \
	} while (0)

static int write_all(int fd, const void *buf, size_t n) {
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n) {
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void put_be32(unsigned char *b, uint32_t v) {
	b[0] = v >> 24, b[1] = v >> 16, b[2] = v >> 8, b[3] = v;
}

static uint32_t get_be32(const unsigned char *b) {
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int send_frame(char kind, const void *payload, uint32_t n) {
	unsigned char hdr[5];
	hdr[0] = (unsigned char)kind;
	put_be32(hdr + 1, n);
	if (write_all(SYNC_FD, hdr, 5) < 0) return -1;
	return n ? write_all(SYNC_FD, payload, n) : 0;
}

static void send_u32(char kind, uint32_t v) {
	unsigned char b[4];
	put_be32(b, v);
	(void)send_frame(kind, b, 4);
}

static void send_progress(int layer) {
	unsigned char b[2] = {(unsigned char)(layer >> 8), (unsigned char)layer};
	(void)send_frame(SRJ_MSG_PROGRESS, b, 2);
}

static int report(struct fail f) {
	unsigned char b[8];
	b[0] = f.layer >> 8, b[1] = f.layer;
	b[2] = f.step >> 8, b[3] = f.step;
	put_be32(b + 4, f.err);
	(void)send_frame(SRJ_MSG_ERROR, b, 8);
	return 71;
}

// ---- the config --------------------------------------------------------

struct buf {
	const unsigned char *p, *end;
	int bad;
};

// take copies n bytes (host order) out of the frame, or marks it bad.
static void take(struct buf *b, void *out, size_t n) {
	if ((size_t)(b->end - b->p) < n) {
		b->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, b->p, n);
	b->p += n;
}

static uint32_t get_u32(struct buf *b) {
	uint32_t v;
	take(b, &v, 4);
	return v;
}

static uint64_t get_u64(struct buf *b) {
	uint64_t v;
	take(b, &v, 8);
	return v;
}

// get_bytes returns a pointer into the frame (not NUL-terminated).
static const unsigned char *get_bytes(struct buf *b, uint32_t *n) {
	*n = get_u32(b);
	if (b->bad || (uint64_t)(b->end - b->p) < *n) {
		b->bad = 1;
		return NULL;
	}
	const unsigned char *p = b->p;
	b->p += *n;
	return p;
}

// get_str copies a string out, NUL-terminated; an embedded NUL is bad.
static char *get_str(struct buf *b) {
	uint32_t n;
	const unsigned char *p = get_bytes(b, &n);
	if (!p) return NULL;
	if (memchr(p, 0, n)) {
		b->bad = 1;
		return NULL;
	}
	char *s = malloc((size_t)n + 1);
	if (!s) {
		b->bad = 1;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static char **get_strs(struct buf *b, uint32_t *count) {
	uint32_t n = get_u32(b);
	if (b->bad || n > 1u << 20) {
		b->bad = 1;
		return NULL;
	}
	char **v = calloc((size_t)n + 1, sizeof(char *));
	if (!v) {
		b->bad = 1;
		return NULL;
	}
	for (uint32_t i = 0; i < n && !b->bad; i++) v[i] = get_str(b);
	if (count) *count = n;
	return v;
}

struct bind {
	char *path, *symlink; // symlink "" for a bind from the next fd
};

struct file {
	char *name;
	uint32_t mode;
	const unsigned char *data;
	uint32_t size;
};

struct rule {
	char *path;
	uint64_t access;
};

struct config {
	char *hostname;
	uint32_t uid, gid;
	uint64_t work_size, work_inodes;
	uint64_t cpu_seconds, file_size, open_files, address_space;
	uint32_t flags;
	uint32_t nbinds, nfiles, nrules, nfilter;
	struct bind *binds;
	struct file *files;
	char **argv, **env;
	uint32_t ll_abi;
	uint64_t ll_fs, ll_net, ll_scoped, ll_file_only;
	struct rule *rules;
	uint32_t nconnect;
	uint64_t connect[64]; // TCP ports the program may connect to
	struct sock_filter *filter;
};

static int parse_config(const unsigned char *p, uint32_t n, struct config *c) {
	struct buf b = {p, p + n, 0};
	memset(c, 0, sizeof *c);
	if (get_u32(&b) != SRJ_CONFIG_MAGIC) return -1;
	c->hostname = get_str(&b);
	c->uid = get_u32(&b), c->gid = get_u32(&b);
	c->work_size = get_u64(&b), c->work_inodes = get_u64(&b);
	c->cpu_seconds = get_u64(&b), c->file_size = get_u64(&b);
	c->open_files = get_u64(&b), c->address_space = get_u64(&b);
	c->flags = get_u32(&b);
	c->nbinds = get_u32(&b);
	if (b.bad || c->nbinds > 4096) return -1;
	c->binds = calloc(c->nbinds + 1, sizeof *c->binds);
	for (uint32_t i = 0; c->binds && i < c->nbinds && !b.bad; i++) {
		c->binds[i].path = get_str(&b);
		c->binds[i].symlink = get_str(&b);
	}
	c->nfiles = get_u32(&b);
	if (b.bad || c->nfiles > 1u << 16) return -1;
	c->files = calloc(c->nfiles + 1, sizeof *c->files);
	for (uint32_t i = 0; c->files && i < c->nfiles && !b.bad; i++) {
		c->files[i].name = get_str(&b);
		c->files[i].mode = get_u32(&b);
		c->files[i].data = get_bytes(&b, &c->files[i].size);
	}
	c->argv = get_strs(&b, NULL);
	c->env = get_strs(&b, NULL);
	c->ll_abi = get_u32(&b);
	c->ll_fs = get_u64(&b), c->ll_net = get_u64(&b), c->ll_scoped = get_u64(&b);
	c->ll_file_only = get_u64(&b);
	c->nrules = get_u32(&b);
	if (b.bad || c->nrules > 4096) return -1;
	c->rules = calloc(c->nrules + 1, sizeof *c->rules);
	for (uint32_t i = 0; c->rules && i < c->nrules && !b.bad; i++) {
		c->rules[i].path = get_str(&b);
		c->rules[i].access = get_u64(&b);
	}
	c->nconnect = get_u32(&b);
	if (b.bad || c->nconnect > 64) return -1;
	for (uint32_t i = 0; i < c->nconnect; i++) c->connect[i] = get_u64(&b);
	c->nfilter = get_u32(&b);
	if (b.bad || c->nfilter > 4096 || (uint64_t)(b.end - b.p) != (uint64_t)c->nfilter * 8) return -1;
	c->filter = calloc(c->nfilter + 1, sizeof *c->filter);
	if (c->filter && c->nfilter) memcpy(c->filter, b.p, (size_t)c->nfilter * 8);
	if (b.bad || !c->hostname || !c->binds || !c->files || !c->argv || !c->env || !c->rules || !c->filter) return -1;
	if (!c->argv[0] || c->argv[0][0] != '/') return -1;
	return 0;
}

// read_config reads the config frame and the bind fds that travel with it.
static int read_config(unsigned char **payload, uint32_t *n, int *fds, int *nfds) {
	unsigned char hdr[5];
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	struct iovec iov = {hdr, sizeof hdr};
	struct msghdr m = {0};
	m.msg_iov = &iov, m.msg_iovlen = 1;
	m.msg_control = cbuf, m.msg_controllen = sizeof cbuf;
	ssize_t r;
	do r = recvmsg(SYNC_FD, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r <= 0) return -1;
	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k && *nfds < MAX_FDS; i++) memcpy(&fds[(*nfds)++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if (m.msg_flags & MSG_CTRUNC) return -1;
	if (r < 5 && read_all(SYNC_FD, hdr + r, (size_t)(5 - r)) < 0) return -1;
	if (hdr[0] != SRJ_MSG_CONFIG) return -1;
	*n = get_be32(hdr + 1);
	if (*n > MAX_FRAME) return -1;
	*payload = malloc(*n ? *n : 1);
	if (!*payload || read_all(SYNC_FD, *payload, *n) < 0) return -1;
	return 0;
}

// ---- the mount tree ----------------------------------------------------

static int mount_setattr_(const char *path, uint64_t set, int recursive) {
	struct mount_attr a = {0};
	a.attr_set = set;
	unsigned flags = AT_SYMLINK_NOFOLLOW | (recursive ? AT_RECURSIVE : 0);
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

// mkdir_p makes every directory of path (absolute), like MkdirAll.
static int mkdir_p(const char *path) {
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/') continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
	return 0;
}

static int parent_dirs(const char *path) {
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	char *slash = strrchr(tmp, '/');
	if (!slash || slash == tmp) return 0;
	*slash = 0;
	return mkdir_p(tmp);
}

static int touch(const char *path) {
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

static int join(char *out, size_t n, const char *a, const char *b) {
	if ((size_t)snprintf(out, n, "%s%s", a, b) >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

// bind_ro binds the fd's file on target, made read-only, nosuid and nodev
// with its whole subtree in one mount_setattr.
static int bind_ro(int fd, const char *target) {
	struct stat st;
	char src[64];
	if (fstat(fd, &st) < 0) return -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir_p(target) < 0) return -1;
	} else if (touch(target) < 0) {
		return -1;
	}
	snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
	return mount_setattr_(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 1);
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode) {
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) return -1;
	int r = write_all(fd, data, n);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

// valid_name: relative, no empty, "." or ".." component (the supervisor
// sends cleaned, validated names; checked again here).
static int valid_name(const char *s) {
	if (!*s || *s == '/') return 0;
	const char *p = s;
	while (*p) {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
		if (!q) break;
		p = q + 1;
	}
	return 1;
}

static struct fail write_etc(const struct config *c) {
	char path[256], body[1024];
	static const char *names[] = {"passwd", "group", "hostname", "hosts"};
	for (int i = 0; i < 4; i++) {
		switch (i) {
		case 0:
			snprintf(body, sizeof body,
				 "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%u:%u:sandbox:/work:/bin/sh\n"
				 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
				 c->uid, c->gid);
			break;
		case 1:
			snprintf(body, sizeof body, "root:x:0:\nsandbox:x:%u:\nnogroup:x:65534:\n", c->gid);
			break;
		case 2:
			snprintf(body, sizeof body, "%s\n", c->hostname);
			break;
		case 3:
			snprintf(body, sizeof body, "127.0.0.1\tlocalhost %s\n::1\tlocalhost\n", c->hostname);
			break;
		}
		snprintf(path, sizeof path, NEW_ROOT "/etc/%s", names[i]);
		struct stat st;
		if (lstat(path, &st) == 0) continue; // a runtime bind provides it
		if (write_file(path, body, strlen(body), 0644) < 0) return failed(SRJ_LAYER_FILES, 1, errno);
	}
	return OK;
}

static struct fail setup_dev(const char *shm_opts) {
	static const char *devs[] = {"null", "zero", "full", "random", "urandom"};
	static const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
	char t[128], s[128];
	TRY(SRJ_LAYER_DEV, 1, mount("tmpfs", NEW_ROOT "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"));
	for (int i = 0; i < 5; i++) {
		snprintf(t, sizeof t, NEW_ROOT "/dev/%s", devs[i]);
		snprintf(s, sizeof s, "/dev/%s", devs[i]);
		TRY(SRJ_LAYER_DEV, 10 + i, touch(t));
		TRY(SRJ_LAYER_DEV, 10 + i, mount(s, t, NULL, MS_BIND, NULL));
		TRY(SRJ_LAYER_DEV, 10 + i, mount_setattr_(t, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0));
	}
	for (int i = 0; i < 4; i++) {
		snprintf(t, sizeof t, NEW_ROOT "/dev/%s", links[i][1]);
		TRY(SRJ_LAYER_DEV, 20 + i, symlink(links[i][0], t));
	}
	TRY(SRJ_LAYER_DEV, 30, mkdir(NEW_ROOT "/dev/shm", 0755));
	TRY(SRJ_LAYER_TMPFS, 3, mount("tmpfs", NEW_ROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts));
	TRY(SRJ_LAYER_DEV, 31, mount_setattr_(NEW_ROOT "/dev", MOUNT_ATTR_RDONLY, 0));
	return OK;
}

static struct fail setup_proc(void) {
	static const char *ro[] = {"sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi"};
	char t[128];
	struct stat st;
	TRY(SRJ_LAYER_PROC, 1, mount("proc", NEW_ROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	for (int i = 0; i < 7; i++) {
		snprintf(t, sizeof t, NEW_ROOT "/proc/%s", ro[i]);
		if (lstat(t, &st) < 0) continue;
		TRY(SRJ_LAYER_PROC, 10 + i, mount(t, t, NULL, MS_BIND | MS_REC, NULL));
		TRY(SRJ_LAYER_PROC, 10 + i, mount_setattr_(t, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 1));
	}
	return OK;
}

// setup_fs builds the jail's view on a tmpfs and pivots into it. fds are
// the bind sources, one per non-symlink bind, in order.
static struct fail setup_fs(const struct config *c, const int *fds, int nfds) {
	static const char *dirs[] = {"proc", "dev", "tmp", "work", "etc"};
	char t[4096], opts[128];
	TRY(SRJ_LAYER_MOUNTS, 1, mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL));
	TRY(SRJ_LAYER_MOUNTS, 2, mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"));
	for (int i = 0; i < 5; i++) {
		snprintf(t, sizeof t, NEW_ROOT "/%s", dirs[i]);
		TRY(SRJ_LAYER_MOUNTS, 3, mkdir(t, 0755));
	}
	snprintf(opts, sizeof opts, "mode=0755,size=%llu,nr_inodes=%llu", (unsigned long long)c->work_size, (unsigned long long)c->work_inodes);
	TRY(SRJ_LAYER_TMPFS, 1, mount("tmpfs", NEW_ROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts));
	TRY(SRJ_LAYER_TMPFS, 2, mount("tmpfs", NEW_ROOT "/work", "tmpfs", MS_NOSUID | MS_NODEV, opts));
	int fdi = 0;
	for (uint32_t i = 0; i < c->nbinds; i++) {
		const struct bind *b = &c->binds[i];
		int step = 100 + (int)i;
		if (b->path[0] != '/') return failed(SRJ_LAYER_MOUNTS, step, EINVAL);
		TRY(SRJ_LAYER_MOUNTS, step, join(t, sizeof t, NEW_ROOT, b->path));
		TRY(SRJ_LAYER_MOUNTS, step, parent_dirs(t));
		if (b->symlink[0]) {
			if (symlink(b->symlink, t) < 0 && errno != EEXIST) return failed(SRJ_LAYER_MOUNTS, step, errno);
			continue;
		}
		if (fdi >= nfds) return failed(SRJ_LAYER_MOUNTS, step, EBADF);
		TRY(SRJ_LAYER_MOUNTS, step, bind_ro(fds[fdi++], t));
	}
	struct fail f = write_etc(c);
	if (FAILED(f)) return f;
	for (uint32_t i = 0; i < c->nfiles; i++) {
		const struct file *fl = &c->files[i];
		int step = 10 + (int)i;
		if (!valid_name(fl->name)) return failed(SRJ_LAYER_FILES, step, EINVAL);
		TRY(SRJ_LAYER_FILES, step, join(t, sizeof t, NEW_ROOT "/work/", fl->name));
		TRY(SRJ_LAYER_FILES, step, parent_dirs(t));
		TRY(SRJ_LAYER_FILES, step, write_file(t, fl->data, fl->size, fl->mode ? (fl->mode & 07777) : 0644));
	}
	f = setup_dev(opts);
	if (FAILED(f)) return f;
	f = setup_proc();
	if (FAILED(f)) return f;
	TRY(SRJ_LAYER_PIVOT_ROOT, 1, chdir(NEW_ROOT));
	TRY(SRJ_LAYER_PIVOT_ROOT, 2, (int)syscall(SYS_pivot_root, ".", "."));
	TRY(SRJ_LAYER_PIVOT_ROOT, 3, umount2(".", MNT_DETACH));
	TRY(SRJ_LAYER_PIVOT_ROOT, 4, chdir("/"));
	// The root itself (mount points, /etc) is read-only from here on.
	TRY(SRJ_LAYER_PIVOT_ROOT, 5, mount_setattr_("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0));
	TRY(SRJ_LAYER_PIVOT_ROOT, 6, chdir("/work"));
	return OK;
}

// ---- the program's restrictions (in the forked child) -----------------

static struct fail drop_bounding(void) {
	int last = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1) last = 40;
		fclose(f);
	}
	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) return failed(SRJ_LAYER_CAPABILITIES, 10 + c, errno);
	TRY(SRJ_LAYER_CAPABILITIES, 2, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	return OK;
}

static struct fail apply_landlock(const struct config *c) {
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, SRJ_LL_CREATE_RULESET_VERSION);
	if (abi < 1 || (abi < 6 && !(c->flags & SRJ_FLAG_LANDLOCK_PARTIAL))) return failed(SRJ_LAYER_LANDLOCK, 1, EOPNOTSUPP);
	if ((uint32_t)abi != c->ll_abi) return failed(SRJ_LAYER_LANDLOCK, 3, EPROTO);
	// The attribute's size tells the kernel which fields exist.
	struct {
		uint64_t fs, net, scoped;
	} attr = {c->ll_fs, c->ll_net, c->ll_scoped};
	size_t size = abi < 4 ? 8 : abi < 6 ? 16 : 24;
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0) return failed(SRJ_LAYER_LANDLOCK, 1, errno);
	for (uint32_t i = 0; i < c->nrules; i++) {
		int pfd = open(c->rules[i].path, O_PATH | O_CLOEXEC);
		if (pfd < 0) {
			if (errno == ENOENT) continue; // an optional path the view does not have
			int e = errno;
			close(rs);
			return failed(SRJ_LAYER_LANDLOCK, 10 + (int)i, e);
		}
		struct stat st;
		uint64_t access = c->rules[i].access;
		if (fstat(pfd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= c->ll_file_only;
		struct srj_ll_path_beneath pb = {.allowed_access = access, .parent_fd = pfd};
		long r = syscall(SYS_landlock_add_rule, rs, SRJ_LL_RULE_PATH_BENEATH, &pb, 0);
		int e = errno;
		close(pfd);
		if (r < 0) {
			close(rs);
			return failed(SRJ_LAYER_LANDLOCK, 10 + (int)i, e);
		}
	}
	for (uint32_t i = 0; i < c->nconnect; i++) {
		if (!(c->ll_net & SRJ_LL_NET_CONNECT_TCP)) break;
		struct srj_ll_net_port np = {.allowed_access = SRJ_LL_NET_CONNECT_TCP, .port = c->connect[i]};
		if (syscall(SYS_landlock_add_rule, rs, SRJ_LL_RULE_NET_PORT, &np, 0) < 0) {
			int e = errno;
			close(rs);
			return failed(SRJ_LAYER_LANDLOCK, 200 + (int)i, e);
		}
	}
	long r = syscall(SYS_landlock_restrict_self, rs, 0);
	int e = errno;
	close(rs);
	if (r < 0) return failed(SRJ_LAYER_LANDLOCK, 2, e);
	return OK;
}

static struct fail set_rlimits(const struct config *c) {
	struct {
		int res;
		uint64_t v;
	} set[] = {
	    {RLIMIT_CORE, 0},
	    {RLIMIT_NOFILE, c->open_files},
	    {RLIMIT_FSIZE, c->file_size},
	    {RLIMIT_CPU, c->cpu_seconds},
	    {RLIMIT_STACK, 8 << 20}, // bounded whatever the supervisor's is
	    {RLIMIT_AS, c->address_space},
	};
	for (int i = 0; i < 6; i++) {
		if (set[i].v == 0 && set[i].res != RLIMIT_CORE) continue;
		struct rlimit rl = {set[i].v, set[i].v};
		if (set[i].res == RLIMIT_CPU) rl.rlim_max = set[i].v + 1; // SIGXCPU, then SIGKILL a second later
		TRY(SRJ_LAYER_RLIMITS, i + 1, setrlimit(set[i].res, &rl));
	}
	return OK;
}

// restrict_self applies, in the forked child, every per-process layer, in
// this order: the cgroup namespace, the bounding and ambient sets,
// no_new_privs, Landlock, rlimits, close-on-exec of every fd >= 3, the
// other capability sets, and last the seccomp filter (it must allow only
// execve after it).
static struct fail restrict_self(const struct config *c) {
	TRY(SRJ_LAYER_EXEC, 3, setsid());
	TRY(SRJ_LAYER_EXEC, 4, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
	if (getppid() != 1) return failed(SRJ_LAYER_EXEC, 4, ESRCH);
	// A cgroup namespace rooted at the run's own cgroup (the init was
	// born in it).
	TRY(SRJ_LAYER_CGROUP_NS, 1, unshare(CLONE_NEWCGROUP));
	struct fail f = drop_bounding();
	if (FAILED(f)) return f;
	TRY(SRJ_LAYER_NO_NEW_PRIVS, 1, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (!(c->flags & SRJ_FLAG_NO_LANDLOCK)) {
		f = apply_landlock(c);
		if (FAILED(f)) return f;
	}
	f = set_rlimits(c);
	if (FAILED(f)) return f;
	sigset_t none;
	sigemptyset(&none);
	TRY(SRJ_LAYER_EXEC, 5, sigprocmask(SIG_SETMASK, &none, NULL));
	// Only 0, 1 and 2 reach the program.
	TRY(SRJ_LAYER_EXEC, 1, (int)syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC));
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	TRY(SRJ_LAYER_CAPABILITIES, 3, (int)syscall(SYS_capset, &hdr, data));
	if (!(c->flags & SRJ_FLAG_NO_SECCOMP)) {
		if (c->nfilter == 0) return failed(SRJ_LAYER_SECCOMP, 1, EOPNOTSUPP);
		struct sock_fprog prog = {(unsigned short)c->nfilter, c->filter};
		TRY(SRJ_LAYER_SECCOMP, 2, prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
	}
	return OK;
}

// start_program forks the program, which restricts itself and execs. A
// pipe closed by the exec tells success from a failure (which the child
// writes into it before it exits).
static struct fail start_program(const struct config *c, pid_t *pid) {
	int p[2];
	TRY(SRJ_LAYER_EXEC, 2, pipe2(p, O_CLOEXEC));
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(p[0]), close(p[1]);
		return failed(SRJ_LAYER_EXEC, 2, e);
	}
	if (child == 0) {
		close(p[0]);
		struct fail f = restrict_self(c);
		if (!FAILED(f)) {
			execve(c->argv[0], c->argv, c->env);
			f = failed(SRJ_LAYER_EXEC, 2, errno);
		}
		(void)write_all(p[1], &f, sizeof f);
		_exit(127);
	}
	close(p[1]);
	struct fail f = OK;
	ssize_t r;
	do r = read(p[0], &f, sizeof f);
	while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == (ssize_t)sizeof f) {
		waitpid(child, NULL, 0);
		return f;
	}
	*pid = child;
	return OK;
}

// ---- running -----------------------------------------------------------

// supervise reaps every child and relays signals until the program ends;
// then it kills everything else in the namespace, reaps it, and returns
// the program's wait status.
static int supervise(pid_t program, int sfd) {
	int status = 0, done = 0, sock_open = 1;
	while (!done) {
		struct pollfd pf[2] = {{sfd, POLLIN, 0}, {SYNC_FD, POLLIN, 0}};
		int n = poll(pf, sock_open ? 2 : 1, -1);
		if (n < 0) {
			if (errno == EINTR) continue;
			break;
		}
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {
			}
			for (;;) {
				int ws;
				pid_t w = waitpid(-1, &ws, WNOHANG);
				if (w <= 0) break;
				if (w == program) {
					status = ws, done = 1;
				}
			}
		}
		if (sock_open && !done && pf[1].revents) {
			unsigned char hdr[5], b[4];
			if (read_all(SYNC_FD, hdr, 5) < 0) {
				sock_open = 0; // the supervisor kills us if it must
				continue;
			}
			uint32_t len = get_be32(hdr + 1);
			if (hdr[0] == SRJ_MSG_SIGNAL && len == 4 && read_all(SYNC_FD, b, 4) == 0) {
				uint32_t sig = get_be32(b);
				if (sig > 0 && sig < 65) kill(-program, (int)sig);
				continue;
			}
			// Anything else is a protocol error: skip it.
			for (unsigned char junk[256]; len > 0;) {
				uint32_t k = len < sizeof junk ? len : sizeof junk;
				if (read_all(SYNC_FD, junk, k) < 0) {
					sock_open = 0;
					break;
				}
				len -= k;
			}
		}
	}
	// -1 from pid 1 is every process of the namespace but the init.
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
	}
	return status;
}

// take_ids: an init started with its uid unmapped (spawn_linux.c) takes
// the one identity inside once the supervisor has written the maps (they
// come before the config), then drops CAP_SETUID and CAP_SETGID, which
// it held for that alone: it keeps CAP_SYS_ADMIN and CAP_SETPCAP, as an
// init that os/exec started with its uid already set does. Until then it
// runs as the supervisor's host uid, in its own user namespace, doing
// nothing but wait for the config.
static struct fail take_ids(const struct config *c) {
	TRY(SRJ_LAYER_NAMESPACES, 20, setresgid(c->gid, c->gid, c->gid));
	TRY(SRJ_LAYER_NAMESPACES, 21, setresuid(c->uid, c->uid, c->uid));
	TRY(SRJ_LAYER_NAMESPACES, 22, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SETUID, 0, 0));
	TRY(SRJ_LAYER_NAMESPACES, 23, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_SETGID, 0, 0));
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	TRY(SRJ_LAYER_NAMESPACES, 24, (int)syscall(SYS_capget, &hdr, data));
	uint32_t drop = (1u << CAP_SETUID) | (1u << CAP_SETGID); // both below 32
	data[0].effective &= ~drop, data[0].permitted &= ~drop, data[0].inheritable &= ~drop;
	TRY(SRJ_LAYER_NAMESPACES, 25, (int)syscall(SYS_capset, &hdr, data));
	// A new uid clears the parent-death signal (commit_creds): arm it
	// again, then make sure the supervisor did not die in between (its
	// end of the sync socket closes with it). getppid() cannot tell:
	// pid 1 of a namespace always sees 0.
	TRY(SRJ_LAYER_NAMESPACES, 26, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
	struct pollfd pf = {SYNC_FD, POLLRDHUP, 0};
	if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLRDHUP | POLLHUP))) _exit(70);
	return OK;
}

int srj_init_main(void) {
	unsigned char *payload = NULL;
	uint32_t n = 0;
	int fds[MAX_FDS], nfds = 0;
	struct config c;
	if (fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC) < 0) return 70;
	if (read_config(&payload, &n, fds, &nfds) < 0) return report(failed(SRJ_LAYER_PROTOCOL, 1, EPROTO));
	if (parse_config(payload, n, &c) < 0) return report(failed(SRJ_LAYER_PROTOCOL, 2, EPROTO));
	if (c.flags & SRJ_FLAG_SET_IDS) {
		struct fail f = take_ids(&c);
		if (FAILED(f)) return report(f);
	}
	// Progress frames name the layer a setup that hangs is stuck in.
	send_progress(SRJ_LAYER_MOUNTS);
	// SIGCHLD comes through a signalfd; every other signal keeps its
	// default action, which for the pid namespace's init means the
	// kernel drops it when it comes from inside the namespace.
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) return report(failed(SRJ_LAYER_EXEC, 6, errno));
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) return report(failed(SRJ_LAYER_EXEC, 6, errno));
	struct fail f = setup_fs(&c, fds, nfds);
	if (FAILED(f)) return report(f);
	for (int i = 0; i < nfds; i++) close(fds[i]);
	if (sethostname(c.hostname, strlen(c.hostname)) < 0) return report(failed(SRJ_LAYER_HOSTNAME, 1, errno));
	// Not dumpable: the program (same uid) cannot open /proc/1/mem or
	// read the init's memory.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return report(failed(SRJ_LAYER_CAPABILITIES, 1, errno));
	send_progress(SRJ_LAYER_EXEC);
	pid_t program = 0;
	f = start_program(&c, &program);
	if (FAILED(f)) return report(f);
	send_u32(SRJ_MSG_STARTED, (uint32_t)program);
	int status = supervise(program, sfd);
	send_u32(SRJ_MSG_EXITED, (uint32_t)status);
	if (c.flags & SRJ_FLAG_WAIT_DONE) {
		// The supervisor reads /work through /proc/<init>/root while
		// the namespace lives; it says when it is done (or goes away).
		unsigned char hdr[5];
		(void)read_all(SYNC_FD, hdr, 5);
	}
	return 0;
}

// The constructor: in the init role, run the init and never return to the
// Go runtime; in any other process, return at once.
__attribute__((constructor)) static void srj_constructor(void) {
	const char *role = getenv(SRJ_ENV);
	if (!role || strcmp(role, "3") != 0) return;
	_exit(srj_init_main());
}
