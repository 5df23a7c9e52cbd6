"""kube-scheduler: watches for pods with no node and binds each one to a node that fits.

In Kubernetes, the scheduler is the control plane component that watches for newly
created pods with no assigned node, and selects a node for them to run on. For each pod
it runs a chain of filters over the nodes (the scheduling framework's Filter plugins,
in order: NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit,
InterPodAffinity, among others), scores the nodes that pass, and binds the pod to the
best one by creating a Binding through the API server. It reads pods from its informer
cache, which leaves out pods that have terminated (a field selector on
``status.phase``). The cache lags, so right after binding a pod the scheduler would
still see it unbound and its node emptier than it is. The scheduler therefore *assumes*
the pod on the node in its own cache before the binding is written. The assumed pod
counts against its node until the informer shows the binding, and is forgotten if the
binding fails, which puts the pod back in the queue. A pod that fits no node stays
pending, and the scheduler reports why ("0/2 nodes are available: 1 Insufficient cpu,
1 node(s) had untolerated taint").

The model keeps the scheduler's assume cache and, for each pod it could not place, the
reason. As in kube-scheduler's cache, an assumed pod is confirmed in the step its
informer delivers the pod bound (or gone): the event handler that adds the pod to the
cache is what ends the assumption. A binding is sent through the one request slot; the
API server's answer is kept only when it refuses the binding, and the scheduler then
forgets the assumed pod (``scheduler_forget_pod``). An accepted binding needs no
answer: the real binding cycle only finishes, and the informer confirms the pod. What a pod asks of a node and what a node
offers are constants of the configuration (``Placement``): a CPU request per pod, a CPU
allocatable per node, a NoSchedule taint on the first nodes and a toleration on the
first pod slots, a required node affinity to the first nodes, and a required pod
anti-affinity. Every pod has the same request, and pod slots that a user creates again
hold the same pod spec. Pods with ``spec.nodeName`` set (the last ``pinned_pods``
slots) are created bound, bypass the scheduler, and are admitted or refused by the
kubelet alone.

Left out, and why that is sound:

- Scoring. Any node that passes the filters may be chosen, so every choice a scoring
  policy could make is explored.
- The node view. The scheduler reads node readiness from the store, not from a node
  informer; nodes stay Ready in this model (heartbeats and the node lifecycle
  controller come later), so a cache could only show the same thing.
- The PodScheduled condition. The real scheduler writes the reason into the pod's
  status; the model keeps it in the scheduler, because no component reads it back.
- Retries. A pod left pending may be tried again at any moment, which includes every
  moment the real scheduling queue would retry it.
- Memory, ports, volumes and topology spread. They are more filters of the same shape,
  and leaving a filter out only allows more bindings.
- UIDs. A Binding names its pod by slot, and the API server accepts it for whatever
  pending pod the slot holds; a real Binding carries the pod's UID and is refused for a
  new pod under the same name. This adds behaviours, as content equality does in
  ``etcd.py``.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, ConfigError, Constant, Option, Var, action, all_of, always, any_of, count,
                       require, when)

from .apiserver import PodBindApi
from .informer import PodInformer
from .objects import NO_REQUEST, Client, ClusterObjects, PodPhase, Response, Verb

__all__ = ["Placement", "Unschedulable", "Scheduler"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods
SCHEDULER = Client.SCHEDULER
OCCUPYING = (PodPhase.PENDING, PodPhase.RUNNING, PodPhase.TERMINATING)   # phases the scheduler's cache counts


def first(x, k):
    """``x`` is one of the first ``k`` elements of its domain (``node1`` is position 0).

    A reference equals the integer of its position, so "tainted" is ``first(node, 2)``,
    decided per action instance from a configured constant, with no state variable.
    """
    return x.isin(*range(k))


class Placement(ClusterObjects):
    """What a pod asks of a node and what a node offers: the facts the scheduler filters on."""

    component = "placement"
    owns = ()

    pod_cpu = Constant(1, "CPU each pod requests (resources.requests.cpu)", min=1)
    node_cpu = Constant(1, "CPU each node can allocate (status.allocatable.cpu)", min=0)
    tainted_nodes = Constant(1, "nodes, the first ones, with a NoSchedule taint", min=0)
    tolerating_pods = Constant(0, "pod slots, the first ones, whose pods tolerate the taint", min=0)
    affinity_nodes = Constant(0, "required node affinity: pods run only on the first N nodes (0: none)", min=0)
    anti_affinity = Constant(False, "required pod anti-affinity: no two pods on one node")
    pinned_pods = Constant(1, "pod slots, the last ones, whose pods name their node (spec.nodeName)", min=0)

    def validate_config(self) -> None:
        for key, limit, of in (("tainted_nodes", self.nodes, "nodes"), ("affinity_nodes", self.nodes, "nodes"),
                               ("tolerating_pods", self.pod_slots, "pod_slots"),
                               ("pinned_pods", self.pod_slots, "pod_slots")):
            if getattr(self, key) > limit:
                raise ConfigError(f"{key} ({getattr(self, key)}) cannot exceed {of} ({limit}); lower it or raise "
                                  f"{of}.")
        super().validate_config()

    def tainted(self, node):
        """The node carries the NoSchedule taint."""
        return first(node, self.tainted_nodes)

    def tolerates(self, pod):
        """The pod tolerates the taint."""
        return first(pod, self.tolerating_pods)

    def affinity_allows(self, node):
        """The pod's required node affinity allows the node."""
        return first(node, self.affinity_nodes or self.nodes)

    def pinned(self, pod):
        """The pod names its node (``spec.nodeName``), so the scheduler never places it."""
        return pod.isin(*range(self.pod_slots - self.pinned_pods, self.pod_slots))


