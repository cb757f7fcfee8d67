package lang

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// The languages sandrun knows. Code outside this package uses these names
// (or asks Known) instead of writing the strings itself, so that this
// file stays the one list.
const (
	Python     = "python"
	JavaScript = "javascript"
	Bash       = "bash"
	Starlark   = "starlark"
	// PythonData is python with the scientific stack (a runtime of
	// Python: Info.Of).
	PythonData = "python-data"
)

// Info is what sandrun knows of a language whatever this host has: its
// names, the file its code is written to, and how the container tiers
// install and start it. The Registry adds what the host has (Language).
type Info struct {
	Name string
	// Aliases are the other names requests may use (py, node, sh...),
	// Piston's among them (its package metadata: py3, node-js,
	// node-javascript), so that Piston clients' names resolve.
	Aliases []string
	// FileName is the code's file name in the work directory; a request
	// file may not take it.
	FileName string
	// Extensions are the file extensions that mean this language (the CLI
	// guesses a file's language from them).
	Extensions []string
	// Runtime names the runtime where it differs from the language
	// (Piston reports "node" for javascript).
	Runtime string
	// OOMMarkers are stderr substrings that mean an allocation failed,
	// for tiers and drivers that cannot read a cgroup's OOM counter.
	OOMMarkers []string
	// Packages are the Debian packages a container image needs for it
	// (none for bash, which every image has); ImageArgv is its command
	// line in such an image ({file} and {heap_mib} as in Language.Argv).
	// A language without ImageArgv has no container image.
	Packages  []string
	ImageArgv []string
	// Warm is how a long-lived server keeps the language's start off a
	// run's path: WarmFork (a zygote forks each run), WarmPrestart
	// (one-use interpreters started ahead) or WarmNone.
	Warm Warm

	// Of makes this entry a runtime of another language: the same
	// language (its code, driver, parser, extensions) with another
	// interpreter set-up, such as python with the scientific stack. A
	// request picks it by name, by Request.Runtime, or by its imports
	// (Modules). Empty for a language's own, plain runtime.
	Of string
	// Modules are the top-level modules the runtime has beyond the
	// language's standard library (import names, dependencies included):
	// what `sandrun languages` reports, and what picks the runtime for
	// code that imports one of them.
	Modules []string
	// Preload are modules a zygote of the runtime imports before it forks
	// runs (backend/jail's warm path): shared, already-initialised pages
	// instead of a second of imports per run.
	Preload []string
	// Env are variables the runtime sets on every run, on every tier,
	// below the request's own (which win).
	Env map[string]string
	// Display: the runtime hands back what the program shows (matplotlib
	// figures) as Result.Display items (internal/display).
	Display bool
}

// catalog is read-only: Known and Lookup hand out copies.
var catalog = []Info{
	{
		Name: Python, Aliases: []string{"py", "python3", "py3"}, FileName: "main.py", Extensions: []string{".py"},
		OOMMarkers: []string{"MemoryError"},
		Packages:   []string{"python3"},
		// -E: ignore PYTHON* variables; -s: no user site; -B: no .pyc
		// writes; -u: unbuffered, as on the host (pythonSpec).
		ImageArgv: []string{"/usr/bin/python3", "-E", "-s", "-B", "-u", "{file}"},
		// CPython forks safely after its start (one thread): a zygote.
		Warm: WarmFork,
	},
	{
		Name: JavaScript, Aliases: []string{"js", "node", "nodejs", "node-js", "node-javascript"}, FileName: "main.js",
		Extensions: []string{".js", ".mjs", ".cjs"}, Runtime: "node",
		OOMMarkers: []string{"JavaScript heap out of memory", "Fatal process out of memory", "Reached heap limit"},
		Packages:   []string{"nodejs"},
		ImageArgv:  []string{"/usr/bin/node", "--max-old-space-size={heap_mib}", "{file}"},
		// V8 runs threads of its own: no fork; interpreters started ahead.
		Warm: WarmPrestart,
	},
	{
		Name: Bash, Aliases: []string{"sh"}, FileName: "main.sh", Extensions: []string{".sh", ".bash"},
		OOMMarkers: []string{"xmalloc: cannot allocate", "Cannot allocate memory"},
		ImageArgv:  []string{"/bin/bash", "{file}"},
	},
	{
		Name: Starlark, Aliases: []string{"star", "skylark"}, FileName: "main.star",
		Extensions: []string{".star", ".bzl", ".sky"},
		// A Go runtime at its data-segment cap may also fail to map a new
		// thread's stack.
		OOMMarkers: []string{"out of memory", "cannot allocate memory", "errno=12", "pthread_create failed"},
		// Its interpreter is the Go sandrun binary, which cannot fork
		// safely: interpreters started ahead.
		Warm: WarmPrestart,
	},
	{
		// Debian's python3 with Debian's scientific packages: what a data
		// agent expects (load a CSV, compute, chart), each package from
		// the distribution, so the jail binds /usr and the image installs
		// the same packages.
		Name: PythonData, Of: Python, Aliases: []string{"pydata", "python3-data"}, FileName: "main.py",
		// numpy's allocation failures are MemoryError subclasses; Agg's
		// renderer reports std::bad_alloc.
		OOMMarkers: []string{"MemoryError", "std::bad_alloc"},
		Packages: []string{
			"python3", "python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy",
			"python3-openpyxl", "python3-xlrd", "python3-seaborn", "python3-sklearn", "python3-statsmodels",
			"python3-sympy", "python3-pil", "python3-tabulate", "python3-networkx",
		},
		Modules: []string{
			"numpy", "pandas", "matplotlib", "mpl_toolkits", "scipy", "openpyxl", "xlrd", "seaborn",
			"sklearn", "statsmodels", "patsy", "sympy", "mpmath", "PIL", "tabulate", "networkx",
			"dateutil", "pytz", "joblib", "threadpoolctl", "kiwisolver", "cycler", "pyparsing", "fontTools",
		},
		Preload:   []string{"numpy", "pandas", "matplotlib", "matplotlib.pyplot"},
		ImageArgv: []string{"/usr/bin/python3", "-E", "-s", "-B", "-u", "{file}"},
		// matplotlib's config and font cache in the run's own /tmp; its
		// figures through sandrun's backend (internal/display); its
		// defaults from the package's data (Debian looks in /etc, which
		// the jail does not bind).
		Env: map[string]string{
			"MPLBACKEND": "module://sandrun_display", "MPLCONFIGDIR": "/tmp/matplotlib",
			"MATPLOTLIBRC": "/usr/share/matplotlib/mpl-data/matplotlibrc",
		},
		Display: true,
		Warm:    WarmFork,
	},
}

