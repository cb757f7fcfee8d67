package lang

import (
	"path/filepath"
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
	return l
}
