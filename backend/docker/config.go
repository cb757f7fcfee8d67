package docker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/tarfiles"
	"github.com/sandrun/sandrun/lang"
)

// Recipe is how one language runs in its image: the interpreter path in
// the image, the code's file name, the argv ({file} and {heap_mib} as in
// lang.Language) and the Debian packages the image needs.
type Recipe struct {
	Language   string
	FileName   string
	Argv       []string
	Packages   []string
	OOMMarkers []string
}

// RecipeFor returns the recipe of language, from the language catalogue
// (lang.Info: a language with an ImageArgv has an image).
func RecipeFor(language string) (Recipe, bool) {
	l, ok := lang.About(language)
	if !ok || len(l.ImageArgv) == 0 {
		return Recipe{}, false
	}
	return Recipe{Language: l.Name, FileName: l.FileName, Argv: l.ImageArgv, Packages: l.Packages, OOMMarkers: l.OOMMarkers}, true
}

// ImageLanguages lists the languages the docker tier has images for, in
// the catalogue's order.
func ImageLanguages() []string {
	var out []string
	for _, l := range lang.Known() {
		if len(l.ImageArgv) > 0 {
			out = append(out, l.Name)
		}
	}
	return out
}

// DefaultImage is the tag `sandrun image build` gives language's image,
// or "" when the docker tier cannot run that language.
func DefaultImage(language string) string {
	if _, ok := RecipeFor(language); !ok {
		return ""
	}
	return "sandrun-" + language + ":bookworm"
}

// command returns the program's argv in the image.
func (r Recipe) command(memory int64, args []string) []string {
	heap := memory * 3 / 4 >> 20
	if heap < 8 {
		heap = 8
	}
	rep := strings.NewReplacer("{file}", r.FileName, "{heap_mib}", strconv.FormatInt(heap, 10))
	out := make([]string, 0, len(r.Argv)+len(args))
	for _, a := range r.Argv {
		out = append(out, rep.Replace(a))
	}
	return append(out, args...)
}

// bootScript runs first in the container, as nobody, with the request on
// stdin: a line with the size N of a tar archive, the N bytes of the
// archive (the code file and the request's files), then the program's own
// stdin. It unpacks the archive into /work and execs the program, which
// inherits stdin positioned just after the archive. `read` and `head -c`
// never read past what they need, so no byte of the program's stdin is
// lost. This is how code reaches a container with a read-only root and no
// host mounts in one round trip: CopyToContainer cannot write into a
// tmpfs that only exists once the container runs.
//
// The engine adds HOSTNAME and the shell PWD to the environment; both are
// dropped so that the program sees exactly the allowlist.
const bootScript = `set -e
IFS= read -r n
head -c "$n" | tar -x -f - -C /work
unset PWD OLDPWD %s
`

// bootPayload builds what goes to the container's stdin.
func bootPayload(r Recipe, req *sandrun.Request) ([]byte, error) {
	files := append(req.Files[:len(req.Files):len(req.Files)], sandrun.InputFile{Name: r.FileName, Content: req.Code})
	// Whole seconds: archive/tar rounds to the nearest second, which half
	// the time lands up to 0.5 s in the future, and GNU tar then warns on
	// the program's stderr ("time stamp ... is 0.3 s in the future").
	ar, err := tarfiles.Build(files, time.Now().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(ar)+len(req.Stdin)+16)
	out = strconv.AppendInt(out, int64(len(ar)), 10)
	out = append(out, '\n')
	out = append(out, ar...)
	return append(out, req.Stdin...), nil
}

// uid and gid of nobody in Debian images; numeric, so that no lookup in
// the image's /etc/passwd is needed.
const nobody = "65534:65534"

