"""The Kubernetes control plane as a kubecheck spec, plus the example models."""
