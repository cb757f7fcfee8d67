//go:build linux

package jail

import (
	"context"
	"maps"
	"os"
	"path"
	"sync"
	"syscall"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/capture"
	"github.com/sandrun/sandrun/internal/verdict"
	"github.com/sandrun/sandrun/lang"
)

// Run implements sandrun.Backend.
func (b *Backend) Run(ctx context.Context, req *sandrun.Request) (*sandrun.Result, error) {
	if b.host != nil {
		return nil, b.host
	}
	l, err := b.opts.Languages.Lookup(ctx, req.Language)
	if err != nil {
		return nil, err
	}
	if err := req.Limits.Resolved(); err != nil {
		return nil, err
	}
	lim := req.Limits
	files, err := requestFiles(req.Files, l.FileName, req.Code)
	if err != nil {
		return nil, err
	}
	if res, err, ok := b.runWarm(ctx, req, l, lim, files); ok {
		return res, err
	}
	env := maps.Clone(req.Env)
	if env == nil {
		env = map[string]string{}
	}
	nn, err := b.networkFor(req.Network, env)
	if err != nil {
		return nil, err
	}
	// The output caps may fire before start returns (the copy goroutines
	// start inside it): a kill asked for then is applied once p exists.
	// So may the network caps (the program runs once the config is sent).
	var (
		mu      sync.Mutex
		cur     *proc
		pending string
		netHit  string
	)
	if nn != nil {
		nn.onLimit = func(what string) {
			mu.Lock()
			defer mu.Unlock()
			netHit = what
			if cur != nil {
				cur.kill(verdict.KillNetwork, "")
			}
		}
	}
	over := func(stream string) func() {
		return func() {
			mu.Lock()
			defer mu.Unlock()
			if cur != nil {
				cur.kill(verdict.KillOutput, stream)
			} else if pending == "" {
				pending = stream
			}
		}
	}
	stdout := capture.New("stdout", int64(lim.Output), req.OnOutput, over("stdout"))
	stderr := capture.New("stderr", int64(lim.Output), req.OnOutput, over("stderr"))
	p, err := b.start(&spec{
		lang: l, argv: l.Command("/work/"+l.FileName, int64(lim.Memory), req.Args),
		env: programEnv(l, env), files: files, limits: lim, collect: req.Collect,
		stdin: req.StdinReader(), stdout: stdout, stderr: stderr, net: nn,
	})
	if err != nil {
		nn.stop()
		return nil, err
	}
	mu.Lock()
	cur = p
	if pending != "" {
		p.kill(verdict.KillOutput, pending)
	}
	if netHit != "" {
		p.kill(verdict.KillNetwork, "")
	}
	mu.Unlock()
	done := make(chan struct{})
	go p.watch(done)
	go req.ForwardSignals(done, func(sig os.Signal) {
		if s, ok := sig.(syscall.Signal); ok {
			_ = p.signal(s)
		}
	})
	stop := context.AfterFunc(ctx, func() { p.kill(verdict.KillCancel, "") })
	o := p.wait()
	close(done)
	stop()
	netUsage := nn.stop()
	if o.err != nil {
		return nil, o.err
	}
	res := &sandrun.Result{Downgrades: append([]string(nil), b.downgrades...)}
	res.Stdout, res.Stderr = stdout.Text(), stderr.Text()
	res.StdoutTruncated, res.StderrTruncated = stdout.Overflowed(), stderr.Overflowed()
	f := o.facts(lim, l, string(stderr.Bytes()))
	mu.Lock()
	f.Network = netHit
	mu.Unlock()
	verdict.Decide(f, res)
	res.Usage = o.usage()
	res.Usage.Network = netUsage
	res.Files = o.files
	return res, nil
}

// RunsInteractive implements sandrun.Interactive: the supervisor copies
// Request.Input to the program as it comes, and the init relays signals
// to the program's process group.
func (b *Backend) RunsInteractive() error { return b.host }

// requestFiles turns the request's files and code into files for /work.
func requestFiles(in []sandrun.InputFile, codeName, code string) ([]initFile, error) {
	out := make([]initFile, 0, len(in)+1)
	for _, f := range in {
		b, err := f.Bytes()
		if err != nil {
			return nil, &sandrun.RequestError{Field: "files", Msg: err.Error()}
		}
		// The init writes names component by component and refuses
		// empty and "." ones: the clean name ("x//y" is "x/y").
		out = append(out, initFile{Name: path.Clean(f.Name), Data: b, Mode: 0o644})
	}
	return append(out, initFile{Name: codeName, Data: []byte(code), Mode: 0o644}), nil
}

// programEnv is the program's whole environment: the base, the
// language's variables, then the request's allowlist.
func programEnv(l *lang.Language, extra map[string]string) []string {
	env := map[string]string{
		"PATH":   "/usr/local/bin:/usr/bin:/bin",
		"HOME":   "/work",
		"LANG":   "C.UTF-8",
		"TMPDIR": "/tmp",
	}
	for k, v := range l.Env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
