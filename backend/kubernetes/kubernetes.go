// Package kubernetes is the cluster tier: every run is a Pod created
// through the Kubernetes API, hardened in its spec (non-root with a uid of
// its own, read-only root, no privilege escalation, every capability
// dropped, sandrun's seccomp profile, no service-account token, no host
// namespaces, memory-backed size-capped /work and /tmp, resources from the
// request's limits, activeDeadlineSeconds) and cut off by a deny-all
// NetworkPolicy. Code, files, environment and stdin go in over the attach
// stream; output, the exit status and collected files come back on it.
//
// A warm pool keeps pods of the default shape running, each waiting on
// its stdin for one request, so a run skips scheduling, sandbox and image
// start; a request of another shape gets a cold pod. Each pod serves one
// run and is deleted after it.
//
// Everything the tier creates in its namespace carries its labels and an
// owner reference to one config map per supervisor; deleting that config
// map (Close, or the sweep of a later supervisor once the heartbeat on it
// stops) lets the garbage collector delete the rest.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandrun/sandrun"
	"github.com/sandrun/sandrun/lang"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Name is the tier's name.
const Name = "kubernetes"

// Options configure the backend. The zero value finds the
// cluster the way kubectl does.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty: $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context is the kubeconfig context; empty: its current one.
	Context string
	// Namespace runs the pods; empty: the context's namespace, the pod's
	// own in a cluster, else "default".
	Namespace string
	// Images maps a language to its image; missing languages take
	// "sandrun-<language>:bookworm", the tag `sandrun image build` gives
	// (each language of the catalogue with an ImageArgv has one).
	Images map[string]string
	// Pool is the number of warm pods per language, for requests with
	// the default memory and work-dir limits. Empty: no pool.
	Pool map[string]int
	// PoolMaxAge recycles a warm pod that waited this long; default 30m.
	PoolMaxAge time.Duration
	// Seccomp is SeccompLocalhostDefault (the default), another
	// "localhost/<path>" profile, or SeccompRuntimeDefault (a downgrade).
	Seccomp string
	// RuntimeClass, when set, runs the pods under that RuntimeClass (for
	// example gVisor's).
	RuntimeClass string
	// CPUs is each pod's CPU limit; default 1.
	CPUs float64
	// NodeSelector and Tolerations place the run pods.
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	// StartTimeout fails a run whose cold pod is not running by then;
	// default 2m.
	StartTimeout time.Duration
	// StaleAfter is how long an owner's heartbeat may be silent before
	// another supervisor's sweep deletes its pods; default 2m.
	StaleAfter time.Duration
	// HolderPod is the supervisor's own pod (name and uid, from the
	// downward API) when it runs in the same namespace: its owner config
	// map then belongs to that pod.
	HolderPod, HolderPodUID string
	// Logger receives operational logs.
	Logger *slog.Logger
}

// Backend is the kubernetes tier. It is safe for concurrent use.
type Backend struct {
	opts    Options
	holder  string // "<host>@<pid namespace>:<pid>" (holderID)
	ownerID string
	seccomp *corev1.SeccompProfile
	secErr  error

	initMu   sync.Mutex
	st       *state
	initErr  error
	initTime time.Time
	closed   bool

	// bg counts background deletions, which Close waits for.
	bg sync.WaitGroup
	// warmRuns and coldRuns count runs by the pod they got.
	warmRuns, coldRuns atomic.Int64
}

// state is the connected backend: what exists once the cluster answered.
type state struct {
	api     *api
	owner   *owner
	watcher *podWatcher
	pool    *warmPool
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

var (
	_ sandrun.Backend   = (*Backend)(nil)
	_ sandrun.Diagnoser = (*Backend)(nil)
)

// New returns the backend. It does not contact the cluster: the first
// Check or Run does, so a host without a cluster pays nothing.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Seccomp == "" {
		opts.Seccomp = SeccompLocalhostDefault
	}
	if opts.CPUs <= 0 {
		opts.CPUs = 1
	}
	if opts.PoolMaxAge <= 0 {
		opts.PoolMaxAge = 30 * time.Minute
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 2 * time.Minute
	}
	// client-go reports stream errors it cannot return (a stdin copy
	// that outlived its stream) through klog, which would print them on
	// stderr: they go to this logger at debug level. klog is global: the
	// first backend's logger wins.
	klogOnce.Do(func() { klog.SetSlogLogger(slog.New(debugOnly{opts.Logger.Handler()})) })
	b := &Backend{opts: opts, holder: holderID(), ownerID: randomHex(5)}
	b.seccomp, b.secErr = seccompProfile(opts.Seccomp)
	return b
}

