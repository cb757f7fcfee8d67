package sandrun

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sandrun/sandrun/internal/hostinfo"
)

// Limits bounds a run. In a request a zero field means "use the default".
//
// Invariant: the Sandbox resolves a request's limits once (Policy.Resolve:
// validated, capped, every zero field given its default) before anything
// below it sees them. Backend.Run, Launcher.Launch, Launched.SetLimits and
// session executors receive resolved limits and take them as given; they
// do not fill in defaults of their own. Resolved reports a violation.
type Limits struct {
	WallTime  Duration `json:"wall_time,omitempty"`  // default 10s
	CPUTime   Duration `json:"cpu_time,omitempty"`   // default 5s
	Memory    Bytes    `json:"memory,omitempty"`     // default 256MiB
	Processes int      `json:"processes,omitempty"`  // default 64
	OpenFiles int      `json:"open_files,omitempty"` // default 256
	FileSize  Bytes    `json:"file_size,omitempty"`  // default 16MiB
	Output    Bytes    `json:"output,omitempty"`     // per stream, default 1MiB
	WorkDir   Bytes    `json:"work_dir,omitempty"`   // size of /work (and /tmp), default 64MiB
}

// DefaultLimits returns the safe defaults every zero field takes.
func DefaultLimits() Limits { return defaultLimits }

// MaxLimits returns the largest values sandrun accepts on any host;
// anything above is refused as absurd rather than silently clamped. A
// Sandbox's Policy caps requests further (HostPolicy: by what this host
// has).
func MaxLimits() Limits { return maxLimits }

// defaultLimits and maxLimits are read-only tables; the functions above
// hand out copies.
var defaultLimits = Limits{
	WallTime:  Duration(10 * time.Second),
	CPUTime:   Duration(5 * time.Second),
	Memory:    256 << 20,
	Processes: 64,
	OpenFiles: 256,
	FileSize:  16 << 20,
	Output:    1 << 20,
	WorkDir:   64 << 20,
}

var maxLimits = Limits{
	WallTime:  Duration(time.Hour),
	CPUTime:   Duration(time.Hour),
	Memory:    16 << 30,
	Processes: 4096,
	OpenFiles: 65536,
	FileSize:  4 << 30,
	Output:    256 << 20,
	WorkDir:   8 << 30,
}

// minLimits are the smallest sensible values: below these no interpreter
// can even start (or the limit means nothing).
var minLimits = Limits{
	WallTime:  Duration(10 * time.Millisecond),
	CPUTime:   Duration(10 * time.Millisecond),
	Memory:    4 << 20,
	Processes: 1,
	OpenFiles: 16,
	FileSize:  1,
	Output:    1,
	WorkDir:   1 << 20,
}

// WithDefaults returns l with every zero field set to sandrun's default.
// Callers inside a Sandbox use the Sandbox's Policy instead (its defaults
// may be lower on a small host); this is for tools and tests that drive a
// backend directly.
func (l Limits) WithDefaults() Limits { return l.fill(defaultLimits) }

// fill sets every zero field of l from d.
func (l Limits) fill(d Limits) Limits {
	lf, df := l.fields(), d.fields()
	for i := range lf {
		if lf[i].get() == 0 {
			lf[i].set(df[i].get())
		}
	}
	return l
}

// field is one field of Limits seen generically, for the checks that
// apply to all of them alike.
type field struct {
	name string
	get  func() int64
	set  func(int64)
	show func(int64) string
}

func showDuration(v int64) string { return time.Duration(v).String() }
func showBytes(v int64) string    { return Bytes(v).String() }
func showCount(v int64) string    { return fmt.Sprint(v) }

// fields lists l's fields in JSON order, as accessors into l.
func (l *Limits) fields() []field {
	dur := func(name string, p *Duration) field {
		return field{name, func() int64 { return int64(*p) }, func(v int64) { *p = Duration(v) }, showDuration}
	}
	byt := func(name string, p *Bytes) field {
		return field{name, func() int64 { return int64(*p) }, func(v int64) { *p = Bytes(v) }, showBytes}
	}
	num := func(name string, p *int) field {
		return field{name, func() int64 { return int64(*p) }, func(v int64) { *p = int(v) }, showCount}
	}
	return []field{
		dur("wall_time", &l.WallTime), dur("cpu_time", &l.CPUTime), byt("memory", &l.Memory),
		num("processes", &l.Processes), num("open_files", &l.OpenFiles), byt("file_size", &l.FileSize),
		byt("output", &l.Output), byt("work_dir", &l.WorkDir),
	}
}

// Validate checks every limit against sandrun's absolute range. Zero
// fields are valid (they mean the default).
func (l Limits) Validate() error {
	return l.check(maxLimits, "the maximum", "")
}

// check refuses negative fields, fields below the minimum and fields above
// caps (named by capName in the message, followed by why). Zero fields
// pass.
func (l Limits) check(caps Limits, capName, why string) error {
	var errs []error
	lo, hi := minLimits, caps
	lf, hf := lo.fields(), hi.fields()
	for i, f := range l.fields() {
		v := f.get()
		switch {
		case v == 0:
		case v < 0:
			errs = append(errs, &RequestError{Field: "limits." + f.name, Msg: fmt.Sprintf("must not be negative (got %s)", f.show(v))})
		case v < lf[i].get():
			errs = append(errs, &RequestError{Field: "limits." + f.name, Msg: fmt.Sprintf("%s is below the minimum %s", f.show(v), f.show(lf[i].get()))})
		case v > hf[i].get():
			errs = append(errs, &RequestError{Field: "limits." + f.name, Msg: fmt.Sprintf("%s is above %s %s%s", f.show(v), capName, f.show(hf[i].get()), why)})
		}
	}
	return errors.Join(errs...)
}

