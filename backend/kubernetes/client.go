package kubernetes

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
)

// api is the slice of the Kubernetes API this tier uses: pods (and their
// attach subresource) and config maps in core/v1, network policies in
// networking/v1. It is client-go's REST client over a scheme that knows
// only those two groups: client-go's kubernetes/scheme registers every API
// group at init, which every sandrun process start (the jail's init
// included) would pay.
type api struct {
	cfg    *rest.Config
	ns     string
	core   *rest.RESTClient
	netw   *rest.RESTClient
	params runtime.ParameterCodec
}

// loadConfig finds the cluster: an explicit kubeconfig path, else
// $KUBECONFIG or ~/.kube/config, else the in-cluster service account.
// The namespace is the explicit one, else the kubeconfig context's, else
// the pod's own (in-cluster), else "default".
func loadConfig(path, context, namespace string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, "", fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		rules.ExplicitPath = path
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster configured (kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	ns := namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	return cfg, ns, nil
}

func newAPI(cfg *rest.Config, ns string) (*api, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := networkingv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	// Status and the list/watch options of the unversioned group.
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	codecs := serializer.NewCodecFactory(scheme)
	client := func(apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.APIPath = apiPath
		c.GroupVersion = &gv
		c.NegotiatedSerializer = codecs.WithoutConversion()
		if c.UserAgent == "" {
			c.UserAgent = "sandrun"
		}
		// Runs are bursty: a pool refill is several creates at once.
		if c.QPS == 0 {
			c.QPS, c.Burst = 50, 100
		}
		return rest.RESTClientFor(c)
	}
	core, err := client("/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	netw, err := client("/apis", networkingv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &api{cfg: cfg, ns: ns, core: core, netw: netw, params: runtime.NewParameterCodec(scheme)}, nil
}

func (a *api) createPod(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := a.core.Post().Namespace(a.ns).Resource("pods").Body(p).Do(ctx).Into(out)
	return out, err
}

// deletePod deletes a pod at once (grace 0: the kubelet kills it with
// SIGKILL). A pod already gone is not an error.
func (a *api) deletePod(ctx context.Context, name string) error {
	zero := int64(0)
	err := a.core.Delete().Namespace(a.ns).Resource("pods").Name(name).
		Body(&metav1.DeleteOptions{GracePeriodSeconds: &zero}).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deletePods deletes every pod matching selector at once.
func (a *api) deletePods(ctx context.Context, selector string) error {
	zero := int64(0)
	return a.core.Delete().Namespace(a.ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{LabelSelector: selector}, a.params).
		Body(&metav1.DeleteOptions{GracePeriodSeconds: &zero}).Do(ctx).Error()
}

func (a *api) patchPod(ctx context.Context, name string, mergePatch []byte) error {
	return a.core.Patch(types.MergePatchType).Namespace(a.ns).Resource("pods").Name(name).
		Body(mergePatch).Do(ctx).Error()
}

func (a *api) listPods(ctx context.Context, selector string) (*corev1.PodList, error) {
	out := &corev1.PodList{}
	err := a.core.Get().Namespace(a.ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{LabelSelector: selector}, a.params).Do(ctx).Into(out)
	return out, err
}

func (a *api) watchPods(ctx context.Context, selector, resourceVersion string) (watch.Interface, error) {
	return a.core.Get().Namespace(a.ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{LabelSelector: selector, ResourceVersion: resourceVersion,
			Watch: true, AllowWatchBookmarks: true}, a.params).
		Timeout(0).Watch(ctx)
}

func (a *api) createConfigMap(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	out := &corev1.ConfigMap{}
	err := a.core.Post().Namespace(a.ns).Resource("configmaps").Body(cm).Do(ctx).Into(out)
	return out, err
}

func (a *api) patchConfigMap(ctx context.Context, name string, mergePatch []byte) error {
	return a.core.Patch(types.MergePatchType).Namespace(a.ns).Resource("configmaps").Name(name).
		Body(mergePatch).Do(ctx).Error()
}

func (a *api) listConfigMaps(ctx context.Context, selector string) (*corev1.ConfigMapList, error) {
	out := &corev1.ConfigMapList{}
	err := a.core.Get().Namespace(a.ns).Resource("configmaps").
		VersionedParams(&metav1.ListOptions{LabelSelector: selector}, a.params).Do(ctx).Into(out)
	return out, err
}

// deleteConfigMap deletes a config map; the garbage collector then
// deletes what names it as owner (background propagation).
func (a *api) deleteConfigMap(ctx context.Context, name string) error {
	bg := metav1.DeletePropagationBackground
	err := a.core.Delete().Namespace(a.ns).Resource("configmaps").Name(name).
		Body(&metav1.DeleteOptions{PropagationPolicy: &bg}).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (a *api) createNetworkPolicy(ctx context.Context, np *networkingv1.NetworkPolicy) error {
	return a.netw.Post().Namespace(a.ns).Resource("networkpolicies").Body(np).Do(ctx).Error()
}

// attach connects to the run container's standard streams: WebSocket
// first (the API server's v5 protocol, which can close stdin), SPDY when
// the server cannot upgrade to it. It returns when the container's
// streams end.
func (a *api) attach(ctx context.Context, pod string, stdin io.Reader, stdout, stderr io.Writer) error {
	u := a.core.Post().Namespace(a.ns).Resource("pods").Name(pod).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: containerName, Stdin: stdin != nil, Stdout: true, Stderr: true}, a.params).URL()
	ws, err := remotecommand.NewWebSocketExecutor(a.cfg, "GET", u.String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(a.cfg, "POST", u)
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// exec runs a command in the run container and discards its output.
func (a *api) exec(ctx context.Context, pod string, argv []string) error {
	u := a.core.Post().Namespace(a.ns).Resource("pods").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: containerName, Command: argv, Stdout: true, Stderr: true}, a.params).URL()
	ws, err := remotecommand.NewWebSocketExecutor(a.cfg, "GET", u.String())
	if err != nil {
		return err
	}
	return ws.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
}

// ping checks that the API server answers and that this identity may
// list pods in the namespace.
func (a *api) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.listPods(ctx, labelManagedBy+"="+managedBy); err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("not allowed to list pods in namespace %s (RBAC: see deploy/): %w", a.ns, err)
		}
		return fmt.Errorf("the API server at %s: listing pods in namespace %s: %w", a.cfg.Host, a.ns, err)
	}
	return nil
}