// klogOnce routes client-go's klog once per process (klog's own state is
// global anyway).
var klogOnce sync.Once

// debugOnly turns every record into a debug one.
type debugOnly struct{ slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.Handler.Handle(ctx, r)
}

// Name implements sandrun.Backend.
func (b *Backend) Name() string { return Name }

// Image returns the image language runs in, or "".
func (b *Backend) Image(language string) string {
	if im := b.opts.Images[language]; im != "" {
		return im
	}
	if _, ok := imageOf(language); !ok {
		return ""
	}
	return "sandrun-" + language + ":bookworm"
}

// Namespace returns the namespace the pods run in, once connected.
func (b *Backend) Namespace(ctx context.Context) (string, error) {
	st, err := b.state(ctx)
	if err != nil {
		return "", err
	}
	return st.api.ns, nil
}

// RunCounts reports how many runs got a warm pod and how many a cold one.
func (b *Backend) RunCounts() (warm, cold int64) { return b.warmRuns.Load(), b.coldRuns.Load() }

// ReadyWarm is the number of ready warm pods of language (0 before the
// backend connected).
func (b *Backend) ReadyWarm(language string) int {
	b.initMu.Lock()
	st := b.st
	b.initMu.Unlock()
	if st == nil {
		return 0
	}
	return st.pool.readyCount(language)
}

// downgrades lists the protections this configuration gives up.
func (b *Backend) downgrades() []string {
	if b.seccomp != nil && b.seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault {
		return []string{"seccomp: the container runtime's default profile allows IP sockets; " +
			"network isolation rests on the NetworkPolicy, which only a policy-enforcing CNI applies"}
	}
	return nil
}

// state connects on first use: the cluster answers, stale owners are
// swept, this supervisor's owner config map and deny-all NetworkPolicy
// exist, the pod watch is synced and the pool is filling. A failure is
// retried after a few seconds.
func (b *Backend) state(ctx context.Context) (*state, error) {
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if b.closed {
		return nil, errors.New("the kubernetes backend is closed")
	}
	if b.st != nil {
		return b.st, nil
	}
	if b.initErr != nil && time.Since(b.initTime) < 5*time.Second {
		return nil, b.initErr
	}
	st, err := b.connect(ctx)
	if err != nil {
		b.initErr, b.initTime = err, time.Now()
		return nil, err
	}
	b.st, b.initErr = st, nil
	return st, nil
}

func (b *Backend) connect(ctx context.Context) (*state, error) {
	if b.secErr != nil {
		return nil, b.secErr
	}
	cfg, ns, err := loadConfig(b.opts.Kubeconfig, b.opts.Context, b.opts.Namespace)
	if err != nil {
		return nil, err
	}
	a, err := newAPI(cfg, ns)
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := a.ping(ictx); err != nil {
		return nil, err
	}
	if n, err := sweep(ictx, a, b.holder, b.opts.StaleAfter); err != nil {
		b.opts.Logger.Warn("kubernetes: sweeping stale owners", "err", err)
	} else if n > 0 {
		b.opts.Logger.Info("kubernetes: removed the pods of stale supervisors", "owners", n)
	}
	var holderPod *metav1.OwnerReference
	if b.opts.HolderPod != "" && b.opts.HolderPodUID != "" {
		holderPod = &metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: b.opts.HolderPod, UID: types.UID(b.opts.HolderPodUID)}
	}
	cm, err := a.createConfigMap(ictx, ownerConfigMap(b.ownerID, b.holder, time.Now().UTC().Format(time.RFC3339), holderPod))
	if err != nil {
		return nil, fmt.Errorf("creating the owner config map in namespace %s: %w", ns, err)
	}
	o := &owner{id: b.ownerID, name: cm.Name, uid: cm.UID}
	// Fail closed: no pod before the policy that isolates it exists.
	if err := a.createNetworkPolicy(ictx, denyAll(o)); err != nil && !apierrors.IsAlreadyExists(err) {
		_ = a.deleteConfigMap(context.WithoutCancel(ctx), cm.Name)
		return nil, fmt.Errorf("creating the deny-all NetworkPolicy in namespace %s (the tier does not run without it): %w", ns, err)
	}
	st := &state{api: a, owner: o}
	bg, stop := context.WithCancel(context.Background())
	st.cancel = stop
	st.pool = newWarmPool(b, st)
	st.watcher = newPodWatcher(a, labelOwner+"="+o.id, b.opts.Logger, st.pool.onEvent)
	st.watcher.onList = st.pool.onList
	st.done.Add(3)
	go func() { defer st.done.Done(); st.watcher.run(bg) }()
	go func() { defer st.done.Done(); b.heartbeat(bg, st) }()
	select {
	case <-st.watcher.synced:
	case <-ictx.Done():
		stop()
		st.done.Done()
		st.done.Wait()
		_ = a.deleteConfigMap(context.WithoutCancel(ctx), cm.Name)
		return nil, fmt.Errorf("listing this supervisor's pods: %w", ictx.Err())
	}
	go func() { defer st.done.Done(); st.pool.run(bg) }()
	return st, nil
}

