package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
)

func cmdLanguages(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("languages", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return &usageError{err: err}
	}
	a, err := newApp(ctx, config{})
	if err != nil {
		return err
	}
	defer a.Close()
	found, missing := a.langs.All(ctx)
	if *asJSON {
		miss := map[string]string{}
		for k, v := range missing {
			miss[k] = v.Error()
		}
		return json.NewEncoder(env.stdout).Encode(map[string]any{"languages": found, "unavailable": miss})
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LANGUAGE\tVERSION\tINTERPRETER\tPATHS")
	for _, l := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, l.Version, l.Interpreter, strings.Join(l.Paths, ","))
	}
	// A runtime's packages, one line each below the table's rows would
	// widen every column: listed after it.
	defer func() {
		for _, l := range found {
			if len(l.Modules) == 0 {
				continue
			}
			mods := make([]string, 0, len(l.Modules))
			for m, v := range l.Modules {
				mods = append(mods, strings.TrimSpace(m+" "+v))
			}
			sort.Strings(mods)
			fmt.Fprintf(env.stdout, "\n%s (a runtime of %s) has: %s\n", l.Name, l.Of, strings.Join(mods, ", "))
		}
	}()
	var names []string
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t-\tunavailable: %v\t\n", n, missing[n])
	}
	return tw.Flush()
}
