package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
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
			return nil, &usageError{err: err}
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

// limitInput is the limit flags of one command. A bad value does not
// stop flag parsing: it is kept and reported by check as a request error
// naming the limit (exit 64, as the API's 400), so that "--open-files 0"
// is refused rather than read as "the default".
type limitInput struct {
	l    *sandrun.Limits
	errs []error
}

// limitValue is one limit flag.
type limitValue struct {
	in    *limitInput
	field string // limits.<field>
	flag  string
	parse func(string) (int64, error)
	set   func(int64)
	shown string
}

func (v *limitValue) String() string { return v.shown }

func (v *limitValue) Set(s string) error {
	n, err := v.parse(s)
	switch {
	case err != nil:
		v.in.errs = append(v.in.errs, &sandrun.RequestError{Field: "limits." + v.field, Msg: fmt.Sprintf("--%s %q: %v", v.flag, s, err)})
	case n <= 0:
		v.in.errs = append(v.in.errs, &sandrun.RequestError{Field: "limits." + v.field,
			Msg: fmt.Sprintf("--%s %s: must be greater than zero (leave the flag out for the default)", v.flag, s)})
	default:
		v.set(n)
		v.shown = s
	}
	return nil
}

// check reports the bad values given, every one.
func (in *limitInput) check() error { return errors.Join(in.errs...) }

// limitFlags registers the limit flags shared by run, session and repl.
func limitFlags(fs *flag.FlagSet, l *sandrun.Limits) *limitInput {
	in := &limitInput{l: l}
	d := sandrun.DefaultLimits()
	dur := func(s string) (int64, error) { v, err := sandrun.ParseDuration(s); return int64(v), err }
	byt := func(s string) (int64, error) { v, err := sandrun.ParseBytes(s); return int64(v), err }
	num := func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }
	add := func(flag, field string, parse func(string) (int64, error), set func(int64), usage string) {
		fs.Var(&limitValue{in: in, field: field, flag: flag, parse: parse, set: set}, flag, usage)
	}
	add("timeout", "wall_time", dur, func(v int64) { l.WallTime = sandrun.Duration(v) }, "wall-clock limit, e.g. 10s (default "+d.WallTime.String()+")")
	add("cpu", "cpu_time", dur, func(v int64) { l.CPUTime = sandrun.Duration(v) }, "CPU-time limit (default "+d.CPUTime.String()+")")
	add("memory", "memory", byt, func(v int64) { l.Memory = sandrun.Bytes(v) }, "memory limit, e.g. 256MiB (default "+d.Memory.String()+")")
	add("processes", "processes", num, func(v int64) { l.Processes = int(v) }, fmt.Sprintf("process limit (default %d)", d.Processes))
	add("open-files", "open_files", num, func(v int64) { l.OpenFiles = int(v) }, fmt.Sprintf("open-file limit (default %d)", d.OpenFiles))
	add("file-size", "file_size", byt, func(v int64) { l.FileSize = sandrun.Bytes(v) }, "largest file the program may write (default "+d.FileSize.String()+")")
	add("output", "output", byt, func(v int64) { l.Output = sandrun.Bytes(v) }, "output cap per stream (default "+d.Output.String()+")")
	add("workdir-size", "work_dir", byt, func(v int64) { l.WorkDir = sandrun.Bytes(v) }, "size of the work directory (default "+d.WorkDir.String()+")")
	return in
}