// heartbeat renews the owner's annotation, so that other supervisors'
// sweeps know it lives.
func (b *Backend) heartbeat(ctx context.Context, st *state) {
	every := b.opts.StaleAfter / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, annHeartbeat, time.Now().UTC().Format(time.RFC3339))
		pctx, cancel := context.WithTimeout(ctx, every)
		if err := st.api.patchConfigMap(pctx, st.owner.name, []byte(patch)); err != nil {
			b.opts.Logger.Warn("kubernetes: renewing the owner heartbeat", "err", err)
		}
		cancel()
	}
}

// imageFor is language's image entry, or the error that it has none on
// this tier.
func (b *Backend) imageFor(language string) (lang.Info, error) {
	im, ok := imageOf(language)
	if !ok || b.Image(language) == "" {
		return lang.Info{}, fmt.Errorf("the kubernetes tier has no image for %q", language)
	}
	return im, nil
}

// begin is what a run and a launch start with: the language's image, the
// cluster's state and a fresh mark for the end of the program's output.
func (b *Backend) begin(ctx context.Context, language string) (lang.Info, *state, string, error) {
	im, err := b.imageFor(language)
	if err != nil {
		return lang.Info{}, nil, "", err
	}
	st, err := b.state(ctx)
	if err != nil {
		return lang.Info{}, nil, "", err
	}
	return im, st, "<<sandrun-end-" + randomHex(16) + ">>", nil
}

// Check implements sandrun.Backend: the language has an image, the
// cluster answers and lets this identity manage pods, and the warm pool's
// pods of that language did not fail to start.
func (b *Backend) Check(ctx context.Context, language string) error {
	if _, err := b.imageFor(language); err != nil {
		return err
	}
	if b.secErr != nil {
		return b.secErr
	}
	st, err := b.state(ctx)
	if err != nil {
		return err
	}
	return st.pool.failure(language)
}

// Diagnose implements sandrun.Diagnoser.
func (b *Backend) Diagnose(ctx context.Context) []sandrun.Diagnostic {
	st, err := b.state(ctx)
	if err != nil {
		return []sandrun.Diagnostic{{Name: "kubernetes: cluster", OK: false, Detail: err.Error()}}
	}
	out := []sandrun.Diagnostic{{Name: "kubernetes: cluster", OK: true,
		Detail: fmt.Sprintf("%s, namespace %s, owner %s", st.api.cfg.Host, st.api.ns, st.owner.name)}}
	sec := sandrun.Diagnostic{Name: "kubernetes: seccomp", OK: true, Detail: b.opts.Seccomp}
	if d := b.downgrades(); len(d) > 0 {
		sec.OK, sec.Detail = false, d[0]
	}
	out = append(out, sec)
	for _, l := range lang.KnownNames() {
		if _, ok := imageOf(l); !ok {
			continue
		}
		err := st.pool.failure(l)
		d := sandrun.Diagnostic{Name: "kubernetes: image " + l, OK: err == nil, Detail: b.Image(l)}
		if err != nil {
			d.Detail = err.Error()
		}
		if n := b.opts.Pool[l]; n > 0 {
			d.Detail += fmt.Sprintf(" (warm pool: %d of %d ready)", st.pool.readyCount(l), n)
		} else if err == nil {
			d.Detail += " (whether the nodes have it shows when a pod starts)"
		}
		out = append(out, d)
	}
	return out
}

