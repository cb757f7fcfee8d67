//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/sandrun/sandrun/backend/docker"
)

// supervisor starts this test binary as `sandrun ARGS...` in a process
// of its own.
func supervisor(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SANDRUN_TEST_CLI=1", "SANDRUN_AUDIT=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// hostProcs lists the host processes whose command line contains s.
func hostProcs(s string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == strconv.Itoa(os.Getpid()) {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if c := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(c, s) {
			out = append(out, e.Name()+": "+c)
		}
	}
	return out
}

// leftovers lists what supervisor pid left on the host: cgroups, mounts,
// work dirs and bundles, containers.
func leftovers(t *testing.T, pid int) []string {
	var out []string
	for _, g := range []string{
		"/sys/fs/cgroup/*/sandrun-*/%d-*", "/sys/fs/cgroup/sandrun-*/%d-*",
		"/sys/fs/cgroup/*/sandrun-gvisor/sandrun-%d-*", "/sys/fs/cgroup/sandrun-gvisor/sandrun-%d-*",
		"/tmp/sandrun-runs-0/process/sandrun-%d-*", "/tmp/sandrun-runs-0/gvisor/runs/sandrun-%d-*",
		"/tmp/sandrun-runs-0/gvisor/state/*sandrun-%d-*",
	} {
		m, _ := filepath.Glob(fmt.Sprintf(g, pid))
		out = append(out, m...)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, fmt.Sprintf("sandrun-%d-", pid)) {
			out = append(out, "mount: "+l)
		}
	}
	out = append(out, hostProcs(fmt.Sprintf("sandrun-%d-", pid))...)
	if cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err == nil {
		defer cli.Close()
		host, _ := os.Hostname()
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", fmt.Sprintf("%s=%s:%d", docker.LabelOwner, host, pid)))})
		if err == nil {
			for _, c := range list {
				out = append(out, "container "+c.ID[:12]+" "+c.State)
			}
		}
	}
	return out
}

// Issue 12 item 5: a supervisor killed with SIGKILL mid-run left process-
// tier programs running for good (parent pid 1), and the container tiers'
// leftovers waited for that tier's next use. A new supervisor sweeps every
// tier at start: nothing of the old run survives.
func TestSupervisorKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts supervisors and sandboxes")
	}
	if os.Geteuid() != 0 {
		t.Skip("the tiers' sweeps need root")
	}
	for i, backend := range []string{"process", "docker", "gvisor"} {
		t.Run(backend, func(t *testing.T) {
			// The program's marker: a sleep that is the host's to see
			// (process, docker) or the sandbox's (gvisor: runsc's
			// processes carry the run id instead).
			n := strconv.Itoa(200000 + os.Getpid()%100000*3 + i)
			code := fmt.Sprintf("setsid sleep %s </dev/null >/dev/null 2>&1 & sleep %s", n, n)
			sup := supervisor(t, "run", "--backend", backend, "--lang", "bash", "--timeout", "200s", "-c", code)
			defer func() { _ = sup.Process.Kill(); _ = sup.Wait() }()
			ready := func() bool {
				if backend == "gvisor" {
					return len(hostProcs(fmt.Sprintf("sandrun-%d-", sup.Process.Pid))) >= 2
				}
				return len(hostProcs("sleep "+n)) >= 2
			}
			deadline := time.Now().Add(90 * time.Second)
			for !ready() {
				if time.Now().After(deadline) {
					t.Skipf("%s: the program did not start within 90 s (tier unavailable here?)", backend)
				}
				if sup.ProcessState != nil {
					t.Fatalf("the supervisor ended early: %v", sup.ProcessState)
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(time.Second) // well inside the run
			if err := sup.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = sup.Wait()
			pid := sup.Process.Pid
			// The next supervisor (any command that builds the app).
			next := supervisor(t, "run", "--backend", "restricted", "--lang", "starlark", "-c", "print(1)")
			if err := next.Wait(); err != nil {
				t.Fatalf("the next supervisor: %v", err)
			}
			var left []string
			for try := 0; try < 20; try++ { // a SIGKILLed process can take a moment to go
				left = append(leftovers(t, pid), hostProcs("sleep "+n)...)
				if len(left) == 0 {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if len(left) > 0 {
				t.Errorf("after supervisor %d was killed and a new one started, left: \n%s", pid, strings.Join(left, "\n"))
			}
		})
	}
}

// Several supervisors share a host: one starting (and sweeping) while
// another is mid-run on each tier must leave that run alone: it finishes
// ok, with its usage figures.
func TestSweepSparesLiveSupervisors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts supervisors and sandboxes")
	}
	if os.Geteuid() != 0 {
		t.Skip("the tiers' sweeps need root")
	}
	for i, backend := range []string{"process", "docker", "gvisor"} {
		t.Run(backend, func(t *testing.T) {
			n := strconv.Itoa(300000 + os.Getpid()%100000*3 + i)
			sup := exec.Command(os.Args[0], "run", "--json", "--backend", backend, "--lang", "bash", "--timeout", "120s",
				"-c", "sleep "+n+" & sleep 3; kill %1; echo finished")
			sup.Env = append(os.Environ(), "SANDRUN_TEST_CLI=1", "SANDRUN_AUDIT=off")
			var out strings.Builder
			sup.Stdout = &out
			if err := sup.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sup.Process.Kill() }()
			deadline := time.Now().Add(90 * time.Second)
			for len(hostProcs("sleep "+n)) == 0 && len(hostProcs(fmt.Sprintf("sandrun-%d-", sup.Process.Pid))) < 2 {
				if time.Now().After(deadline) {
					t.Skipf("%s: the program did not start within 90 s (tier unavailable here?)", backend)
				}
				time.Sleep(100 * time.Millisecond)
			}
			next := supervisor(t, "run", "--backend", "restricted", "--lang", "starlark", "-c", "print(1)")
			if err := next.Wait(); err != nil {
				t.Fatalf("the other supervisor: %v", err)
			}
			err := sup.Wait()
			if err != nil || !strings.Contains(out.String(), `"status": "ok"`) || !strings.Contains(out.String(), `finished`) {
				t.Fatalf("the live run was disturbed by another supervisor's sweep: %v\n%s", err, out.String())
			}
		})
	}
}