// Known lists every language sandrun knows, in documentation order.
func Known() []Info {
	out := make([]Info, len(catalog))
	for i, l := range catalog {
		out[i] = l.clone()
	}
	return out
}

// KnownNames lists the canonical names of Known.
func KnownNames() []string {
	out := make([]string, len(catalog))
	for i, l := range catalog {
		out[i] = l.Name
	}
	return out
}

// About returns what sandrun knows of language (a canonical name).
func About(name string) (Info, bool) {
	for _, l := range catalog {
		if l.Name == name {
			return l.clone(), true
		}
	}
	return Info{}, false
}

// Normalize maps an alias (any case, surrounding space ignored) to the
// canonical name; an unknown name comes back lowercased and trimmed.
func Normalize(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, l := range catalog {
		if l.Name == n {
			return n
		}
		for _, a := range l.Aliases {
			if a == n {
				return l.Name
			}
		}
	}
	return n
}

// ByExtension returns the language a file name's extension means, or "".
func ByExtension(file string) string {
	ext := strings.ToLower(filepath.Ext(file))
	for _, l := range catalog {
		for _, e := range l.Extensions {
			if e == ext {
				return l.Name
			}
		}
	}
	return ""
}

func (l Info) clone() Info {
	l.Aliases = append([]string(nil), l.Aliases...)
	l.Extensions = append([]string(nil), l.Extensions...)
	l.OOMMarkers = append([]string(nil), l.OOMMarkers...)
	l.Packages = append([]string(nil), l.Packages...)
	l.ImageArgv = append([]string(nil), l.ImageArgv...)
	l.Modules = append([]string(nil), l.Modules...)
	l.Preload = append([]string(nil), l.Preload...)
	l.Env = maps.Clone(l.Env)
	return l
}

// Base returns the language a runtime runs (Info.Of), or name itself.
func Base(name string) string {
	for _, l := range catalog {
		if l.Name == name && l.Of != "" {
			return l.Of
		}
	}
	return name
}

// Runtimes lists the runtimes of language (a canonical name): its own
// entry first, then the entries whose Of is language, in catalogue order.
func Runtimes(language string) []Info {
	var out []Info
	for _, l := range catalog {
		if l.Name == language {
			out = append([]Info{l.clone()}, out...)
		} else if l.Of == language {
			out = append(out, l.clone())
		}
	}
	return out
}

// RuntimeFor resolves a request's runtime for language: "" or "auto"
// picks by imports (the first runtime of the language whose Modules has
// one of them, else the language's own); "plain" is the language's own
// entry; any other value names a runtime by its entry name or by its
// suffix after the language ("data" for python-data). ok is false when
// no runtime matches.
func RuntimeFor(language, runtime string, imports []string) (Info, bool) {
	rts := Runtimes(language)
	if len(rts) == 0 {
		return Info{}, false
	}
	r := strings.ToLower(strings.TrimSpace(runtime))
	switch r {
	case "", "auto":
		for _, rt := range rts[1:] {
			for _, m := range imports {
				if slices.Contains(rt.Modules, m) {
					return rt, true
				}
			}
		}
		return rts[0], true
	case "plain":
		return rts[0], true
	}
	r = Normalize(r)
	for _, rt := range rts {
		if rt.Name == r || rt.Name == language+"-"+r {
			return rt, true
		}
	}
	return Info{}, false
}
