package kubernetes

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sandrun/sandrun"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Labels every object of this tier carries. The sweep deletes only objects
// whose owner is a dead supervisor, in its own namespace.
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "sandrun"
	labelRole      = "sandrun.io/role" // "run" (a pod) or "owner" (a supervisor's config map)
	labelOwner     = "sandrun.io/owner"
	labelLanguage  = "sandrun.io/language"
	labelPool      = "sandrun.io/pool" // a warm pod's shape; absent on a cold pod

	annHolder    = "sandrun.io/holder"    // "<host>:<pid>" of the supervisor
	annHeartbeat = "sandrun.io/heartbeat" // RFC 3339, renewed while it lives

	roleRun   = "run"
	roleOwner = "owner"

	containerName = "run"
)

// shape is what a pod fixes at creation and a request must match to use a
// warm pod: the image and the limits the kubelet applies (memory and the
// size of /work and /tmp). The other limits are applied per run by the
// boot script (rlimits) and the supervisor (wall clock, output).
type shape struct {
	Language string
	Image    string
	Memory   sandrun.Bytes
	WorkDir  sandrun.Bytes
}

// key names the shape in a label value.
func (s shape) key() string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%d", s.Language, s.Image, s.Memory, s.WorkDir)))
	return hex.EncodeToString(h[:8])
}

// Seccomp profile choices (Options.Seccomp).
const (
	// SeccompLocalhostDefault is sandrun's hardened profile installed on
	// every node under the kubelet's seccomp directory (`sandrun kube
	// seccomp-profile`): the container tiers' profile, which allows only
	// AF_UNIX sockets, so a run has no network even where the CNI does not
	// enforce NetworkPolicy.
	SeccompLocalhostDefault = "localhost/sandrun/run.json"
	// SeccompRuntimeDefault is the container runtime's default profile:
	// IP sockets are allowed and the network isolation rests on the
	// NetworkPolicy alone (a downgrade every result lists).
	SeccompRuntimeDefault = "runtime/default"
)

// seccompProfile turns an Options.Seccomp value into the API's form.
func seccompProfile(v string) (*corev1.SeccompProfile, error) {
	switch {
	case v == SeccompRuntimeDefault:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, nil
	case strings.HasPrefix(v, "localhost/") && len(v) > len("localhost/"):
		p := strings.TrimPrefix(v, "localhost/")
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			return nil, fmt.Errorf("seccomp profile %q must be relative to the kubelet's seccomp directory", v)
		}
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}, nil
	}
	return nil, fmt.Errorf("seccomp profile %q: want %s or localhost/<path under the kubelet's seccomp directory>", v, SeccompRuntimeDefault)
}

// podParams are what one pod is made of.
type podParams struct {
	name    string
	owner   *owner
	shape   shape
	cpus    float64
	uid     int64
	seccomp *corev1.SeccompProfile
	runtime string // RuntimeClass; "" for the cluster's default
	// deadline is activeDeadlineSeconds: the kubelet kills the pod this
	// long after it started, whatever the supervisor does.
	deadline int64
	warm     bool
	labels   map[string]string // extra labels (Options.Labels)
	// nodeSelector and tolerations place run pods (Options).
	nodeSelector map[string]string
	tolerations  []corev1.Toleration
}

// bootScript is the container's command. The request arrives on stdin
// (see payload): a line with the size N of a shell script sandrun wrote
// (every value in it single-quoted), then those N bytes, which the boot
// shell evaluates. Nothing of the request is in the pod's spec: a warm pod
// is made before its request exists.
const bootScript = `set -e
IFS= read -r n
ctl=$(head -c "$n")
eval "$ctl"`

