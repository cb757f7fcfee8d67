package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandrun/sandrun"
)

func TestContainerConfigHardening(t *testing.T) {
	b := New(Options{})
	req := &sandrun.Request{Language: "python", Code: "print(1)", Env: map[string]string{"FOO": "bar"},
		Limits: sandrun.Limits{Memory: 128 << 20, Processes: 32, CPUTime: sandrun.Duration(1500 * time.Millisecond)}.WithDefaults()}
	cfg, hc := b.containerConfig(recipe(t, "python"), req, "run1", true, "")
	lim := req.Limits
	checks := []struct {
		name string
		ok   bool
	}{
		{"auto-remove", hc.AutoRemove},
		{"network none", hc.NetworkMode == "none" && cfg.NetworkDisabled},
		{"read-only root", hc.ReadonlyRootfs},
		{"private ipc", hc.IpcMode == "private"},
		{"cap drop ALL", slices.Equal(hc.CapDrop, []string{"ALL"}) && len(hc.CapAdd) == 0},
		{"no-new-privileges", slices.Contains(hc.SecurityOpt, "no-new-privileges")},
		{"hardened seccomp profile", slices.ContainsFunc(hc.SecurityOpt, func(s string) bool {
			return strings.HasPrefix(s, "seccomp={") && !strings.Contains(s, "unconfined") && strings.Contains(s, `"defaultAction":"SCMP_ACT_ERRNO"`)
		})},
		{"init reaps orphans", hc.Init != nil && *hc.Init},
		{"/sys masked", slices.Contains(hc.MaskedPaths, "/sys")},
		{"no ping sockets", hc.Sysctls["net.ipv4.ping_group_range"] == "1 0"},
		{"not privileged", !hc.Privileged},
		{"user nobody", cfg.User == "65534:65534"},
		{"memory", hc.Memory == int64(lim.Memory)},
		{"swap equal to memory", hc.MemorySwap == hc.Memory},
		{"cpu quota", hc.NanoCPUs == 1e9},
		{"pids limit", hc.PidsLimit != nil && *hc.PidsLimit == 32},
		{"no binds", len(hc.Binds) == 0 && len(hc.Mounts) == 0 && len(hc.VolumesFrom) == 0},
		{"tmpfs /tmp capped", strings.Contains(hc.Tmpfs["/tmp"], "size=67108864")},
		{"tmpfs /work capped", strings.Contains(hc.Tmpfs["/work"], "size=67108864") && strings.Contains(hc.Tmpfs["/work"], "noexec")},
		{"stop timeout", cfg.StopTimeout != nil && *cfg.StopTimeout == 1},
		{"no log driver", hc.LogConfig.Type == "none"},
		{"labels", cfg.Labels[LabelBackend] == Name && cfg.Labels[LabelRun] == "run1" && cfg.Labels[LabelOwner] != ""},
		{"image", cfg.Image == "sandrun-python:bookworm"},
		{"env allowlist", slices.Contains(cfg.Env, "FOO=bar") && len(cfg.Env) == 5},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not set as required", c.name)
		}
	}
	ul := map[string][2]int64{}
	for _, u := range hc.Ulimits {
		ul[u.Name] = [2]int64{u.Soft, u.Hard}
	}
	want := map[string][2]int64{
		"nofile": {int64(lim.OpenFiles), int64(lim.OpenFiles)},
		"fsize":  {int64(lim.FileSize), int64(lim.FileSize)},
		"core":   {0, 0},
		"cpu":    {2, 3}, // 1.5s rounds up to 2
	}
	for k, v := range want {
		if ul[k] != v {
			t.Errorf("ulimit %s = %v, want %v", k, ul[k], v)
		}
	}
}

func TestImageOverride(t *testing.T) {
	b := New(Options{Images: map[string]string{"python": "my/python:3"}})
	if b.Image("python") != "my/python:3" || b.Image("bash") != "sandrun-bash:bookworm" {
		t.Fatalf("images: %s %s", b.Image("python"), b.Image("bash"))
	}
	if DefaultImage("starlark") != "" {
		t.Fatal("starlark has no image")
	}
}

