// Package k8stest renders the Kubernetes manifests of deploy/k8s and checks
// them against the rules of deploy/README.md; it holds tests only.
package k8stest
