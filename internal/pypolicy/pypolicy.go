// Package pypolicy is restricted python's language policy: policy.py, a
// RestrictedPython-style layer over real CPython (compile-time checks and
// rewrites from the ast, guarded built-ins, an import allowlist of module
// views, a step budget), run as a guest (internal/guest) in the jail's
// warm path. This package holds the python source and the Go side of its
// config and report; backend/restricted runs it.
package pypolicy

import (
	_ "embed"
	"encoding/json"

	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/internal/pytb"
	"github.com/sandrun/sandrun/lang"
)

//go:embed policy.py
var policySource string

// source is the guest module: internal/pytb's traceback helpers, then
// policy.py.
var source = pytb.Source + policySource

// GuestName names the restricted python guest.
const GuestName = "restricted-python"

// Module is the name the policy is imported under in the guest zygote.
const Module = "sandrun_rpolicy"

// Guest is the policy as a guest of the jail's warm path.
func Guest() guest.Spec {
	return guest.Spec{
		Name:     GuestName,
		Language: lang.Python,
		Modules:  []guest.Module{{Name: Module, Source: source}},
		Entry:    Module + ".main",
		Prepare:  Module + ".prepare",
	}
}

// Source is policy.py (tests run it outside the jail).
func Source() string { return source }

// Config is one run's config, read by policy.py's main().
type Config struct {
	// Mode "session" serves steps in a persistent namespace over the
	// driver protocol (internal/driver) on stdin and stdout; empty runs
	// Code once.
	Mode     string `json:"mode,omitempty"`
	Code     string `json:"code"`
	FileName string `json:"filename"`
	// Policy false runs the code as plain python, with the real
	// built-ins: only tests set it, to show that the jail under the
	// policy holds on its own.
	Policy bool `json:"policy"`
	// Host is the restricted tier's host declarations ([]hostDecl).
	Host json.RawMessage `json:"host,omitempty"`
	// Modules are allowlisted modules bound as globals without an import
	// (the Starlark tier's predeclared modules: math, json).
	Modules          []string `json:"modules,omitempty"`
	MaxSteps         uint64   `json:"max_steps"`
	MaxHostArgBytes  int      `json:"max_host_arg_bytes"`
	MaxVariableBytes int      `json:"max_variable_bytes"`
}

// Done is the policy's report at the end of a run (a D frame). It comes
// from the program's own process: the caller trusts it only as far as
// the program's own result goes.
type Done struct {
	// Status is ok, exit_error, compile_error (refused or does not
	// parse), cpu_limit (the step budget) or internal_error.
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	Exit      int             `json:"exit"`
	Variables json.RawMessage `json:"variables,omitempty"`
}

// AllowedModules lists the modules a program may import (policy.py's
// ALLOWED_MODULES; TestAllowedModulesMatch keeps them equal).
func AllowedModules() []string {
	return []string{"bisect", "cmath", "collections", "dataclasses", "datetime", "decimal", "enum", "fractions",
		"functools", "heapq", "itertools", "json", "math", "operator", "random", "re", "statistics",
		"string", "textwrap", "typing"}
}
