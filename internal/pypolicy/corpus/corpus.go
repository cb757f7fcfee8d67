// Package corpus is restricted python's escape corpus: programs that
// break out of RestrictedPython-style and exec-based sandboxes
// (format-string attribute walks, __subclasses__, generator and traceback
// frames, decorators, type.__call__, class bodies, eval through type
// hints, ...). Each one, once out, runs the same payload: read a host
// file, run a process, reach the network, read the environment. The
// policy must refuse every one (internal/pypolicy's tests); with the
// policy off, the jail must contain every payload (backend/restricted's
// tests).
package corpus

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed payload.py escapes/*.py
var files embed.FS

// Kind says what an escape gains once out.
type Kind string

const (
	// Capability: the interpreter's real import function; the payload
	// runs and prints "ESCAPED" and its report.
	Capability Kind = "capability"
	// Disclosure: text (a format string's fields): it prints "ESCAPED"
	// and what it read, the process environment.
	Disclosure Kind = "disclosure"
)

// Escape is one program of the corpus.
type Escape struct {
	Name string
	Kind Kind
	// Code is the escape alone; Program adds the payload.
	Code string
}

// Target is what the payload aims at.
type Target struct {
	SecretFile string // a host file the payload tries to read
	Port       int    // a host TCP port on 127.0.0.1 it tries to reach
	EnvSecret  string // a value in the supervisor's environment it looks for
}

// Program is the runnable program: the target, the payload, the escape.
func (e Escape) Program(t Target) string {
	payload, _ := files.ReadFile("payload.py")
	return fmt.Sprintf("SECRET_FILE = %q\nPORT = %d\nENV_SECRET = %q\n", t.SecretFile, t.Port, t.EnvSecret) + string(payload) + "\n" + e.Code
}

// Escapes lists the corpus, by name.
func Escapes() []Escape {
	ents, _ := files.ReadDir("escapes")
	var out []Escape
	for _, ent := range ents {
		b, _ := files.ReadFile(path.Join("escapes", ent.Name()))
		e := Escape{Name: strings.TrimSuffix(ent.Name(), ".py"), Code: string(b), Kind: Capability}
		if strings.HasPrefix(e.Code, "# kind: disclosure") {
			e.Kind = Disclosure
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
