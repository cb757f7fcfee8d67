package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/termsafe"
)

// escapeFlag is --escape: whether human mode escapes what the program
// wrote before it reaches the person's terminal (issue 12 item 3).
type escapeFlag string

const (
	escapeAuto   escapeFlag = "auto"   // escape where the stream is a terminal
	escapeAlways escapeFlag = "always" // also into pipes (less -R, tee)
	escapeNever  escapeFlag = "never"  // the program's bytes as they are
)

func (f *escapeFlag) String() string { return string(*f) }

func (f *escapeFlag) Set(s string) error {
	switch v := escapeFlag(s); v {
	case escapeAuto, escapeAlways, escapeNever:
		*f = v
		return nil
	}
	return fmt.Errorf("want auto, always or never")
}

func registerEscape(fs *flag.FlagSet) *escapeFlag {
	f := escapeAuto
	fs.Var(&f, "escape", "auto|always|never: show control characters in the program's output as escapes (auto: when writing to a terminal)")
	return &f
}

// on reports whether output written to w is escaped.
func (f escapeFlag) on(w io.Writer) bool {
	switch f {
	case escapeAlways:
		return true
	case escapeNever:
		return false
	}
	return termsafe.IsTerminal(w)
}

// printHuman writes a result for a person: the program's stdout and
// stderr, what it showed (df: figures written to files, values' text),
// the files it left that were collected, then the verdict on a
// line of its own. On a terminal the program's bytes are escaped and its
// lines that imitate a verdict are marked, and the real verdict is bold,
// which escaped program output cannot imitate. What sandrun itself says
// (the verdict's message, warnings, file names) is always escaped: a
// message can quote the program.
func printHuman(env *cliEnv, res *sandrun.Result, mode escapeFlag, df *displayFlags) error {
	out, err := res.StdoutBytes()
	if err != nil {
		return err
	}
	errb, err := res.StderrBytes()
	if err != nil {
		return err
	}
	writeProgram(env.stdout, out, mode.on(env.stdout))
	onTerm := mode.on(env.stderr)
	writeProgram(env.stderr, errb, onTerm)
	var b strings.Builder
	if df != nil {
		// What the program showed: images as files, values as its text.
		if err := df.show(env.stdout, &b, mode.on(env.stdout), res); err != nil {
			return err
		}
	}
	for _, f := range res.Files {
		fmt.Fprintf(&b, "%s collected %s (%d bytes", termsafe.VerdictPrefix, termsafe.Escape(f.Name), f.Size)
		if f.Truncated {
			b.WriteString(", truncated")
		}
		b.WriteString(")\n")
	}
	b.WriteString(verdictLine(res))
	v := b.String()
	if onTerm {
		v = "\x1b[0;1m" + strings.ReplaceAll(v, "\n", "\x1b[0m\n\x1b[0;1m") + "\x1b[0m"
	}
	_, err = fmt.Fprintln(env.stderr, v)
	return err
}

// writeProgram writes one stream of program output: escaped for a
// terminal, or the bytes as they are, ending with a newline either way
// when it has none, so the verdict starts a line.
func writeProgram(w io.Writer, b []byte, escape bool) {
	if len(b) == 0 {
		return
	}
	if escape {
		_, _ = io.WriteString(w, termsafe.Program(string(b)))
		return
	}
	_, _ = w.Write(b)
	if b[len(b)-1] != '\n' {
		_, _ = io.WriteString(w, "\n")
	}
}
