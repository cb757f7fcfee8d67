package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/docker"
	"github.com/sandrun/sandrun/backend/gvisor"
	"github.com/sandrun/sandrun/internal/benchkit"
	"github.com/sandrun/sandrun/lang"
)

// dockerRunArgs is the seed's hardened `docker run`, flag for flag what
// the docker tier sets through the API, with the default limits.
func dockerRunArgs(image string, argv ...string) []string {
	l := sandrun.DefaultLimits()
	mem := strconv.FormatInt(int64(l.Memory), 10)
	tmpfs := fmt.Sprintf("rw,noexec,nosuid,nodev,size=%d,nr_inodes=%d", int64(l.WorkDir), int64(l.WorkDir)/4096)
	cpu := strconv.FormatInt(int64((l.CPUTime.D()+999_999_999)/1_000_000_000), 10)
	args := []string{"run", "--rm", "-i",
		"--network=none", "--read-only", "--ipc=private", "--cap-drop=ALL",
		"--security-opt=no-new-privileges", "--user=65534:65534", "--hostname=sandrun",
		"--memory=" + mem, "--memory-swap=" + mem, "--cpus=1", "--pids-limit=" + strconv.Itoa(l.Processes),
		"--ulimit=nofile=" + strconv.Itoa(l.OpenFiles) + ":" + strconv.Itoa(l.OpenFiles),
		"--ulimit=fsize=" + strconv.FormatInt(int64(l.FileSize), 10),
		"--ulimit=core=0", "--ulimit=cpu=" + cpu,
		"--tmpfs=/tmp:" + tmpfs + ",mode=1777", "--tmpfs=/work:" + tmpfs + ",mode=0700,uid=65534,gid=65534",
		"--shm-size=" + strconv.FormatInt(int64(l.WorkDir), 10), "--log-driver=none", "--stop-timeout=1",
		"--workdir=/work", image}
	return append(args, argv...)
}

// benchDocker: the docker tier against the docker CLI with the same
// flags, both cold (a new container each time), python print(1).
func benchDocker(ctx context.Context, env *cliEnv, a *app, n int) error {
	b, err := pythonBackend(ctx, a, docker.Name)
	if err != nil {
		return err
	}
	cliPath, err := exec.LookPath("docker")
	if err != nil {
		return fmt.Errorf("the docker CLI (the baseline) is not installed: %w", err)
	}
	image := b.(*docker.Backend).Image(lang.Python)
	args := dockerRunArgs(image, "/usr/bin/python3", "-c", "print(1)")
	base := commandCase("docker run (CLI)", func() *exec.Cmd { return exec.CommandContext(ctx, cliPath, args...) })
	s, err := benchkit.Interleave(n, 3, base, tierCase(ctx, a, docker.Name, lang.Python, "print(1)"))
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "docker tier vs `docker run` with the same flags, python print(1), cold", s)
	return nil
}

// benchGvisor: the gvisor tier against `runsc do`, python print(1). runsc
// do has no limit flags; it runs with runsc's defaults, the same network
// (none) and platform as the tier.
func benchGvisor(ctx context.Context, env *cliEnv, a *app, n int) error {
	b, err := pythonBackend(ctx, a, gvisor.Name)
	if err != nil {
		return err
	}
	g := b.(*gvisor.Backend)
	py, err := a.langs.Lookup(ctx, lang.Python)
	if err != nil {
		return err
	}
	base := commandCase("runsc do", func() *exec.Cmd {
		return exec.CommandContext(ctx, g.Runsc(), "--network=none", "--platform="+g.Platform(), "do", py.Interpreter, "-c", "print(1)")
	})
	s, err := benchkit.Interleave(n, 2, base, tierCase(ctx, a, gvisor.Name, lang.Python, "print(1)"))
	if err != nil {
		return err
	}
	benchkit.Report(env.stdout, "gvisor tier vs `runsc do`, python print(1)", s)
	return nil
}

// commandCase runs the command cmd makes, its output kept for the error.
// The output goes to a fresh pipe, never ours: runsc switches the
// descriptors it gets to non-blocking.
func commandCase(name string, cmd func() *exec.Cmd) benchkit.Case {
	return benchkit.Case{Name: name, Run: func() error {
		c := cmd()
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			return fmt.Errorf("%w: %s", err, out.String())
		}
		return nil
	}}
}

// pythonBackend is the app's backend of that name, ready for python here.
func pythonBackend(ctx context.Context, a *app, name string) (sandrun.Backend, error) {
	b, ok := a.sandbox.Backend(name)
	if !ok {
		return nil, fmt.Errorf("%s backend not registered", name)
	}
	if err := b.Check(ctx, lang.Python); err != nil {
		return nil, err
	}
	return b, nil
}