// Resolved reports whether every field is set (the invariant the layers
// below the Sandbox rely on); the error names the first field that is not.
func (l Limits) Resolved() error {
	for _, f := range l.fields() {
		if f.get() <= 0 {
			return fmt.Errorf("limits.%s is not resolved (%d): limits must pass through the Sandbox's Policy", f.name, f.get())
		}
	}
	return nil
}

// Policy is what a Sandbox grants: the defaults a request's zero limits
// take and the caps no request may pass. Resolve is the one place where
// a request's limits become the resolved limits every layer below takes
// as given.
type Policy struct {
	// Defaults fill a request's zero limits; zero fields here mean
	// DefaultLimits(). A default above its cap is lowered to the cap.
	Defaults Limits
	// Caps bound what a request may ask for; zero fields here mean
	// MaxLimits(). Caps above MaxLimits are lowered to it.
	Caps Limits
	// Source says where the caps come from, for the messages that refuse
	// a request ("this host: 23.5GiB of memory ...; 2 runs at a time").
	Source string
}

// DefaultPolicy is sandrun's static defaults and maxima.
func DefaultPolicy() Policy { return Policy{}.normalize() }

// normalize fills unset fields and keeps defaults within caps and caps
// within MaxLimits.
func (p Policy) normalize() Policy {
	p.Caps = p.Caps.fill(maxLimits)
	p.Defaults = p.Defaults.fill(defaultLimits)
	cf, df, mf := p.Caps.fields(), p.Defaults.fields(), maxLimits.fields()
	for i := range cf {
		cf[i].set(min(cf[i].get(), mf[i].get()))
		df[i].set(min(df[i].get(), cf[i].get()))
	}
	if p.Source == "" {
		p.Source = "sandrun's maximum"
	}
	return p
}

// Resolve validates l against the policy and returns it with every zero
// field set to its default. Errors are *RequestError naming the field
// (limits.memory) and, for a value above its cap, the cap and where it
// comes from.
func (p Policy) Resolve(l Limits) (Limits, error) {
	p = p.normalize()
	if err := l.check(p.Caps, "the cap of", " ("+p.Source+")"); err != nil {
		return Limits{}, err
	}
	return l.fill(p.Defaults), nil
}

// HostPolicy derives caps from this host for slots concurrent runs, with
// work directories under workBase:
//
//   - memory: three quarters of the memory this process may use (the
//     host's, or its cgroup's), divided among the slots;
//   - work_dir: at most the memory cap (the jail's and the container
//     tiers' /work is a tmpfs, which is memory) and half the free disk
//     under workBase divided among the slots (the process tier's is on
//     disk);
//   - file_size: at most work_dir's cap;
//   - output: the supervisor holds each stream in memory and copies it a
//     few times (sanitizer, JSON), so 1/128 of the memory per slot,
//     between 1MiB and 64MiB;
//   - open_files: the supervisor's hard RLIMIT_NOFILE, which no tier can
//     raise for its program;
//   - the rest: MaxLimits.
//
// Defaults above a cap are lowered to it. On a host it cannot read,
// the caps are MaxLimits.
func HostPolicy(slots int, workBase string) Policy {
	if slots < 1 {
		slots = 1
	}
	if workBase == "" {
		workBase = os.TempDir()
	}
	return hostPolicy(hostinfo.Read(workBase), slots)
}

func hostPolicy(h hostinfo.Info, slots int) Policy {
	c := maxLimits
	const mib = 1 << 20
	var src []string
	if h.Memory > 0 {
		c.Memory = min(c.Memory, Bytes(h.Memory/4*3/int64(slots)/mib*mib))
		c.WorkDir = min(c.WorkDir, c.Memory)
		c.Output = min(c.Output, max(1*mib, min(64*mib, Bytes(h.Memory/128/int64(slots)/mib*mib))))
		src = append(src, humanBytes(h.Memory)+" of memory")
	}
	if h.DiskFree > 0 {
		c.WorkDir = min(c.WorkDir, max(minLimits.WorkDir, Bytes(h.DiskFree/2/int64(slots)/mib*mib)))
		src = append(src, humanBytes(h.DiskFree)+" of free disk")
	}
	c.FileSize = min(c.FileSize, c.WorkDir)
	if h.NoFile > 0 {
		c.OpenFiles = int(min(int64(c.OpenFiles), h.NoFile))
		src = append(src, fmt.Sprintf("open-file limit %d", h.NoFile))
	}
	// Never below what a run needs to start.
	cf, mf := c.fields(), minLimits.fields()
	for i := range cf {
		cf[i].set(max(cf[i].get(), mf[i].get()))
	}
	source := fmt.Sprintf("this host: %s; %d runs at a time", strings.Join(src, ", "), slots)
	if slots == 1 {
		source = fmt.Sprintf("this host: %s; one run at a time", strings.Join(src, ", "))
	}
	return Policy{Caps: c, Source: source}.normalize()
}

// humanBytes writes a host size with one decimal in the largest binary
// unit (23.5GiB): host sizes are rarely round.
func humanBytes(n int64) string {
	f, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + units[i]
}
