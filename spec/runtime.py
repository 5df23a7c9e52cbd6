"""The container runtime: pulls images and runs the containers of pods, on each node.

In Kubernetes, the kubelet does not run containers itself. It talks to a container
runtime (containerd, CRI-O) through the Container Runtime Interface (CRI), a gRPC API:
it asks the runtime to pull a pod's images (``PullImage``), to create and start its
containers (``RunPodSandbox``, ``CreateContainer``, ``StartContainer``), and to stop and
remove them (``StopPodSandbox``, ``RemovePodSandbox``). Each call is synchronous: the
kubelet waits for the answer before it goes on. A pull can fail: the image does not
exist, the registry cannot be reached, or the credentials are wrong.

The model keeps, for each node, the pods whose containers run there, and how many pulls
have failed. The CRI calls are helper methods that the kubelet's actions call, not
actions of their own, because the kubelet blocks on each one: the runtime changes in the
kubelet's steps, so the ``kubelet`` component writes these variables and the runtime
writes none. A pull either succeeds within the step that starts the pod, or fails (a
fault, at most ``image_pull_failures`` times).

Left out, and why that is sound:

- The image store. An image kept on the node only spares a later pull, so it only takes
  away failures. Without it every pull may fail, which adds behaviours and removes none.
- Sandboxes and single containers. A pod's containers start and stop together, and
  restarts of a crashed container are left out: the properties here are about where a
  pod runs, not about its containers' restarts.
"""

from __future__ import annotations

from kubecheck import Array, Constant, Int, Set, Var

from .objects import ClusterObjects

__all__ = ["ContainerRuntime"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class ContainerRuntime(ClusterObjects):
    """Each node's running pods, changed only through the CRI calls the kubelet makes."""

    component = "runtime"
    owns = ()   # the kubelet's actions write the runtime's variables (CRI calls are synchronous)

    image_pull_failures = Constant(1, "budget of image pulls that fail", min=0)

    runtime_running = Var(Array(Nodes, Set(Pods)), init=False)        # the pods whose containers run on each node
    runtime_failed_pulls = Var(Int(0, image_pull_failures), init=0)   # image pulls that have failed so far

    # ---- the CRI calls, made from the kubelet's actions ----

    def start_containers(self, s, node, pod):
        """Pull the pod's image, create its sandbox and start its containers."""
        s.runtime_running[node][pod] = True

    def stop_containers(self, s, node, pod):
        """Stop the pod's containers and remove its sandbox (a no-op if none run)."""
        s.runtime_running[node][pod] = False

    def can_fail_pull(self, s):
        """The failure budget allows one more failed pull."""
        return s.runtime_failed_pulls < self.image_pull_failures

    def fail_pull(self, s):
        """A pull fails (ErrImagePull); nothing starts."""
        s.runtime_failed_pulls = s.runtime_failed_pulls + 1

    # ---- what the runtime reports (ListPodSandbox) ----

    def runs(self, s, node, pod):
        return s.runtime_running[node][pod]

    def running_count(self, s, node):
        """How many pods run on ``node``."""
        return s.runtime_running[node].size()
