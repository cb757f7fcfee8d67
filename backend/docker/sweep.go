package docker

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// sweep force-removes this tier's containers whose supervisor (the owner
// label: this host's name and a pid) is no longer running: what a crash
// left. Containers of other hosts sharing the engine, and of live
// supervisors, are never touched.
func sweep(ctx context.Context, cli *client.Client, self string) (int, error) {
	list, err := cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelBackend+"="+Name)),
	})
	if err != nil {
		return 0, err
	}
	host, _, _ := strings.Cut(self, ":")
	n := 0
	var errs []error
	for _, c := range list {
		if !stale(c.Labels[LabelOwner], host, self) {
			continue
		}
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// stale reports whether a container whose owner label is owner was left
// by a dead supervisor on this host.
func stale(owner, host, self string) bool {
	h, p, ok := strings.Cut(owner, ":")
	if !ok || h != host || owner == self {
		return false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH) && pid != os.Getpid()
}