class Unschedulable(IntEnum):
    """Why the scheduler left a pod pending: the filter that stopped the node that got furthest."""

    NONE = 0               # not known to be unschedulable
    NO_READY_NODE = 1      # NodeUnschedulable: no node is Ready
    TAINT = 2              # TaintToleration: node(s) had untolerated taint
    AFFINITY = 3           # NodeAffinity: node(s) didn't match Pod's node affinity
    INSUFFICIENT_CPU = 4   # NodeResourcesFit: Insufficient cpu
    ANTI_AFFINITY = 5      # InterPodAffinity: node(s) didn't satisfy pod anti-affinity rules


class Scheduler(PodInformer, PodBindApi, Placement):
    """Binds pending pods to nodes that fit, through an assume cache; records why a pod fits nowhere."""

    component = "scheduler"
    owns = ("scheduler_assumed", "scheduler_unschedulable", "requests", "binding_refused")

    scheduler_assumed = Var(Array(Pods, Option(Nodes)), init=NONE)    # the node each pod is assumed on
    scheduler_unschedulable = Var(Array(Pods, Unschedulable), init=Unschedulable.NONE)  # why each pod was left pending

    # ---- what the scheduler sees ----

    def cached_view(self, client, phase, node):
        """The scheduler's cache does not tell Running from Pending: either way the pod occupies its node."""
        phase, node = super().cached_view(client, phase, node)
        return when((client == SCHEDULER) & (phase == PodPhase.RUNNING), PodPhase.PENDING, phase), node

    def queued(self, s, pod):
        """The cache shows the pod pending and unbound, and it is not assumed anywhere: it waits in the queue."""
        return ((s.cache_pod_phase[SCHEDULER][pod] == PodPhase.PENDING)
                & (s.cache_pod_node[SCHEDULER][pod] == NONE) & (s.scheduler_assumed[pod] == NONE))

    def can_bind(self, s):
        """The request slot is free and no refusal waits to be read."""
        return (s.requests[SCHEDULER].verb == Verb.NONE) & (s.binding_refused == NONE)

    def refresh(self, s, client, pod):
        """The scheduler's event handler: a delivery that shows an assumed pod bound, or no longer pending, confirms
        it (kube-scheduler's cache ``AddPod``/``UpdatePod`` of an assumed pod)."""
        super().refresh(s, client, pod)
        phase, node = self.stored_view(s, client, pod)
        confirmed = (client == SCHEDULER) & ((node != NONE) | (phase != PodPhase.PENDING))
        s.scheduler_assumed[pod] = when(confirmed, NONE, s.scheduler_assumed[pod])

    def load(self, s, node):
        """Pods on ``node`` in the scheduler's view: bound there in its cache, or assumed there."""
        return count(self.Pods, lambda q: (s.scheduler_assumed[q] == node)
                     | ((s.cache_pod_node[SCHEDULER][q] == node) & s.cache_pod_phase[SCHEDULER][q].isin(*OCCUPYING)))

    def filters(self, s, pod, node):
        """Each filter's verdict for ``pod`` on ``node``, in the framework's order, keyed by the reason it gives."""
        load = self.load(s, node)
        return {
            Unschedulable.NO_READY_NODE: s.etcd_node_ready[node],
            Unschedulable.TAINT: ~self.tainted(node) | self.tolerates(pod),
            Unschedulable.AFFINITY: self.affinity_allows(node),
            Unschedulable.INSUFFICIENT_CPU: (load + 1) * self.pod_cpu <= self.node_cpu,
            Unschedulable.ANTI_AFFINITY: (load == 0) if self.anti_affinity else True,
        }

    def passes(self, s, pod, node, k=None):
        """``pod`` passes the first ``k`` filters on ``node`` (all of them by default): it fits."""
        verdicts = list(self.filters(s, pod, node).values())[:k]
        out = verdicts[0]
        for v in verdicts[1:]:
            out = out & v
        return out

    def unschedulable_reason(self, s, pod):
        """The reason of the filter that stopped the node that got furthest (when no node fits)."""
        reasons = list(Unschedulable)[1:]
        reason = reasons[0]
        for k in range(1, len(reasons)):
            reason = when(any_of(self.Nodes, lambda n, k=k: self.passes(s, pod, n, k)), reasons[k], reason)
        return reason

    def send_binding(self, s, pod, node):
        """Assume the pod on the node and send the Binding."""
        s.requests[SCHEDULER] = dict(NO_REQUEST, verb=Verb.BIND_POD, pod=pod, node=node)
        s.scheduler_assumed[pod] = node
        s.scheduler_unschedulable[pod] = Unschedulable.NONE

    # ---- actions ----

    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        """The scheduler assumes a queued pod on a node that fits and asks the API server to bind it there."""
        require(self.can_bind(s))
        require(self.queued(s, pod))
        require(self.passes(s, pod, node))
        self.send_binding(s, pod, node)

    @action
    def scheduler_forget_pod(self, s):
        """The scheduler reads that the API server refused its binding, and forgets the assumed pod (it is queued
        again if its cache still shows it pending)."""
        refused = s.binding_refused
        require(refused != NONE)
        s.scheduler_assumed[refused] = NONE
        s.binding_refused = NONE

    @action(pod=Pods)
    def scheduler_mark_unschedulable(self, s, pod):
        """The scheduler finds no node that fits a queued pod, records why, and leaves the pod pending."""
        require(self.queued(s, pod))
        require(~any_of(self.Nodes, lambda n: self.passes(s, pod, n)))
        reason = self.unschedulable_reason(s, pod)
        require(s.scheduler_unschedulable[pod] != reason)
        s.scheduler_unschedulable[pod] = reason

    # ---- properties: where the pods the scheduler placed are ----

    def placed(self, s, pod):
        """A pod the scheduler placed (not pinned) that the store shows bound."""
        return ~self.pinned(pod) & (s.etcd_pod_node[pod] != NONE)

    def placed_here(self, s, node):
        """Pods the scheduler placed on ``node`` that are pending or running there."""
        return count(self.Pods, lambda p: self.placed(s, p) & (s.etcd_pod_node[p] == node)
                     & s.etcd_pod_phase[p].isin(PodPhase.PENDING, PodPhase.RUNNING))

    @always
    def scheduler_respects_resources(self, s):
        """The pods the scheduler places on a node never request more CPU than the node can allocate."""
        return all_of(self.Nodes, lambda n: self.placed_here(s, n) * self.pod_cpu <= self.node_cpu)

    @always
    def scheduler_respects_taints(self, s):
        """The scheduler places a pod on a tainted node only if the pod tolerates the taint."""
        return all_of(self.Pods, lambda p: self.placed(s, p).implies(
            ~self.tainted(s.etcd_pod_node[p]) | self.tolerates(p)))

    @always
    def scheduler_respects_node_affinity(self, s):
        """The scheduler places a pod only on a node its required node affinity allows."""
        return all_of(self.Pods, lambda p: self.placed(s, p).implies(self.affinity_allows(s.etcd_pod_node[p])))

    @always
    def scheduler_respects_anti_affinity(self, s):
        """With required anti-affinity, the scheduler never places two pending or running pods on one node."""
        if not self.anti_affinity:
            return True
        return all_of(self.Nodes, lambda n: self.placed_here(s, n) <= 1)