// TestBootPayload checks the stdin protocol: a size line, a tar with the
// code and the files, then the program's stdin untouched.
func TestBootPayload(t *testing.T) {
	req := &sandrun.Request{Code: "print(1)", Stdin: "line1\nline2",
		Files: []sandrun.InputFile{{Name: "data/in.txt", Content: "aGk=", Encoding: "base64"}}}
	p, err := bootPayload(recipe(t, "python"), req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(p))
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	archive := make([]byte, n)
	if _, err := io.ReadFull(br, archive); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != req.Stdin {
		t.Fatalf("stdin after the archive = %q", rest)
	}
	got := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = string(body)
	}
	if got["main.py"] != "print(1)" || got["data/in.txt"] != "hi" {
		t.Fatalf("archive = %v", got)
	}
	if _, ok := got["data/"]; !ok {
		t.Fatalf("missing directory entry: %v", got)
	}
}

func TestBootPayloadRejectsBadNames(t *testing.T) {
	for _, name := range []string{"../x", "/etc/passwd", ""} {
		req := &sandrun.Request{Code: "x", Files: []sandrun.InputFile{{Name: name, Content: "x"}}}
		if _, err := bootPayload(recipe(t, "bash"), req); err == nil {
			t.Errorf("file name %q accepted", name)
		}
	}
}

func TestStaleOwner(t *testing.T) {
	cases := []struct {
		owner string
		want  bool
	}{
		{"h:1", false},          // pid 1 is alive
		{"other:999999", false}, // another host
		{"h:notapid", false},    // garbage
		{"h:2147483646", true},  // no such pid
		{"h:self", false},       // garbage
		{"", false},             // no label
		{"h:4194303", true},     // pid_max, unused
		{"h:12:34", false},      // malformed
	}
	for _, c := range cases {
		if got := stale(c.owner, "h", "h:self"); got != c.want {
			t.Errorf("stale(%q) = %v, want %v", c.owner, got, c.want)
		}
	}
}

func TestMirrorIn(t *testing.T) {
	deb822 := "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n"
	if m := mirrorIn(deb822); m != "http://mirror.example/debian" {
		t.Errorf("deb822: %q", m)
	}
	one := "# comment\ndeb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64] http://x.example/debian/ bookworm main\n"
	if m := mirrorIn(one); m != "http://x.example/debian" {
		t.Errorf("one-line: %q", m)
	}
	if m := mirrorIn(""); m != "" {
		t.Errorf("empty: %q", m)
	}
}

// TestAbsentEngine: no dockerd is not an error of the constructor; Check
// says why, and Run refuses.
func TestAbsentEngine(t *testing.T) {
	b := New(Options{Host: "unix:///nonexistent/docker.sock"})
	defer b.Close()
	err := b.Check(t.Context(), "python")
	if err == nil || !strings.Contains(err.Error(), "dockerd is not reachable") {
		t.Fatalf("Check = %v", err)
	}
	if err := b.Check(t.Context(), "starlark"); err == nil || !strings.Contains(err.Error(), "no image recipe") {
		t.Fatalf("starlark: %v", err)
	}
	if _, err := b.Run(t.Context(), &sandrun.Request{Language: "python", Code: "print(1)", Limits: sandrun.Limits{}.WithDefaults()}); err == nil {
		t.Fatal("Run without an engine succeeded")
	}
	d := b.Diagnose(t.Context())
	if len(d) != 1 || d[0].OK {
		t.Fatalf("Diagnose = %+v", d)
	}
}

func recipe(t *testing.T, language string) Recipe {
	t.Helper()
	r, ok := RecipeFor(language)
	if !ok {
		t.Fatalf("no recipe for %s", language)
	}
	return r
}
