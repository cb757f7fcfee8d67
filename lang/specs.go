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
	return Spec{
		Name:       Python,
		Candidates: []string{"python3", "python"},
		FileName:   fileName(Python),
		DependsOn:  pyenvVersionFiles,
		Facts:      pythonFacts(Python),
		Build: func(exe string, f map[string]string) (*Language, error) {
			return buildPython(exe, f, Python)
		},
	}
}

// pythonDataSpec is python with the scientific stack: Debian's own
// python3, whose dist-packages hold Debian's python3-numpy and the rest
// (the catalogue's Packages). The probe finds each module of the
// catalogue without importing it; a missing one makes the runtime not
// installed, naming the packages to install.
func pythonDataSpec() Spec {
	return Spec{
		Name:       PythonData,
		Candidates: []string{"/usr/bin/python3"},
		FileName:   fileName(PythonData),
		// Installing or removing a package changes these directories.
		DependsOn: func(string) []string {
			return []string{"/usr/lib/python3/dist-packages", "/usr/local/lib"}
		},
		Facts: pythonFacts(PythonData),
		Build: func(exe string, f map[string]string) (*Language, error) {
			l, err := buildPython(exe, f, PythonData)
			if err != nil {
				return nil, err
			}
			// OpenBLAS and glibc reserve address space per thread (about
			// 300 MiB of it for numpy with pandas on two cores, 90 MiB
			// resident): RLIMIT_AS would fail imports that the memory
			// limit allows. The cgroup bounds memory instead, as for V8.
			l.AddressSpaceLimit = false
			// Debian picks the BLAS and LAPACK libraries through
			// /etc/alternatives symlinks; matplotlib lists the fonts
			// with fontconfig's fc-list, which reads its configuration
			// and the system's font cache: the jail binds them too.
			for _, p := range []string{"/etc/alternatives", "/etc/fonts", "/var/cache/fontconfig"} {
				if _, err := os.Stat(p); err == nil {
					l.Paths = append(l.Paths, p)
				}
			}
			return l, nil
		},
	}
}

// pythonProbe prints what python says of itself and, for the modules in
// argv[1:], the version of the distribution that provides each, as
// "module:NAME" ("" when it has no metadata, "-" when it is missing).
const pythonProbe = `import sys, json, importlib.util as u
out = {"exe": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix, "version": sys.version.split()[0]}
if len(sys.argv) > 1:
    from importlib import metadata as md
    dists = md.packages_distributions()
    for m in sys.argv[1:]:
        if u.find_spec(m) is None:
            out["module:" + m] = "-"
            continue
        v = ""
        for d in dists.get(m, []):
            try:
                v = md.version(d)
                break
            except Exception:
                pass
        out["module:" + m] = v
print(json.dumps(out))`

// pythonFacts asks the probe about the catalogue's modules of name.
func pythonFacts(name string) Facts {
	info, _ := About(name)
	return jsonFacts(append([]string{"-c", pythonProbe}, info.Modules...)...)
}

// buildPython makes the Language of a python runtime from its facts; a
// module of the catalogue's that the interpreter lacks makes the runtime
// not installed.
func buildPython(exe string, f map[string]string, name string) (*Language, error) {
	if f["exe"] == "" {
		return nil, fmt.Errorf("python did not report sys.executable")
	}
	info, _ := About(name)
	var missing []string
	mods := map[string]string{}
	for _, m := range info.Modules {
		switch v, ok := f["module:"+m]; {
		case !ok || v == "-":
			missing = append(missing, m)
		default:
			mods[m] = v
		}
	}
	if len(missing) > 0 {
		return nil, &missingError{name: name, exe: exe, modules: missing, packages: info.Packages}
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
		OOMMarkers:        info.OOMMarkers,
		Env:               info.Env,
	}
	if len(mods) > 0 {
		l.Modules = mods
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
}

// missingError: the interpreter runs but lacks modules its runtime
// needs. It means "not installed" (a weaker tier, or an image, may have
// the runtime), not a broken probe.
type missingError struct {
	name, exe string
	modules   []string
	packages  []string
}

func (e *missingError) Error() string {
	return fmt.Sprintf("%s: %s lacks %s (install the Debian packages %s: scripts/setup.d/30-data.sh)",
		e.name, e.exe, strings.Join(e.modules, ", "), strings.Join(e.packages, " "))
}

func (e *missingError) Unwrap() error { return ErrNotInstalled }

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
