package kubernetes

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// runState is the run container's status, or nil before the kubelet
// reports one.
func runState(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// isRunning reports whether the run container is up (and so attachable).
func isRunning(p *corev1.Pod) bool {
	cs := runState(p)
	return p.Status.Phase == corev1.PodRunning && cs != nil && cs.State.Running != nil
}

// fatalWaiting are the reasons a container waits for that will not pass
// by themselves: the pod cannot start.
var fatalWaiting = map[string]string{
	"ErrImageNeverPull":          "the image is not on the node",
	"ErrImagePull":               "the image cannot be pulled",
	"ImagePullBackOff":           "the image cannot be pulled",
	"InvalidImageName":           "the image name is invalid",
	"CreateContainerConfigError": "the container's configuration was refused",
	"CreateContainerError":       "the container could not be created",
	"RunContainerError":          "the container could not be started",
}

// startFailure says why a pod that is not running yet never will, or nil
// while it still may.
func startFailure(p *corev1.Pod) error {
	if p.DeletionTimestamp != nil {
		return fmt.Errorf("pod %s was deleted before it ran", p.Name)
	}
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		if cs := runState(p); cs != nil && cs.State.Terminated != nil && cs.State.Terminated.StartedAt.IsZero() {
			t := cs.State.Terminated
			return fmt.Errorf("pod %s failed before its program started: %s %s", p.Name, t.Reason, t.Message)
		}
		if p.Status.Reason != "" {
			return fmt.Errorf("pod %s ended before it ran: %s: %s", p.Name, p.Status.Reason, p.Status.Message)
		}
		return fmt.Errorf("pod %s ended (%s) before it ran", p.Name, p.Status.Phase)
	}
	if cs := runState(p); cs != nil && cs.State.Waiting != nil {
		if what, ok := fatalWaiting[cs.State.Waiting.Reason]; ok {
			return fmt.Errorf("pod %s cannot start: %s (%s: %s)", p.Name, what, cs.State.Waiting.Reason, oneLine(cs.State.Waiting.Message))
		}
	}
	return nil
}

// pendingWhy describes a pod that has not started yet, for a start
// timeout's message.
func pendingWhy(p *corev1.Pod) string {
	if p == nil {
		return "no status yet"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			return fmt.Sprintf("not scheduled: %s: %s", c.Reason, oneLine(c.Message))
		}
	}
	if cs := runState(p); cs != nil && cs.State.Waiting != nil {
		return fmt.Sprintf("container waiting: %s: %s", cs.State.Waiting.Reason, oneLine(cs.State.Waiting.Message))
	}
	return fmt.Sprintf("phase %s", p.Status.Phase)
}

// ended returns the run container's termination, or nil while it runs.
func ended(p *corev1.Pod) *corev1.ContainerStateTerminated {
	if cs := runState(p); cs != nil && cs.State.Terminated != nil {
		return cs.State.Terminated
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
