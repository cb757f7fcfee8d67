package jail

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sandrun/sandrun/internal/guest"
	"github.com/sandrun/sandrun/lang"
	"github.com/sandrun/sandrun/netpolicy"
)

// Name is the backend's name.
const Name = "jail"

// Downgrades an operator may choose, each turning one layer off (or
// partly off). A downgraded run says so in Result.Downgrades.
const (
	// DowngradeCgroup runs without cgroups (no memory, pids or CPU
	// bandwidth control; RLIMIT_AS and RLIMIT_CPU remain): for hosts that
	// do not delegate cgroups to the user running sandrun.
	DowngradeCgroup = "cgroup"
	// DowngradeLandlock accepts a kernel without Landlock, or with an ABI
	// below 6 (then the rules the kernel knows still apply; abstract
	// sockets and signals are then bounded by each run's own network and
	// pid namespaces alone).
	DowngradeLandlock = "landlock"
	// DowngradeSeccomp runs without the syscall filter.
	DowngradeSeccomp = "seccomp"
)

// AllDowngrades lists the valid downgrade names.
func AllDowngrades() []string { return []string{DowngradeCgroup, DowngradeLandlock, DowngradeSeccomp} }

// Options configure the jail backend. Only Languages is required.
type Options struct {
	Languages *lang.Registry
	// Exe is the binary re-executed as the jail init (it must dispatch
	// the child role ChildRole to ChildMain); default os.Executable().
	Exe string
	// Downgrade lists layers the operator explicitly turns off. Empty
	// (the default) means every layer, fail closed.
	Downgrade []string
	// UIDBase and UIDCount are the range of unused host uids the jail
	// maps its one inside uid to, one per concurrent run (as root).
	// Default 1800000000 and 65536. Rootless, the caller's own uid is the
	// only one the kernel lets it map.
	// The warm path's zygotes each map a range of 1024 right after
	// (UIDBase+UIDCount+n*1024, n < 64), one uid per child slot.
	UIDBase, UIDCount uint32
	// CPUs is the CPU bandwidth of one run (cgroup quota); default 1.
	CPUs float64
	// WorkInodes caps the inodes of /work, /tmp and /dev/shm; default 16384.
	WorkInodes int64
	// CgroupParent overrides the directory under which per-run cgroups
	// are made (v2: a delegated subtree for rootless use).
	CgroupParent string
	// Hostname inside the jail; default "sandrun".
	Hostname string
	// StateDir holds the uid slot locks; default /run/sandrun-jail (root)
	// or $XDG_RUNTIME_DIR/sandrun-jail.
	StateDir string
	// Prestart keeps this many inits cloned ahead of time, waiting for
	// their config: the clone and the init's runtime start leave the
	// run's path. Each run still gets fresh namespaces, uid, cgroup and
	// tmpfs; nothing of a run is reused. 0 starts every init on demand.
	// cmd/sandrun sets it through config.jailPrestart: 1 for bench (and
	// long-lived commands such as serve), 0 for a one-shot run.
	Prestart int
	// SpawnAhead starts one init at New, in the background, for the
	// first run to take: a one-shot command (`sandrun run` sets it when
	// its run may go to the jail) overlaps the clone with the rest of its
	// own start. Unlike Prestart, nothing is started again once it is
	// taken; Close ends it if no run took it. Ignored with Prestart.
	SpawnAhead bool
	// NetPool is how many fresh network namespaces (one per run, used
	// once) are kept made ahead of time by a background goroutine, as
	// root; default 2. Negative: none ahead, each clone makes its own
	// (as it always does rootless).
	NetPool int
	// SetupTimeout bounds the jail's setup, from the request to the
	// program's start; default 30s. A setup that does not finish ends
	// the run with a *SetupError naming the layer it was in. The
	// program's wall-clock limit counts from its start, not from here.
	SetupTimeout time.Duration
	Logger       *slog.Logger
	// Network is what the operator permits runs to reach through the
	// proxy (network_linux.go); nil permits no network.
	Network *netpolicy.Operator
	// Warm turns the warm path on: for each language that can fork
	// (lang.WarmFork), a zygote (a jailed interpreter with its start
	// done) forks every run a child that is a full sandbox of its own,
	// and serves up to Warm runs at once (docs/architecture/jail.md,
	// "Warm path"). A run that finds no ready zygote or no free slot
	// runs cold. 0, the default and the one-shot CLI's, starts no zygote.
	// At most MaxWarm.
	Warm int
	// Guests are programs that run in light children of zygotes of
	// their own (internal/guest, guest_linux.go), such as restricted
	// python's policy. Their zygotes start at the first guest run, or in
	// New when Prestart > 0.
	Guests []guest.Spec
	// GuestSlots is how many runs each guest zygote serves at once (runs
	// past it wait for a free child); 0 means DefaultGuestSlots. At most
	// MaxWarm.
	GuestSlots int
}

// DefaultGuestSlots is Options.GuestSlots's default.
const DefaultGuestSlots = 16

func (o *Options) guestSlots() int {
	if o.GuestSlots <= 0 {
		return DefaultGuestSlots
	}
	return min(o.GuestSlots, MaxWarm)
}

// MaxWarm bounds Options.Warm: a zygote maps one host uid per slot.
const MaxWarm = zygoteRange - 1

func (o *Options) fill() error {
	if o.Languages == nil {
		return fmt.Errorf("jail: no language registry")
	}
	for _, d := range o.Downgrade {
		ok := false
		for _, v := range AllDowngrades() {
			ok = ok || d == v
		}
		if !ok {
			return fmt.Errorf("jail: unknown downgrade %q (have %v)", d, AllDowngrades())
		}
	}
	if o.Warm < 0 || o.Warm > MaxWarm {
		return fmt.Errorf("jail: Warm %d is outside 0..%d", o.Warm, MaxWarm)
	}
	if o.UIDBase == 0 {
		o.UIDBase = 1_800_000_000
	}
	if o.UIDCount == 0 {
		o.UIDCount = 65536
	}
	if o.CPUs == 0 {
		o.CPUs = 1
	}
	if o.WorkInodes == 0 {
		o.WorkInodes = 16384
	}
	if o.SetupTimeout == 0 {
		o.SetupTimeout = 30 * time.Second
	}
	if o.NetPool == 0 {
		o.NetPool = 2
	}
	if o.Hostname == "" {
		o.Hostname = "sandrun"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (o *Options) downgraded(layer string) bool {
	for _, d := range o.Downgrade {
		if d == layer {
			return true
		}
	}
	return false
}
