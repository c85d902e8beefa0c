package k8stest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// effectivePullPolicy is the pull policy the API server gives a container
// that names none: Always for a ":latest" or untagged image, IfNotPresent
// otherwise (k8s.io/kubernetes pkg/apis/core/v1/defaults.go).
func effectivePullPolicy(c corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	name := c.Image
	if i := strings.LastIndex(name, "@"); i >= 0 {
		return corev1.PullIfNotPresent
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// TestDevImagesAreNotPulledFromARegistry: the dev overlay runs the images
// of the local build (scripts/images.sh names them
// localhost/medisync/<service>:latest), which live in the node's image store
// (kind load, minikube image load, Podman/CRI-O storage) and in no registry.
// The kubelet must use them as they are (IfNotPresent or Never): with the
// tag latest and no policy, the API server defaults to Always, the pull
// fails and every pod stays in ImagePullBackOff.
func TestDevImagesAreNotPulledFromARegistry(t *testing.T) {
	r := render(t, "dev")
	for _, w := range r.workloads {
		for _, c := range w.template.Spec.Containers {
			if !strings.HasPrefix(c.Image, "localhost/") {
				continue
			}
			if p := effectivePullPolicy(c); p == corev1.PullAlways {
				t.Errorf("dev %s: image %q, a local build no registry serves, gets imagePullPolicy %s (none set, tag latest): the kubelet pulls it and the pod never starts",
					w.name, c.Image, p)
			}
		}
	}
}
