//go:build linux

package jail

import (
	"encoding/binary"
	"testing"
)

// TestCLayerCodes: the C init's constants are the Go supervisor's.
func TestCLayerCodes(t *testing.T) {
	layers, kinds, magic, env := cConstants()
	if !haveCInit {
		t.Skip("built without cgo: no C init")
	}
	if magic != configMagic {
		t.Fatalf("config magic or flags differ: C %#x, Go %#x", magic, configMagic)
	}
	for i, c := range layers {
		if Layer(c) != Layer(i+1) || Layer(i+1).String() == "" {
			t.Errorf("C layer %d is %d", i+1, c)
		}
	}
	if len(layers) != len(layerNames) {
		t.Errorf("C has %d layers, Go %d", len(layers), len(layerNames))
	}
	for g, c := range kinds {
		if g != c {
			t.Errorf("frame kind %q is %q in C", g, c)
		}
	}
	if env+"=3" != initEnv {
		t.Errorf("C marker %q, Go environment %q", env, initEnv)
	}
}

// TestConfigEncoding checks the layout parse_config reads on a sample.
func TestConfigEncoding(t *testing.T) {
	c := &initConfig{
		Hostname: "h", UID: 1000, GID: 1001, WorkSize: 5, WorkInodes: 6, CPUSeconds: 7, FileSize: 8, OpenFiles: 9,
		Flags: flagWaitDone, Binds: []bindSpec{{Path: "/usr"}, {Path: "/lib", Symlink: "usr/lib"}},
		Files: []initFile{{Name: "main.py", Data: []byte("x"), Mode: 0o644}}, Argv: []string{"/usr/bin/python3"},
		Landlock: landlockConfig{ABI: 6, Rules: []llPath{{"/work", 3}}}, Seccomp: make([]byte, 16),
	}
	b, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	if binary.NativeEndian.Uint32(b) != configMagic || string(b[8:9]) != "h" {
		t.Fatalf("head % x", b[:16])
	}
	if n := binary.NativeEndian.Uint32(b[len(b)-16-4:]); n != 2 {
		t.Fatalf("seccomp count %d", n)
	}
	c.Seccomp = make([]byte, 12)
	if _, err := c.encode(); err == nil {
		t.Fatal("a partial seccomp instruction was encoded")
	}
	c.Seccomp, c.Env = nil, []string{"A=\x00"}
	if _, err := c.encode(); err == nil {
		t.Fatal("a NUL in the environment was encoded")
	}
}
