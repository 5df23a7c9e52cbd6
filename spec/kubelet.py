"""The kubelet: the agent on each node that makes sure the containers of its pods run.

In Kubernetes, the kubelet on each node watches the API server for the pods bound to its
node. For each new pod it runs admission (the scheduler's general predicates, again,
on the node: does the node have the CPU and memory the pod requests, does the pod's
node affinity allow this node), because a pod can reach a node without the scheduler: a
pod that names its node in ``spec.nodeName`` bypasses it. A pod that fails admission is
not run; the kubelet reports it Failed, with a reason such as ``OutOfcpu``. An admitted
pod's images are pulled and its containers started through the container runtime
(``runtime.py``), and the kubelet reports the pod Running. When a pod is deleted, the
kubelet stops its containers and then confirms the deletion, which removes the pod's
object from the store. The kubelet's status manager remembers what it has reported, so a
lagging watch does not make it run a pod it has refused.

The model keeps, per node, the pods the kubelet has refused, and drives the runtime's
running pods. It reads its pods from its own informer cache (``KubeletInformer``), and
sends one status update or removal at a time. It acts only while its node is Ready; in
this model nodes stay Ready, and registration, heartbeats (the node Lease) and NotReady
nodes arrive with the node lifecycle slice.

Left out, and why that is sound:

- Image pull back-off. A kubelet whose pull fails keeps the pod Pending and retries
  (``ErrImagePull``, then ``ImagePullBackOff``); the model reports the pod Failed at
  once. For the properties checked here both mean the same: the pod does not run on
  that node, and the scheduler never moves a bound pod.
- Container restarts, probes and readiness. They change a running pod's containers, not
  where it runs.
- Memory and other resources. CPU stands for all of them: each is checked the same way.
- Graceful termination periods. Stopping is one step: a longer wait only delays removal.
- UIDs. A pod slot's next pod reuses its name; the kubelet tells it from the old one
  because the old one's removal went through it: the API server removes a bound pod
  only when its kubelet confirms, Failed pods included (Kubernetes deletes a Failed pod
  at once, and a real kubelet tells the pods apart by UID), and the confirmation reaches
  the kubelet's cache in the same step, so the kubelet never confirms twice. A kubelet's
  writes apply only to a pod still bound to its node, as the UID precondition would
  have them.
"""

from __future__ import annotations

from kubecheck import Array, Set, Var, action, all_of, always, count, require, when

from .apiserver import PodStatusApi
from .informer import KubeletInformer
from .objects import NO_REQUEST, ClusterObjects, PodPhase, Response, Verb
from .runtime import ContainerRuntime
from .scheduler import Placement

