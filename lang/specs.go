package lang

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resolve follows symlinks so that the jail binds the real file.
func resolve(p string) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(r)
}

// pythonSpec asks the interpreter itself for its executable and prefix, so
// shims (pyenv's is a shell script) resolve to the real binary.
func pythonSpec() Spec {
	const probe = `import sys, json; print(json.dumps({"exe": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix, "version": sys.version.split()[0]}))`
	return Spec{
		Name:       Python,
		Candidates: []string{"python3", "python"},
		FileName:   fileName(Python),
		DependsOn:  pyenvVersionFiles,
		Facts:      jsonFacts("-c", probe),
		Build: func(_ string, f map[string]string) (*Language, error) {
			if f["exe"] == "" {
				return nil, fmt.Errorf("python did not report sys.executable")
			}
			real, err := resolve(f["exe"])
			if err != nil {
				return nil, err
			}
			l := &Language{
				Version:     f["version"],
				Interpreter: real,
				Prefix:      f["base_prefix"],
				// -E: ignore PYTHON* variables; -s: no user site; -B: no
				// .pyc writes; -u: unbuffered, so output printed before a
				// kill is not lost and streaming sees it as it comes.
				Argv:              []string{real, "-E", "-s", "-B", "-u", "{file}"},
				AddressSpaceLimit: true,
				OOMMarkers:        oomMarkers(Python),
			}
			for _, pre := range []string{f["prefix"], f["base_prefix"]} {
				if pre != "" && pre != "/usr" && !strings.HasPrefix(pre, "/usr/") {
					l.Paths = append(l.Paths, pre)
				}
			}
			if !strings.HasPrefix(real, "/usr/") {
				l.Paths = append(l.Paths, filepath.Dir(real))
			}
			return l, nil
		},
	}
}

// jsonFacts runs the interpreter with args; it prints one JSON object of
// strings, the facts Build turns into a Language.
func jsonFacts(args ...string) Facts {
	return Facts{Key: strings.Join(args, "\x00"), Probe: func(ctx context.Context, exe string) (map[string]string, error) {
		var raw map[string]string
		if err := probeJSON(ctx, exe, args, &raw); err != nil {
			return nil, err
		}
		return raw, nil
	}}
}

// pyenvVersionFiles: a pyenv shim picks the version from
// $PYENV_ROOT/version (the probe runs in / without PYENV_VERSION, so no
// per-directory .python-version applies); `pyenv global` rewrites it.
func pyenvVersionFiles(candidate string) []string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		root = filepath.Join(os.Getenv("HOME"), ".pyenv")
	}
	if strings.HasPrefix(candidate, filepath.Join(root, "shims")+"/") {
		return []string{filepath.Join(root, "version")}
	}
	return nil
}

func javascriptSpec() Spec {
	const probe = `console.log(JSON.stringify({exe: process.execPath, version: process.version.replace(/^v/, "")}))`
	return Spec{
		Name:       JavaScript,
		Candidates: []string{"node", "nodejs"},
		FileName:   fileName(JavaScript),
		Facts:      jsonFacts("-e", probe),
		Build: func(_ string, f map[string]string) (*Language, error) {
			real, err := resolve(f["exe"])
			if err != nil {
				return nil, err
			}
			l := &Language{
				Version:     f["version"],
				Interpreter: real,
				// V8 sizes its heap from the flag; the memory limit is
				// applied here because RLIMIT_AS breaks V8's reservations.
				Argv:              []string{real, "--max-old-space-size={heap_mib}", "{file}"},
				AddressSpaceLimit: false,
				OOMMarkers:        oomMarkers(JavaScript),
			}
			if !strings.HasPrefix(real, "/usr/") {
				l.Paths = append(l.Paths, filepath.Dir(filepath.Dir(real)))
			}
			return l, nil
		},
	}
}

func bashSpec() Spec {
	return Spec{
		Name:       Bash,
		Candidates: []string{"bash"},
		FileName:   fileName(Bash),
		Facts:      jsonFacts("-c", `printf '{"version":"%s"}' "${BASH_VERSION%%(*}"`),
		Build: func(exe string, f map[string]string) (*Language, error) {
			real, err := resolve(exe)
			if err != nil {
				return nil, err
			}
			return &Language{
				Version:           f["version"],
				Interpreter:       real,
				Argv:              []string{real, "{file}"},
				AddressSpaceLimit: true,
				OOMMarkers:        oomMarkers(Bash),
			}, nil
		},
	}
}

func fileName(name string) string {
	l, _ := About(name)
	return l.FileName
}

func oomMarkers(name string) []string {
	l, _ := About(name)
	return l.OOMMarkers
}
