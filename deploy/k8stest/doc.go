// Package k8stest renders the Kubernetes manifests of deploy/k8s and checks
// them against the rules of deploy/README.md, with the Prometheus rules,
// docker/docker-compose.yml and the scripts that start the local servers
// where they meet the same rules; it holds tests only.
package k8stest