// Close stops the pool and deletes everything this supervisor made: its
// pods, then its owner config map (the garbage collector takes the
// NetworkPolicy and anything missed).
func (b *Backend) Close() error {
	b.initMu.Lock()
	st := b.st
	b.st, b.closed = nil, true
	b.initMu.Unlock()
	if st == nil {
		b.bg.Wait()
		return nil
	}
	st.cancel()
	st.done.Wait()
	b.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := st.api.deletePods(ctx, labelOwner+"="+st.owner.id)
	if err2 := st.api.deleteConfigMap(ctx, st.owner.name); err == nil {
		err = err2
	}
	return err
}

// deleteLater deletes a pod in the background; Close waits for it.
func (b *Backend) deleteLater(st *state, name string) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.api.deletePod(ctx, name); err != nil {
			b.opts.Logger.Warn("kubernetes: deleting a run pod", "pod", name, "err", err)
		}
	}()
}

// ParseList parses "a=1,b=2" (the environment's form of a map).
func ParseList(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not NAME=VALUE", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// OptionsFromEnv reads the backend's configuration from the environment
// (getenv is os.Getenv): the CLI's and the server's way to configure it.
//
//	SANDRUN_KUBECONFIG        kubeconfig path (else $KUBECONFIG, ~/.kube/config, in-cluster)
//	SANDRUN_KUBE_CONTEXT      kubeconfig context
//	SANDRUN_KUBE_NAMESPACE    namespace of the run pods
//	SANDRUN_KUBE_IMAGES       python=IMAGE,javascript=IMAGE,...
//	SANDRUN_KUBE_POOL         python=2,bash=1: warm pods per language
//	SANDRUN_KUBE_SECCOMP      localhost/sandrun/run.json (default) or runtime/default
//	SANDRUN_KUBE_RUNTIME_CLASS  a RuntimeClass (gVisor's, say)
//	SANDRUN_KUBE_CPUS         CPU limit per pod (default 1)
//	SANDRUN_KUBE_NODE_SELECTOR  k=v,...: where run pods go
//	SANDRUN_KUBE_POD_NAME, SANDRUN_KUBE_POD_UID: the supervisor's own pod
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{
		Kubeconfig:   getenv("SANDRUN_KUBECONFIG"),
		Context:      getenv("SANDRUN_KUBE_CONTEXT"),
		Namespace:    getenv("SANDRUN_KUBE_NAMESPACE"),
		Seccomp:      getenv("SANDRUN_KUBE_SECCOMP"),
		RuntimeClass: getenv("SANDRUN_KUBE_RUNTIME_CLASS"),
		HolderPod:    getenv("SANDRUN_KUBE_POD_NAME"),
		HolderPodUID: getenv("SANDRUN_KUBE_POD_UID"),
	}
	var err error
	if o.Images, err = ParseList(getenv("SANDRUN_KUBE_IMAGES")); err != nil {
		return o, fmt.Errorf("SANDRUN_KUBE_IMAGES: %w", err)
	}
	if o.NodeSelector, err = ParseList(getenv("SANDRUN_KUBE_NODE_SELECTOR")); err != nil {
		return o, fmt.Errorf("SANDRUN_KUBE_NODE_SELECTOR: %w", err)
	}
	pool, err := ParseList(getenv("SANDRUN_KUBE_POOL"))
	if err != nil {
		return o, fmt.Errorf("SANDRUN_KUBE_POOL: %w", err)
	}
	for l, v := range pool {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 256 {
			return o, fmt.Errorf("SANDRUN_KUBE_POOL: %s=%s is not a count from 0 to 256", l, v)
		}
		if o.Pool == nil {
			o.Pool = map[string]int{}
		}
		o.Pool[l] = n
	}
	if v := getenv("SANDRUN_KUBE_CPUS"); v != "" {
		if o.CPUs, err = strconv.ParseFloat(v, 64); err != nil || o.CPUs <= 0 || o.CPUs > 64 {
			return o, fmt.Errorf("SANDRUN_KUBE_CPUS: %q is not a CPU count", v)
		}
	}
	if _, err := seccompProfile(orDefault(o.Seccomp, SeccompLocalhostDefault)); err != nil {
		return o, fmt.Errorf("SANDRUN_KUBE_SECCOMP: %w", err)
	}
	return o, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
