package docker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Image labels: the recipe hash tells a current image from a stale one.
const (
	LabelRecipe   = "io.sandrun.recipe"
	LabelLanguage = "io.sandrun.language"
)

// recipeVersion changes when the build steps change, so that every cached
// image and rootfs is rebuilt.
const recipeVersion = "1"

// BuildOptions configure BuildImage.
type BuildOptions struct {
	// CacheDir keeps the downloaded .debs and the built root filesystems
	// between builds; default /var/cache/sandrun.
	CacheDir string
	// Mirror is the Debian mirror; default: the first one in
	// /etc/apt/sources.list*, else http://deb.debian.org/debian.
	Mirror string
	// Suite is the Debian release; default bookworm.
	Suite string
	// Tag is the image name; default DefaultImage(language).
	Tag string
	// Force rebuilds even when a current image exists.
	Force bool
	// Log receives progress lines (debootstrap's output included).
	Log io.Writer
}

// BuildResult says what BuildImage did.
type BuildResult struct {
	Image    string
	Recipe   string
	Cached   bool // the image existed with the same recipe: nothing done
	Imported bool // the root filesystem was imported (else only tagged)
	Rootfs   string
	Duration time.Duration
}

// runtimePackages is what the one root filesystem behind every language's
// image holds on top of minbase (which has bash): one debootstrap instead
// of one per language keeps the first CI build to a few minutes.
func runtimePackages() []string {
	var ps []string
	for _, l := range ImageLanguages() {
		r, _ := RecipeFor(l)
		ps = append(ps, r.Packages...)
	}
	return ps
}

// RuntimeImage is the image every default language tag points to.
const RuntimeImage = "sandrun-runtimes:bookworm"

// recipeHash identifies what an image contains: the suite, the packages
// and the build steps. The mirror is left out: any mirror serves the same
// packages.
func recipeHash(suite string) string {
	h := sha256.Sum256([]byte(strings.Join(append([]string{recipeVersion, suite}, runtimePackages()...), "\x00")))
	return hex.EncodeToString(h[:])[:16]
}

