package driver

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
)

// Program mode: a one-use interpreter started ahead of its run (a warm
// pool's), which then runs one program as its main file, exactly as
// `INTERPRETER FILE ARGS` would: the real standard streams (stdin is what
// follows the run's frame on fd 0), the real exit. Unlike the step
// drivers, nothing of sandrun runs beside the program. Only languages
// whose interpreter can wait before loading its main file have it (node,
// through a preloaded module; Starlark, whose interpreter is sandrun's
// own file runner, with a flag: WaitProgram).

//go:embed program.js
var programNode string

// ProgramReady is what a program-mode interpreter writes to its stderr
// once it has started and waits for its run; nothing precedes it there.
const ProgramReady = "\x00sandrun-program-ready\n"

// programFile is the preloaded module's name in /work (it deletes itself).
const programFile = ".sandrun-program.js"

// RoleStarlarkFile is the child role (`sandrun __child starlark-file
// [--program] [--heap-mib N] FILE`) that runs one Starlark file as its
// interpreter on the OS tiers (backend/restricted runs it); --program
// makes it wait for its run first (WaitProgram).
const RoleStarlarkFile = "starlark-file"

// Program is the run a program-mode interpreter waits for.
type Program struct {
	// Args are the program's arguments; Env the run's variables, on top
	// of the environment the interpreter was launched with (the tier's
	// base, as for a cold start).
	Args []string          `json:"args"`
	Env  map[string]string `json:"env"`
	// ExecArgv are the interpreter's own flags as a cold start would
	// show them (node's process.execArgv).
	ExecArgv []string `json:"execArgv"`
}

// ProgramArgs returns the interpreter arguments that start language in
// program mode with main (a path relative to the work directory) as its
// main file, the files the launch puts in
// /work for it, and the flags a cold start would have had; ok is false
// when the language has no program mode.
func ProgramArgs(language, main string, memory int64) (args []string, files []sandrun.InputFile, execArgv []string, ok bool) {
	switch language {
	case lang.JavaScript:
	case lang.Starlark:
		// The cold command line (backend/restricted's LanguageSpec: the
		// same file runner, the same heap as lang's {heap_mib}), waiting
		// for its run before it reads the file.
		return []string{"__child", RoleStarlarkFile, "--program", fmt.Sprintf("--heap-mib=%d", max(memory*3/4>>20, 8)), main}, nil, nil, true
	default:
		return nil, nil, nil, false
	}
	heap := fmt.Sprintf("--max-old-space-size=%d", max(memory*3/4>>20, 8))
	// Paths relative to the work directory (the launch's cwd on every
	// tier), which node resolves to what a cold start shows.
	return []string{heap, "-r", "./" + programFile, main},
		[]sandrun.InputFile{{Name: programFile, Content: programNode}}, []string{heap}, true
}

// ProgramWarmable reports whether a run with this environment can use a
// program-mode interpreter: variables the interpreter read at its start
// (node's options) would be missed.
func ProgramWarmable(env map[string]string) bool {
	for k := range env {
		if strings.HasPrefix(k, "NODE_") && k != "NODE_PATH" {
			return false
		}
	}
	return true
}

// WaitProgram is the interpreter's side of program mode for a runner
// written in Go: it says it is ready on stderr, then reads the run's
// frame from stdin (what follows it is the program's stdin). io.EOF: the
// supervisor gave up on this interpreter before any run.
func WaitProgram(stdin io.Reader, stderr io.Writer) (*Program, error) {
	if _, err := io.WriteString(stderr, ProgramReady); err != nil {
		return nil, err
	}
	b, err := readRaw(stdin, 64<<20)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if err != nil {
		return nil, err
	}
	var p Program
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("the run's frame: %w", err)
	}
	return &p, nil
}

// ProgramFrame is the run as the interpreter reads it from fd 0.
func ProgramFrame(p Program) ([]byte, error) {
	if p.Env == nil {
		p.Env = map[string]string{}
	}
	if p.Args == nil {
		p.Args = []string{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...), nil
}
