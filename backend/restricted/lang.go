package restricted

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/sandrun/sandrun/lang"
)

// LanguageSpec makes Starlark a language of the OS tiers: its interpreter
// is the sandrun binary selfExe itself, run as "__child starlark-file", so
// that --lang starlark --backend process or jail runs the same runtime as
// the restricted tier, inside the OS sandbox (defence in depth). Pass it in
// lang.Options.Extra.
func LanguageSpec(selfExe string) lang.Spec {
	return lang.Spec{
		Name:       Language,
		Candidates: []string{selfExe},
		FileName:   "main.star",
		Probe: func(ctx context.Context, exe string) (*lang.Language, error) {
			real, err := filepath.EvalSymlinks(exe)
			if err != nil {
				return nil, err
			}
			if real, err = filepath.Abs(real); err != nil {
				return nil, err
			}
			// Ask the binary itself: this fails for a binary that does
			// not know the starlark roles.
			cmd := exec.CommandContext(ctx, real, "__child", RoleProbe)
			cmd.Env = []string{"LANG=C.UTF-8"}
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(errb.Bytes()))
			}
			var p struct{ Version string }
			if err := json.Unmarshal(out.Bytes(), &p); err != nil {
				return nil, fmt.Errorf("unexpected probe output %q", out.String())
			}
			return &lang.Language{
				Version:     p.Version,
				Interpreter: real,
				Paths:       []string{real},
				// {heap_mib}: the interpreter caps its own data segment
				// (Go reserves too much address space for RLIMIT_AS).
				Argv:              []string{real, "__child", RoleFile, "--heap-mib={heap_mib}", "{file}"},
				AddressSpaceLimit: false,
				OOMMarkers:        append([]string(nil), oomMarkers...),
			}, nil
		},
	}
}
