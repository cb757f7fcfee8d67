//go:build linux

package attacks

import (
	"log/slog"
	"testing"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/jail"
	"github.com/sandrun/sandrun/lang"
)

// TestCorpusDetectsMissingLayers runs cases against a jail with one layer
// explicitly downgraded (turned off) and requires them to FAIL: a case
// that passes without the layer it is about does not test that layer.
// The process tier's known gaps show the same for the other layers (the
// filesystem, namespace and network cases escape there).
func TestCorpusDetectsMissingLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cases against downgraded jails; skipped under -short")
	}
	h := newHarness(t)
	byNum := map[int]*attackCase{}
	for _, c := range h.cases {
		byNum[c.Num] = c
	}
	for _, m := range []struct {
		layer string
		cases []int // each must fail without the layer
	}{
		// ptrace, process_vm_readv, keyctl, io_uring, the admin calls,
		// clone3 and netlink sockets are all allowed to an unprivileged
		// user in its own namespaces: only the filter stops them.
		{jail.DowngradeSeccomp, []int{15, 16, 19, 21, 22, 27, 44}},
		// Without cgroups, nothing caps the number of processes of the
		// run or charges its tmpfs pages to it.
		{jail.DowngradeCgroup, []int{28, 30}},
	} {
		t.Run("without-"+m.layer, func(t *testing.T) {
			tr := &tier{
				name:     jail.Name,
				backend:  jail.Name,
				required: true,
				open: func(t *testing.T, _ string) (sandrun.Backend, error) {
					b, err := jail.New(jail.Options{
						Languages: lang.NewRegistry(lang.Options{}),
						Downgrade: []string{m.layer},
						Logger:    slog.New(slog.DiscardHandler),
					})
					if err == nil {
						t.Cleanup(func() { _ = b.Close() })
					}
					return b, err
				},
				ownsCgroup: jailTier(0).ownsCgroup,
			}
			sb := h.open(t, tr)
			for _, n := range m.cases {
				bad, seen := h.runCase(sb, tr, byNum[n])
				if len(bad) == 0 {
					t.Errorf("case %d (%s) passed against a jail without %s (status %s): it does not test that layer",
						n, byNum[n].Title, m.layer, seen)
				} else {
					t.Logf("case %d fails without %s, as it must: %s", n, m.layer, bad[0])
				}
			}
		})
	}
}
