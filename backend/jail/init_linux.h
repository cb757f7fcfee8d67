// Constants shared by the C init (init_linux.c) and the Go supervisor
// (init_cgo_linux.go exposes them to TestCLayerCodes, which checks them
// against layers.go and protocol_linux.go).

#ifndef SANDRUN_JAIL_INIT_H
#define SANDRUN_JAIL_INIT_H

// The environment variable that makes this binary the jail's init; its
// value is the sync socket's fd.
#define SRJ_ENV "SANDRUN_JAIL_INIT"

// The config frame starts with this (config.go: configMagic).
#define SRJ_CONFIG_MAGIC 0x314a5253u // "SRJ1" little-endian

// Config flags (config.go).
#define SRJ_FLAG_NO_SECCOMP 1u
#define SRJ_FLAG_NO_LANDLOCK 2u
#define SRJ_FLAG_LANDLOCK_PARTIAL 4u
#define SRJ_FLAG_WAIT_DONE 8u
#define SRJ_FLAG_SET_IDS 16u

// Frame kinds (protocol_linux.go).
#define SRJ_MSG_ERROR 'E'
#define SRJ_MSG_STARTED 'S'
#define SRJ_MSG_EXITED 'X'
#define SRJ_MSG_PROGRESS 'P'
#define SRJ_MSG_CONFIG 'C'
#define SRJ_MSG_SIGNAL 'K'
#define SRJ_MSG_DONE 'D'

// Layers (layers.go), in order.
#define SRJ_LAYER_PROTOCOL 1
#define SRJ_LAYER_NAMESPACES 2
#define SRJ_LAYER_CGROUP 3
#define SRJ_LAYER_MOUNTS 4
#define SRJ_LAYER_PROC 5
#define SRJ_LAYER_DEV 6
#define SRJ_LAYER_TMPFS 7
#define SRJ_LAYER_FILES 8
#define SRJ_LAYER_PIVOT_ROOT 9
#define SRJ_LAYER_HOSTNAME 10
#define SRJ_LAYER_CGROUP_NS 11
#define SRJ_LAYER_RLIMITS 12
#define SRJ_LAYER_CAPABILITIES 13
#define SRJ_LAYER_NO_NEW_PRIVS 14
#define SRJ_LAYER_LANDLOCK 15
#define SRJ_LAYER_SECCOMP 16
#define SRJ_LAYER_EXEC 17
#define SRJ_LAYER_COLLECT 18

int srj_init_main(void);

#endif
