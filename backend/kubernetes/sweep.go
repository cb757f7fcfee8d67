package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sweep deletes the owner config maps (and so, through the garbage
// collector, the pods and policies) of supervisors that are gone: those of
// this host whose process no longer runs, and any whose heartbeat has been
// silent for staleAfter. The pods of a stale owner are deleted at once too,
// not left to the collector's pace. Only this tier's objects in this
// namespace are looked at.
func sweep(ctx context.Context, a *api, self string, staleAfter time.Duration) (int, error) {
	l, err := a.listConfigMaps(ctx, labelManagedBy+"="+managedBy+","+labelRole+"="+roleOwner)
	if err != nil {
		return 0, err
	}
	host, _, _ := strings.Cut(self, ":") // host@pidns
	n := 0
	var errs []error
	for _, cm := range l.Items {
		if !staleOwner(cm.Annotations[annHolder], cm.Annotations[annHeartbeat], host, self, staleAfter, time.Now()) {
			continue
		}
		id := cm.Labels[labelOwner]
		if id != "" {
			if err := a.deletePods(ctx, labelOwner+"="+id); err != nil {
				errs = append(errs, err)
			}
		}
		if err := a.deleteConfigMap(ctx, cm.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// holderID names this process for the sweep: "<host>@<pid namespace>:<pid>".
// The pid namespace keeps two containers that share a host name (and so
// could share pids) from judging each other's processes.
func holderID() string {
	host, _ := os.Hostname()
	ns, _ := os.Readlink("/proc/self/ns/pid")
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	return fmt.Sprintf("%s@%s:%d", host, ns, os.Getpid())
}

// staleOwner reports whether an owner whose holder is "<host>@<ns>:<pid>" and
// whose last heartbeat is beat (RFC 3339) is gone.
func staleOwner(holder, beat, host, self string, staleAfter time.Duration, now time.Time) bool {
	if holder == self {
		return false
	}
	if h, p, ok := strings.Cut(holder, ":"); ok && h == host {
		if pid, err := strconv.Atoi(p); err == nil && pid > 0 && pid != os.Getpid() {
			if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				return true
			}
		}
	}
	t, err := time.Parse(time.RFC3339, beat)
	return err == nil && now.Sub(t) > staleAfter
}
