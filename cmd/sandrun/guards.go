package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun/analyze"
	"github.com/sandrun/sandrun/sanitize"
)

// guardFlags are the flags for what surrounds every run: output
// sanitization rules and static code limits (off unless a limit is set).
type guardFlags struct {
	limits                         analyze.Limits
	sanDisable, sanAllow, sanRules listFlag
}

func (g *guardFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&g.limits.MaxLoops, "max-loops", 0, "static limit: refuse code with more loops (0: no limit)")
	fs.IntVar(&g.limits.MaxCalls, "max-calls", 0, "static limit: refuse code with more call sites (0: no limit)")
	fs.IntVar(&g.limits.MaxDepth, "max-depth", 0, "static limit: refuse code nested deeper (0: no limit)")
	fs.IntVar(&g.limits.MaxStatements, "max-statements", 0, "static limit: refuse code with more statements (0: no limit)")
	fs.IntVar(&g.limits.MaxSize, "max-code-size", 0, "static limit: refuse code larger than this many bytes (0: no limit)")
	fs.Var(&g.sanDisable, "sanitize-disable", "RULE: turn a redaction rule off (repeatable)")
	fs.Var(&g.sanAllow, "sanitize-allow", "VALUE: never redact this exact value (repeatable)")
	fs.Var(&g.sanRules, "sanitize-rule", "NAME=REGEX: add a redaction rule (repeatable)")
}

// apply copies the flags into the app config. A negative static limit is
// a bad request (exit 64), never "no limit".
func (g *guardFlags) apply(cfg *config) error {
	if err := g.limits.Validate(); err != nil {
		return err
	}
	cfg.analyze = g.limits
	cfg.sanitize = sanitize.Options{Disable: g.sanDisable, Allow: g.sanAllow}
	for _, spec := range g.sanRules {
		name, re, ok := strings.Cut(spec, "=")
		if !ok || name == "" || re == "" {
			return &usageError{msg: fmt.Sprintf("--sanitize-rule %q: want NAME=REGEX", spec)}
		}
		cfg.sanitize.Rules = append(cfg.sanitize.Rules, sanitize.CustomRule{ID: name, Regex: re})
	}
	return nil
}