// pod builds the run pod. Every hardening field lives here, so a test can
// check them without a cluster.
func pod(p podParams) *corev1.Pod {
	yes, no := true, false
	uid := p.uid
	grace := int64(1)
	deadline := p.deadline
	labels := map[string]string{
		labelManagedBy: managedBy,
		labelRole:      roleRun,
		labelOwner:     p.owner.id,
		labelLanguage:  p.shape.Language,
	}
	for k, v := range p.labels {
		if _, taken := labels[k]; !taken {
			labels[k] = v
		}
	}
	if p.warm {
		labels[labelPool] = p.shape.key()
	}
	mem := resource.NewQuantity(int64(p.shape.Memory), resource.BinarySI)
	work := resource.NewQuantity(int64(p.shape.WorkDir), resource.BinarySI)
	cpu := resource.NewMilliQuantity(int64(p.cpus*1000), resource.DecimalSI)
	// The container's log (on the node's disk) holds the output until the
	// pod is deleted; the supervisor kills a run at its output cap, this
	// bounds the log even if it does not.
	logs := resource.NewQuantity(2*int64(sandrun.MaxLimits().Output)+16<<20, resource.BinarySI)
	tmpfs := func(name string, size *resource.Quantity) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: size}}}
	}
	var runtimeClass *string
	if p.runtime != "" {
		runtimeClass = &p.runtime
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            p.name,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{p.owner.ref()},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: &grace,
			// No service-account token, no service variables, no host
			// namespaces, no cluster DNS.
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			HostNetwork:                  false,
			HostPID:                      false,
			HostIPC:                      false,
			ShareProcessNamespace:        &no,
			Hostname:                     "sandrun",
			DNSPolicy:                    corev1.DNSNone,
			DNSConfig:                    &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}},
			RuntimeClassName:             runtimeClass,
			NodeSelector:                 p.nodeSelector,
			Tolerations:                  p.tolerations,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				RunAsUser:      &uid,
				RunAsGroup:     &uid,
				SeccompProfile: p.seccomp,
			},
			Volumes: []corev1.Volume{tmpfs("work", work), tmpfs("tmp", work), tmpfs("nosys", resource.NewQuantity(64<<10, resource.BinarySI))},
			Containers: []corev1.Container{{
				Name:       containerName,
				Image:      p.shape.Image,
				Command:    []string{"/bin/sh", "-c", bootScript, "sandrun-boot"},
				WorkingDir: "/work",
				// The request (code, files, env, stdin) comes over the
				// attach stream; stdin closes after the first attach.
				Stdin:     true,
				StdinOnce: true,
				TTY:       false,
				// Images are the operator's: pinned by digest or tag,
				// present on the nodes (see docs/guide/kubernetes.md).
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Env:                      []corev1.EnvVar{{Name: "PATH", Value: "/usr/local/bin:/usr/bin:/bin"}, {Name: "LANG", Value: "C.UTF-8"}},
				Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{
						corev1.ResourceMemory:           *mem,
						corev1.ResourceCPU:              *cpu,
						corev1.ResourceEphemeralStorage: *logs,
					},
					Requests: corev1.ResourceList{
						corev1.ResourceMemory: *mem,
						corev1.ResourceCPU:    *resource.NewMilliQuantity(min(int64(p.cpus*1000), 100), resource.DecimalSI),
					},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "work", MountPath: "/work"},
					{Name: "tmp", MountPath: "/tmp"},
					// An empty read-only tmpfs over /sys: nothing of the
					// node's devices, kernel or cgroups (Kubernetes has no
					// masked-paths field; the mount shadows sysfs and the
					// cgroup mounts under it).
					{Name: "nosys", MountPath: "/sys", ReadOnly: true},
				},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             &yes,
					RunAsUser:                &uid,
					RunAsGroup:               &uid,
					Privileged:               &no,
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           p.seccomp,
				},
			}},
		},
	}
}

// denyAll is the NetworkPolicy that cuts every pod of one supervisor off
// from everything: no ingress, no egress rule. It is owned by the
// supervisor's config map, so it goes when the supervisor goes.
func denyAll(o *owner) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{
			Name:            "sandrun-deny-" + o.id,
			Labels:          map[string]string{labelManagedBy: managedBy, labelOwner: o.id},
			OwnerReferences: []metav1.OwnerReference{o.ref()},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{labelOwner: o.id, labelRole: roleRun}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

// owner is one supervisor's anchor object: a config map every pod and
// policy it makes names as owner, so that deleting it (the sweep, Close,
// or the garbage collector when the supervisor's own pod goes) deletes
// them all.
type owner struct {
	id   string
	name string
	uid  types.UID
}

func (o *owner) ref() metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: o.name, UID: o.uid, Controller: &yes}
}

// ownerConfigMap is the owner object to create. holderPod, when set, is
// the supervisor's own pod (in a cluster): the config map is its
// dependent, so the garbage collector removes everything when that pod is
// deleted, even if the supervisor never ran its cleanup.
func ownerConfigMap(id, holder, heartbeat string, holderPod *metav1.OwnerReference) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "sandrun-owner-" + id,
			Labels:      map[string]string{labelManagedBy: managedBy, labelRole: roleOwner, labelOwner: id},
			Annotations: map[string]string{annHolder: holder, annHeartbeat: heartbeat},
		},
		Data: map[string]string{"about": "sandrun's run pods and network policy of one supervisor; deleting this deletes them"},
	}
	if holderPod != nil {
		cm.OwnerReferences = []metav1.OwnerReference{*holderPod}
	}
	return cm
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runUID picks the uid a pod runs as: a random one per pod, far from the
// ranges of real users, so RLIMIT_NPROC (counted per uid on the node)
// bounds this run's processes alone.
func runUID() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	const base, span = 1 << 24, 1 << 30
	return base + int64(binary.BigEndian.Uint32(b[:])%span)
}