// BuildImage builds language's image with debootstrap --variant=minbase
// and the languages' Debian packages, and imports it into the engine: for
// hosts that reach no registry. One root filesystem serves every language
// (RuntimeImage, tagged once per language). An image with the same recipe
// label is kept (Cached); the root filesystem is cached under CacheDir so
// that a rebuild after `docker system prune` only re-imports.
func (b *Backend) BuildImage(ctx context.Context, language string, opts BuildOptions) (*BuildResult, error) {
	if _, ok := RecipeFor(language); !ok {
		return nil, fmt.Errorf("no image recipe for %q (have python, javascript, bash)", language)
	}
	if opts.CacheDir == "" {
		opts.CacheDir = "/var/cache/sandrun"
	}
	if opts.Suite == "" {
		opts.Suite = "bookworm"
	}
	if opts.Mirror == "" {
		opts.Mirror = AptMirror()
	}
	if opts.Tag == "" {
		opts.Tag = DefaultImage(language)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// The root filesystems have world-writable /tmp, /var/tmp and
	// /run/lock: reachable by other users (a process-tier run), files
	// planted there would go into the next image. Only root may enter.
	if err := privateRootfsDir(opts.CacheDir); err != nil {
		return nil, err
	}
	t0 := time.Now()
	hash := recipeHash(opts.Suite)
	res := &BuildResult{Image: opts.Tag, Recipe: hash}
	cli, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	if !opts.Force {
		if ins, err := cli.ImageInspect(ctx, opts.Tag); err == nil && ins.Config != nil && ins.Config.Labels[LabelRecipe] == hash {
			res.Cached = true
			res.Duration = time.Since(t0)
			return res, nil
		}
	}
	base := RuntimeImage
	if ins, err := cli.ImageInspect(ctx, base); opts.Force || err != nil || ins.Config == nil || ins.Config.Labels[LabelRecipe] != hash {
		rootfs, err := buildRootfs(ctx, hash, opts)
		if err != nil {
			return nil, err
		}
		res.Rootfs = rootfs
		fmt.Fprintf(opts.Log, "importing %s as %s\n", rootfs, base)
		if err := importRootfs(ctx, cli, rootfs, base, []string{
			"LABEL " + LabelRecipe + "=" + hash,
			"ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8",
			"WORKDIR /work",
		}); err != nil {
			return nil, err
		}
		res.Imported = true
	}
	if opts.Tag != base {
		if err := cli.ImageTag(ctx, base, opts.Tag); err != nil {
			return nil, fmt.Errorf("tagging %s as %s: %w", base, opts.Tag, err)
		}
	}
	b.checkMu.Lock()
	b.images = map[string]error{} // Check must see the new image
	b.checkMu.Unlock()
	res.Duration = time.Since(t0)
	return res, nil
}

// buildRootfs returns a complete root filesystem for the recipe, running
// debootstrap only when the cache has none.
func buildRootfs(ctx context.Context, hash string, opts BuildOptions) (string, error) {
	dir := filepath.Join(opts.CacheDir, "rootfs", opts.Suite+"-"+hash)
	if _, err := os.Stat(filepath.Join(dir, ".sandrun-complete")); err == nil {
		fmt.Fprintf(opts.Log, "using cached root filesystem %s\n", dir)
		// Whatever a cache that others could once enter collected in its
		// scratch dirs stays out of the image (debootstrap leaves them empty).
		for _, d := range scratchDirs {
			if err := emptyDir(filepath.Join(dir, d)); err != nil {
				return "", err
			}
		}
		return dir, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", errors.New("debootstrap is not installed (apt-get install debootstrap)")
	}
	debs := filepath.Join(opts.CacheDir, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	args := []string{"--variant=minbase", "--cache-dir=" + debs}
	if ps := runtimePackages(); len(ps) > 0 {
		args = append(args, "--include="+strings.Join(ps, ","))
	}
	args = append(args, opts.Suite, tmp, opts.Mirror)
	fmt.Fprintf(opts.Log, "debootstrap %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "debootstrap", args...)
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("debootstrap: %w", err)
	}
	// What a sandbox never needs: documentation, apt's lists and caches.
	for _, p := range []string{"usr/share/doc", "usr/share/man", "usr/share/info", "var/lib/apt/lists", "var/cache/apt", "var/cache/debconf/templates.dat-old", "var/log"} {
		_ = os.RemoveAll(filepath.Join(tmp, p))
	}
	for _, p := range []string{"work", "var/log"} {
		if err := os.MkdirAll(filepath.Join(tmp, p), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".sandrun-complete"), []byte(hash+"\n"), 0o644); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// importRootfs streams the directory as a tar archive into the engine's
// image import. GNU tar keeps owners, modes, links and devices exactly.
func importRootfs(ctx context.Context, cli *client.Client, dir, tag string, changes []string) error {
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--exclude=./.sandrun-complete", "-C", dir, "-cf", "-", ".")
	out, err := tarCmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	tarCmd.Stderr = &stderr
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: out, SourceName: "-"}, tag, image.ImportOptions{Changes: changes})
	if err != nil {
		_ = tarCmd.Process.Kill()
		_ = tarCmd.Wait()
		return fmt.Errorf("image import: %w", err)
	}
	defer rc.Close()
	// The engine answers with JSON progress messages; an error is one of
	// them, not an HTTP status.
	dec := json.NewDecoder(bufio.NewReader(rc))
	var importErr error
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				importErr = err
			}
			break
		}
		if m.Error != "" {
			importErr = errors.New(m.Error)
		}
	}
	if err := tarCmd.Wait(); err != nil {
		return fmt.Errorf("tar %s: %w: %s", dir, err, stderr.String())
	}
	if importErr != nil {
		return fmt.Errorf("image import: %w", importErr)
	}
	return nil
}

// AptMirror returns the first Debian mirror configured for apt, or
// deb.debian.org.
func AptMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorIn(string(b)); m != "" {
			return m
		}
	}
	return "http://deb.debian.org/debian"
}

// mirrorIn finds the main archive's URI in a one-line or deb822 sources
// file, skipping the security archive.
func mirrorIn(text string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var uris []string
		switch {
		case f[0] == "deb":
			for _, x := range f[1:] {
				if !strings.HasPrefix(x, "[") && !strings.HasSuffix(x, "]") {
					uris = append(uris, x)
					break
				}
			}
		case f[0] == "URIs:":
			uris = f[1:]
		}
		for _, u := range uris {
			if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && !strings.Contains(u, "security") {
				return strings.TrimSuffix(u, "/")
			}
		}
	}
	return ""
}

// scratchDirs are a root filesystem's world-writable directories.
var scratchDirs = []string{"tmp", "var/tmp", "run/lock"}

// privateRootfsDir makes cacheDir/rootfs (which holds the root
// filesystems) root's alone, also when an older build made it 0755.
func privateRootfsDir(cacheDir string) error {
	d := filepath.Join(cacheDir, "rootfs")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	return os.Chmod(d, 0o700)
}

// emptyDir removes what dir holds, keeping dir itself.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
