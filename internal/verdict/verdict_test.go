package verdict

import (
	"syscall"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestDecide(t *testing.T) {
	lim := sandrun.Limits{}.WithDefaults()
	cases := []struct {
		name string
		f    Facts
		want sandrun.Status
	}{
		{"ok", Facts{Exited: true}, sandrun.StatusOK},
		{"exit", Facts{Exited: true, ExitCode: 2}, sandrun.StatusExitError},
		{"sigxcpu", Facts{Signal: syscall.SIGXCPU}, sandrun.StatusCPULimit},
		{"hard cpu kill", Facts{Signal: syscall.SIGKILL, CPU: 6 * time.Second}, sandrun.StatusCPULimit},
		{"sigkill early", Facts{Signal: syscall.SIGKILL, CPU: time.Second}, sandrun.StatusSignaled},
		{"sigxfsz", Facts{Signal: syscall.SIGXFSZ}, sandrun.StatusFileSizeLimit},
		{"efbig", Facts{Exited: true, ExitCode: 1, Stderr: "OSError: [Errno 27] File too large"}, sandrun.StatusFileSizeLimit},
		{"oom marker", Facts{Exited: true, ExitCode: 1, Stderr: "MemoryError", OOMMarkers: []string{"MemoryError"}}, sandrun.StatusMemoryLimit},
		{"oom cgroup beats signal", Facts{Signal: syscall.SIGKILL, OOMKilled: true}, sandrun.StatusMemoryLimit},
		{"output beats signal", Facts{Signal: syscall.SIGKILL, Killed: KillOutput, OOMKilled: true}, sandrun.StatusOutputLimit},
		{"timeout", Facts{Signal: syscall.SIGKILL, Killed: KillTimeout}, sandrun.StatusTimeout},
		{"segv", Facts{Signal: syscall.SIGSEGV}, sandrun.StatusSignaled},
		{"ok despite marker", Facts{Exited: true, Stderr: "MemoryError", OOMMarkers: []string{"MemoryError"}}, sandrun.StatusOK},
	}
	for _, c := range cases {
		c.f.Limits = lim
		var r sandrun.Result
		Decide(c.f, &r)
		if r.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, r.Status, c.want)
		}
		if r.Status != sandrun.StatusOK && r.Error == "" {
			t.Errorf("%s: no message", c.name)
		}
		if !c.f.Exited && c.f.Signal != 0 && (r.Signal == "" || r.ExitCode != -1) {
			t.Errorf("%s: signal %q exit %d", c.name, r.Signal, r.ExitCode)
		}
	}
}
