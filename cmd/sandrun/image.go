package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun/backend/docker"
)

// cmdImage builds the docker tier's images on hosts that reach no
// registry: debootstrap --variant=minbase plus the language's Debian
// packages, imported into the engine. Builds are cached: an image whose
// recipe label matches is kept, and the root filesystem and the .debs stay
// in the cache directory for the next build.
func cmdImage(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "build" {
		return &usageError{msg: "usage: sandrun image build [--force] [--cache-dir DIR] [--mirror URL] LANG... (python, javascript, bash, all)"}
	}
	fs := flag.NewFlagSet("image build", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var o docker.BuildOptions
	fs.StringVar(&o.CacheDir, "cache-dir", "/var/cache/sandrun", "where the .debs and root filesystems are kept between builds")
	fs.StringVar(&o.Mirror, "mirror", "", "Debian mirror (default: the one apt uses)")
	fs.StringVar(&o.Suite, "suite", "bookworm", "Debian release")
	fs.BoolVar(&o.Force, "force", false, "rebuild even when a current image exists")
	quiet := fs.Bool("q", false, "do not print debootstrap's progress")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{msg: "image build: name a language (python, javascript, bash) or all"}
	}
	if len(pos) == 1 && pos[0] == "all" {
		pos = docker.ImageLanguages()
	}
	if !*quiet {
		o.Log = env.stderr
	}
	b := docker.New(docker.Options{})
	defer b.Close()
	for _, l := range pos {
		l = strings.TrimSpace(l)
		if _, ok := docker.RecipeFor(l); !ok {
			return &usageError{msg: fmt.Sprintf("image build: no recipe for %q (have python, javascript, bash)", l)}
		}
		res, err := b.BuildImage(ctx, l, o)
		if err != nil {
			return fmt.Errorf("building the %s image: %w", l, err)
		}
		state := "tagged from " + docker.RuntimeImage
		switch {
		case res.Cached:
			state = "up to date"
		case res.Imported:
			state = "built"
		}
		fmt.Fprintf(env.stdout, "%s\t%s\t%s (recipe %s, %s)\n", l, res.Image, state, res.Recipe, res.Duration.Round(1e6))
	}
	return nil
}
