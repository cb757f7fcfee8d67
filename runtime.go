package sandrun

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/sandrun/sandrun/internal/display"
	"github.com/sandrun/sandrun/lang"
)

// ImportFinder lists the top-level modules code imports (package analyze
// implements it with the language's parser). The pipeline asks it to pick
// a runtime for code that does not name one.
type ImportFinder interface {
	Imports(language, code string) ([]string, error)
}

// resolveRuntime replaces req.Language (a known language) by the runtime
// that runs it (lang.RuntimeFor): the one the request names, or, for
// "auto", the one whose modules the code imports. Only a language with
// several runtimes is parsed.
func (s *Sandbox) resolveRuntime(req *Request) (lang.Info, error) {
	imports := func() []string { return nil }
	if len(lang.Runtimes(req.Language)) > 1 && s.opts.Imports != nil {
		imports = func() []string {
			// Code that does not parse runs on the plain runtime, where
			// the interpreter reports the error itself.
			mods, _ := s.opts.Imports.Imports(req.Language, req.Code)
			return mods
		}
	}
	rt := strings.ToLower(strings.TrimSpace(req.Runtime))
	var mods []string
	if rt == "" || rt == "auto" {
		mods = imports()
	}
	info, ok := lang.RuntimeFor(req.Language, rt, mods)
	if !ok {
		var names []string
		for _, r := range lang.Runtimes(req.Language) {
			names = append(names, r.Name)
		}
		return lang.Info{}, &RequestError{Field: "runtime", Msg: fmt.Sprintf("%s has no runtime %q (have: auto, plain, %s)", req.Language, req.Runtime, strings.Join(names, ", "))}
	}
	req.Language = info.Name
	return info, nil
}

// checkDisplayFiles refuses request files that would take the display
// module's place or its folder, on runtimes that display.
func checkDisplayFiles(req *Request, info lang.Info) []error {
	if !info.Display {
		return nil
	}
	var errs []error
	for i, f := range req.Files {
		n := path.Clean(f.Name)
		if n == display.ModuleFile || n == display.Dir || strings.HasPrefix(n, display.Dir+"/") {
			errs = append(errs, &RequestError{Field: fmt.Sprintf("files[%d].name", i), Msg: fmt.Sprintf("%q is sandrun's own on the %s runtime (%s, %s/); give the file another name", f.Name, info.Name, display.ModuleFile, display.Dir)})
		}
	}
	return errs
}

// withRuntime gives a one-shot run what its runtime needs on every tier:
// the runtime's variables (below the request's own) and, on a runtime
// that displays, the display module, the figure formats and the display
// stream among the collected files. It works on copies: the caller's
// request is not changed.
func withRuntime(req *Request, info lang.Info) {
	if len(info.Env) > 0 || info.Display {
		env := maps.Clone(info.Env)
		if env == nil {
			env = map[string]string{}
		}
		if info.Display && len(req.FigureFormats) > 0 {
			env[display.FormatsEnv] = strings.Join(req.FigureFormats, ",")
		}
		maps.Copy(env, req.Env)
		req.Env = env
	}
	if !info.Display {
		return
	}
	req.Files = append(slices.Clip(req.Files), InputFile{Name: display.ModuleFile, Content: display.Source()})
	req.Collect = append(slices.Clip(req.Collect), display.Stream)
}

// takeDisplay moves the display stream from the collected files into
// res.Display (checked and capped at the output limit, like a stream),
// and drops the display module should a pattern of the caller's have
// matched it.
func takeDisplay(res *Result, info lang.Info, lim Limits) {
	if !info.Display {
		return
	}
	kept := res.Files[:0]
	for _, f := range res.Files {
		switch f.Name {
		case display.Stream:
			items, notes := display.Parse(f.Content, int64(lim.Output), f.Truncated)
			res.Display = append(res.Display, items...)
			res.Warnings = append(res.Warnings, notes...)
		case display.ModuleFile:
			if string(f.Content) != display.Source() {
				kept = append(kept, f)
			}
		default:
			kept = append(kept, f)
		}
	}
	res.Files = kept
	if len(res.Files) == 0 {
		res.Files = nil
	}
}
