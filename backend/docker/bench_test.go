package docker_test

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/backend/docker"
)

// BenchmarkRunVsCLI times the tier and the `docker run` CLI (same image,
// the seed's flags) interleaved, one of each per iteration, and reports
// both medians and their ratio: the figure docs/performance.md asks for
// (target <= 0.8). `sandrun bench -only docker` prints the same with
// min and max.
func BenchmarkRunVsCLI(b *testing.B) {
	if testing.Short() {
		b.Skip("slow")
	}
	be := docker.New(docker.Options{})
	defer be.Close()
	ctx := context.Background()
	if err := be.Check(ctx, "python"); err != nil {
		b.Skipf("docker tier unavailable: %v", err)
	}
	cli, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("no docker CLI for the baseline")
	}
	args := []string{"run", "--rm", "-i", "--network=none", "--read-only", "--ipc=private", "--cap-drop=ALL",
		"--security-opt=no-new-privileges", "--user=65534:65534", "--memory=256m", "--memory-swap=256m",
		"--cpus=1", "--pids-limit=64", "--ulimit=nofile=256:256", "--ulimit=fsize=16777216", "--ulimit=core=0",
		"--ulimit=cpu=5", "--tmpfs=/tmp:rw,noexec,nosuid,nodev,size=64m", "--tmpfs=/work:rw,noexec,nosuid,nodev,size=64m,uid=65534,gid=65534,mode=0700",
		"--log-driver=none", be.Image("python"), "/usr/bin/python3", "-c", "print(1)"}
	var tier, base []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
			b.Fatalf("docker run: %v: %s", err, out)
		}
		base = append(base, time.Since(t0))
		t0 = time.Now()
		res, err := be.Run(ctx, &sandrun.Request{Language: "python", Code: "print(1)", Limits: sandrun.Limits{}.WithDefaults()})
		if err != nil || res.Status != sandrun.StatusOK {
			b.Fatalf("tier: %v %+v", err, res)
		}
		tier = append(tier, time.Since(t0))
	}
	mt, mb := median(tier), median(base)
	b.ReportMetric(float64(mt.Milliseconds()), "tier-ms")
	b.ReportMetric(float64(mb.Milliseconds()), "cli-ms")
	b.ReportMetric(float64(mt)/float64(mb), "ratio")
}

func median(d []time.Duration) time.Duration {
	c := slices.Clone(d)
	slices.Sort(c)
	return c[len(c)/2]
}
