//go:build linux

package jail

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/cgroup"
)

// Diagnose implements sandrun.Diagnoser: one line per layer, for
// `sandrun doctor`.
func (b *Backend) Diagnose(context.Context) []sandrun.Diagnostic {
	var ds []sandrun.Diagnostic
	add := func(name string, err error, ok string) {
		d := sandrun.Diagnostic{Name: "jail/" + name, OK: err == nil, Detail: ok}
		if err != nil {
			d.Detail = err.Error()
		}
		ds = append(ds, d)
	}
	add("user namespaces", probeUserNS(), userNSDetail(b.root))
	if prog, err := buildFilter(); err != nil {
		add("seccomp", err, "")
	} else {
		add("seccomp", nil, fmt.Sprintf("deny-list filter of %d BPF instructions, architecture checked", len(prog)))
	}
	abi := landlockABI()
	var llErr error
	if abi < 6 {
		//lint:ignore ST1005 Landlock is a proper noun
		llErr = fmt.Errorf("Landlock ABI %d; the jail needs 6 (TCP rules from 4, scoped abstract sockets and signals from 6)", abi)
	}
	add("landlock", llErr, fmt.Sprintf("ABI %d: filesystem, TCP and scope rules", abi))
	mode := cgroup.Mode()
	ctrl := cgroup.HostControllers(mode)
	if b.cg != nil {
		add("cgroup", nil, fmt.Sprintf("%s, controllers: %s; per-run groups under %s", mode, ctrl, strings.Join(b.cg.Bases(), ", ")))
	} else if b.opts.downgraded(DowngradeCgroup) {
		add("cgroup", fmt.Errorf("downgraded by the operator (%s, controllers: %s)", orNone(mode), ctrl), "")
	} else {
		_, err := newCgroupManager(b.opts.CgroupParent, nil)
		add("cgroup", fmt.Errorf("%s (mode %s, controllers: %s)", errText(err), orNone(mode), ctrl), "")
	}
	if b.net != nil {
		add("network namespace", nil, "one shared empty namespace (loopback only), joined per run")
	} else {
		add("network namespace", nil, "a new empty namespace per run (the shared one needs root and Landlock ABI 6)")
	}
	for _, d := range b.downgrades {
		ds = append(ds, sandrun.Diagnostic{Name: "jail/downgrade", OK: false, Detail: d})
	}
	return ds
}

func userNSDetail(root bool) string {
	if root {
		return "available; each run maps its one uid to an unused host uid"
	}
	return fmt.Sprintf("available; rootless: the one uid inside maps to uid %d", os.Getuid())
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func errText(err error) string {
	if err == nil {
		return "unavailable"
	}
	return err.Error()
}