__all__ = ["Kubelet"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


class Kubelet(KubeletInformer, PodStatusApi, ContainerRuntime, Placement):
    """Admits, runs and stops the pods bound to each node, through the container runtime."""

    component = "kubelet"
    owns = ("kubelet_refused", "kubelet_requests", "runtime_running", "runtime_failed_pulls")

    kubelet_refused = Var(Array(Nodes, Set(Pods)), init=False)   # the pods each kubelet has reported Failed

    # ---- what the kubelet sees and decides ----

    def new_pod(self, s, node, pod):
        """A pod its cache shows pending on this node, which the kubelet has neither started nor refused."""
        return ((s.kubelet_cache_pod_phase[node][pod] == PodPhase.PENDING)
                & ~self.runs(s, node, pod) & ~s.kubelet_refused[node][pod])

    def ready_to_sync(self, s, node):
        """The node is Ready and the kubelet has no update in flight."""
        return s.etcd_node_ready[node] & (s.kubelet_requests[node].verb == Verb.NONE)

    def admits(self, s, node):
        """Kubelet admission: the node has CPU left for one more pod, and node affinity allows the node."""
        return ((self.running_count(s, node) + 1) * self.pod_cpu <= self.node_cpu) & self.affinity_allows(node)

    def report(self, s, node, pod, phase):
        """Send the pod's new phase, conditional on its still being Pending."""
        s.kubelet_requests[node] = dict(NO_REQUEST, verb=Verb.SET_POD_PHASE, pod=pod, phase=phase,
                                        seen=PodPhase.PENDING)

    actions_paid_by = {"image_pull_failures": ("kubelet_fail_image_pull",)}

    def _remove_pod(self, s, node, req):
        """Remove the kubelet's terminated pod, and deliver the deletion to the kubelet's cache in the same step.

        The delivery moves right (Lipton): until it comes, the kubelet can only confirm the removal again, which the
        pod's UID precondition would refuse, and no other component reads the kubelet's cache. Without the merge the
        repeated confirmation, sent for a name the slot's next pod may carry by the time it arrives, would remove
        that pod instead."""
        response = super()._remove_pod(s, node, req)
        removed = response == Response.OK
        s.kubelet_cache_pod_phase[node][req.pod] = when(removed, PodPhase.ABSENT,
                                                        s.kubelet_cache_pod_phase[node][req.pod])
        return response

    # ---- actions ----

    @action(node=Nodes, pod=Pods)
    def kubelet_start_pod(self, s, node, pod):
        """The kubelet admits a new pod, has the runtime pull its image and start it, and reports it Running."""
        require(self.ready_to_sync(s, node))
        require(self.new_pod(s, node, pod))
        require(self.admits(s, node))
        self.start_containers(s, node, pod)
        self.report(s, node, pod, PodPhase.RUNNING)

    @action(node=Nodes, pod=Pods)
    def kubelet_reject_pod(self, s, node, pod):
        """The kubelet refuses a new pod that its node cannot run (OutOfcpu, NodeAffinity) and reports it Failed."""
        require(self.ready_to_sync(s, node))
        require(self.new_pod(s, node, pod))
        require(~self.admits(s, node))
        s.kubelet_refused[node][pod] = True
        self.report(s, node, pod, PodPhase.FAILED)

    @action(node=Nodes, pod=Pods, kind="fault")
    def kubelet_fail_image_pull(self, s, node, pod):
        """The runtime cannot pull an admitted pod's image, and the kubelet reports the pod Failed."""
        require(self.ready_to_sync(s, node))
        require(self.new_pod(s, node, pod))
        require(self.admits(s, node))
        require(self.can_fail_pull(s))
        self.fail_pull(s)
        s.kubelet_refused[node][pod] = True
        self.report(s, node, pod, PodPhase.FAILED)

    @action(node=Nodes, pod=Pods)
    def kubelet_stop_pod(self, s, node, pod):
        """The kubelet stops a terminating pod's containers, then asks the API server to remove the pod."""
        require(s.kubelet_requests[node].verb == Verb.NONE)
        require(s.kubelet_cache_pod_phase[node][pod] == PodPhase.TERMINATING)
        self.stop_containers(s, node, pod)
        s.kubelet_refused[node][pod] = False
        s.kubelet_requests[node] = dict(NO_REQUEST, verb=Verb.REMOVE_POD, pod=pod)

    # ---- properties: where pods run ----

    @always
    def pod_runs_on_one_node(self, s):
        """A pod's containers run on at most one node."""
        return all_of(self.Pods, lambda p: count(self.Nodes, lambda n: self.runs(s, n, p)) <= 1)

    @always
    def pods_run_where_bound(self, s):
        """A pod runs only on the Ready node the store binds it to."""
        return all_of(self.Nodes, lambda n: all_of(self.Pods, lambda p: self.runs(s, n, p).implies(
            (s.etcd_pod_node[p] == n) & s.etcd_node_ready[n])))

    @always
    def failed_pods_never_run(self, s):
        """A pod the store shows Failed runs nowhere: the kubelet never starts a pod it has refused."""
        return all_of(self.Nodes, lambda n: all_of(self.Pods, lambda p: self.runs(s, n, p).implies(
            s.etcd_pod_phase[p] != PodPhase.FAILED)))

    @always
    def node_cpu_never_overcommitted(self, s):
        """The pods running on a node never request more CPU than it can allocate."""
        return all_of(self.Nodes, lambda n: self.running_count(s, n) * self.pod_cpu <= self.node_cpu)