// containerConfig turns a request into the engine's create body. Every
// hardening field lives here, so that a test can check them without an
// engine.
//
// mark, when not empty, makes the script send /work back after the
// program (see collectTail).
func (b *Backend) containerConfig(r Recipe, req *sandrun.Request, runID string, autoRemove bool, mark string) (*container.Config, *container.HostConfig) {
	lim := req.Limits
	unset := "HOSTNAME"
	if _, ok := req.Env["HOSTNAME"]; ok {
		unset = ""
	}
	script := fmt.Sprintf(bootScript, unset)
	if mark != "" {
		script += fmt.Sprintf(collectTail, mark)
	} else {
		script += `exec "$@"`
	}
	argv := append([]string{"/bin/sh", "-c", script, "sandrun-boot"}, r.command(int64(lim.Memory), req.Args)...)
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8", "TMPDIR=/tmp"}
	for k, v := range req.Env {
		env = append(env, k+"="+v)
	}
	stop := int(b.opts.StopTimeout / time.Second)
	if stop < 1 {
		stop = 1
	}
	cfg := &container.Config{
		Image:           b.Image(r.Language),
		Cmd:             argv,
		Entrypoint:      []string{},
		Env:             env,
		User:            nobody,
		WorkingDir:      "/work",
		Hostname:        "sandrun",
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
		NetworkDisabled: true,
		StopTimeout:     &stop,
		Labels: map[string]string{
			LabelBackend: Name,
			LabelOwner:   b.owner,
			LabelRun:     runID,
		},
	}
	pids := int64(lim.Processes)
	cpuSec := int64((lim.CPUTime.D() + time.Second - 1) / time.Second)
	// The engine copies the image directory's owner and mode onto a tmpfs
	// (tmpcopyup) unless told otherwise: /work belongs to nobody.
	tmpfsOpts := fmt.Sprintf("rw,noexec,nosuid,nodev,size=%d,nr_inodes=%d", int64(lim.WorkDir), inodesFor(lim.WorkDir))
	hc := &container.HostConfig{
		AutoRemove:     autoRemove,
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		IpcMode:        "private",
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges", "seccomp=" + b.seccomp},
		// An init (the engine's docker-init) as pid 1 reaps orphans; the
		// program's own exit status passes through it.
		Init: &yes,
		// The engine's default masks, plus /sys as a whole: nothing of the
		// host's devices, cgroups or kernel knobs.
		MaskedPaths: maskedPaths,
		// Docker opens ICMP "ping" sockets to every group by default.
		Sysctls: map[string]string{"net.ipv4.ping_group_range": "1 0"},
		Tmpfs: map[string]string{
			"/tmp":  tmpfsOpts + ",mode=1777",
			"/work": tmpfsOpts + ",mode=0700,uid=65534,gid=65534",
		},
		ShmSize:    int64(lim.WorkDir),
		LogConfig:  container.LogConfig{Type: "none"},
		Privileged: false,
		Resources: container.Resources{
			Memory:     int64(lim.Memory),
			MemorySwap: int64(lim.Memory), // swap equal to memory: no swap at all
			NanoCPUs:   int64(b.opts.CPUs * 1e9),
			PidsLimit:  &pids,
			Ulimits: []*units.Ulimit{
				{Name: "nofile", Soft: int64(lim.OpenFiles), Hard: int64(lim.OpenFiles)},
				{Name: "fsize", Soft: int64(lim.FileSize), Hard: int64(lim.FileSize)},
				{Name: "core", Soft: 0, Hard: 0},
				// SIGXCPU at the limit, SIGKILL a second later.
				{Name: "cpu", Soft: cpuSec, Hard: cpuSec + 1},
			},
		},
		// No Binds and no Mounts: nothing of the host's filesystem.
	}
	return cfg, hc
}

var yes = true

// maskedPaths are the engine's defaults (a nil list means those) plus /sys.
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap", "/sys",
}

// inodesFor caps a tmpfs's inodes in proportion to its size (one per 4 KiB
// page, at least 1024), so that a program cannot exhaust inodes with
// empty files.
func inodesFor(size sandrun.Bytes) int64 {
	n := int64(size) / 4096
	if n < 1024 {
		n = 1024
	}
	return n
}
