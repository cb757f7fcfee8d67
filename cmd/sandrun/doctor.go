package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/internal/benchkit"
)

// doctorReport is what `sandrun doctor --json` prints.
type doctorReport struct {
	Host     string               `json:"host"`
	UID      int                  `json:"uid"`
	Backends []doctorBackend      `json:"backends"`
	Auto     map[string]string    `json:"auto"` // language -> backend auto picks, or why none
	Layers   []sandrun.Diagnostic `json:"layers"`
	// Warm is the warm path per language (doctor_warm.go).
	Warm map[string]doctorWarm `json:"warm,omitempty"`
}

type doctorBackend struct {
	Name      string            `json:"name"`
	Languages map[string]string `json:"languages"` // language -> "ok" or why not
}

// cmdDoctor explains the host: which tiers can run which languages and
// why not, every layer probe of the backends that have them
// (sandrun.Diagnoser), and the warm path serve keeps (--warm: started).
func cmdDoctor(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	warm := fs.Bool("warm", false, "start the warm path as serve does (zygotes, prestarted interpreters), run one empty program per language on it, and report what it holds")
	if err := fs.Parse(args); err != nil {
		return &usageError{err: err}
	}
	cfg := config{warm: *warm}
	if *warm {
		cfg.jailPrestart = 1 // as serve: the guests' zygotes start with it
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	rep := doctorReport{Host: benchkit.Machine(), UID: os.Getuid(), Auto: map[string]string{}, Warm: planWarm(a.langs)}
	planGuests(ctx, a, rep.Warm)
	if *warm {
		probeWarm(ctx, a, rep.Warm, 2*time.Minute)
	}
	langs := a.langs.Names()
	for _, b := range a.sandbox.Backends() {
		db := doctorBackend{Name: b.Name(), Languages: map[string]string{}}
		for _, l := range langs {
			if err := b.Check(ctx, l); err != nil {
				db.Languages[l] = err.Error()
			} else {
				db.Languages[l] = "ok"
			}
		}
		rep.Backends = append(rep.Backends, db)
		if d, ok := b.(sandrun.Diagnoser); ok {
			rep.Layers = append(rep.Layers, d.Diagnose(ctx)...)
		}
	}
	if a.audit != nil {
		// The run log: does it open and take writes, and did a process
		// die with runs in flight (interrupted records)?
		rep.Layers = append(rep.Layers, a.audit.Diagnose(ctx)...)
	}
	for _, l := range langs {
		if b, warn, err := a.sandbox.Choose(ctx, "auto", l); err != nil {
			rep.Auto[l] = "none: " + err.Error()
		} else if len(warn) > 0 {
			rep.Auto[l] = b.Name() + " (" + warn[0] + ")"
		} else {
			rep.Auto[l] = b.Name()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(env.stdout, "host: %s, uid %d\n\n", rep.Host, rep.UID)
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tLANGUAGE\tSTATUS")
	for _, b := range rep.Backends {
		for _, l := range langs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, l, b.Languages[l])
		}
	}
	tw.Flush()
	fmt.Fprintln(env.stdout, "\nauto picks:")
	for _, l := range langs {
		fmt.Fprintf(env.stdout, "  %-11s %s\n", l, rep.Auto[l])
	}
	if len(rep.Layers) > 0 {
		fmt.Fprintln(env.stdout, "\nlayers:")
		for _, d := range rep.Layers {
			mark := "ok  "
			switch {
			case d.Warn:
				mark = "WARN"
			case !d.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(env.stdout, "  [%s] %-28s %s\n", mark, d.Name, d.Detail)
		}
	}
	printWarm(env.stdout, rep.Warm, *warm)
	return nil
}
