package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun"
)

// parseInterspersed parses flags that may come before or after positional
// arguments (sandrun run FILE --lang python), like Go tools do. Arguments
// after "--" are all positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" (consumed) or at the first positional.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// bytesFlag is a size flag with units (256MiB).
type bytesFlag struct{ v *sandrun.Bytes }

func (b bytesFlag) String() string {
	if b.v == nil || *b.v == 0 {
		return ""
	}
	return b.v.String()
}
func (b bytesFlag) Set(s string) error {
	v, err := sandrun.ParseBytes(s)
	if err != nil {
		return err
	}
	if v == 0 {
		return fmt.Errorf("must be greater than zero")
	}
	*b.v = v
	return nil
}

// durationFlag is a duration flag (10s, 500ms; a bare number is seconds).
type durationFlag struct{ v *sandrun.Duration }

func (d durationFlag) String() string {
	if d.v == nil || *d.v == 0 {
		return ""
	}
	return d.v.String()
}
func (d durationFlag) Set(s string) error {
	v, err := sandrun.ParseDuration(s)
	if err != nil {
		return err
	}
	if v == 0 {
		return fmt.Errorf("must be greater than zero")
	}
	*d.v = v
	return nil
}

// limitFlags registers the limit flags shared by run, session and serve.
func limitFlags(fs *flag.FlagSet, l *sandrun.Limits) {
	d := sandrun.DefaultLimits()
	fs.Var(durationFlag{&l.WallTime}, "timeout", "wall-clock limit, e.g. 10s (default "+d.WallTime.String()+")")
	fs.Var(durationFlag{&l.CPUTime}, "cpu", "CPU-time limit (default "+d.CPUTime.String()+")")
	fs.Var(bytesFlag{&l.Memory}, "memory", "memory limit, e.g. 256MiB (default "+d.Memory.String()+")")
	fs.IntVar(&l.Processes, "processes", 0, fmt.Sprintf("process limit (default %d)", d.Processes))
	fs.IntVar(&l.OpenFiles, "open-files", 0, fmt.Sprintf("open-file limit (default %d)", d.OpenFiles))
	fs.Var(bytesFlag{&l.FileSize}, "file-size", "largest file the program may write (default "+d.FileSize.String()+")")
	fs.Var(bytesFlag{&l.Output}, "output", "output cap per stream (default "+d.Output.String()+")")
	fs.Var(bytesFlag{&l.WorkDir}, "workdir-size", "size of the work directory (default "+d.WorkDir.String()+")")
}
