"""Informers: the client-side caches that every controller, the scheduler and kubelets read.

In Kubernetes, a client does not read the API server for every decision. An informer
lists the objects once, then watches for changes and applies each event, in order, to a
local cache; the client's control loop reads that cache, which can lag behind the store.
When a watch breaks (a network error, or 410 Gone because the resourceVersion is too
old), the informer lists everything again (a relist) and resumes watching.

The model keeps, per client, a cached copy of every pod slot's phase and node, and
whether its watch is open. Event delivery is per object and in order: an event brings
one object's cached copy up to its stored value, at any time after the change. A copy
that jumps to the latest value skips the intermediate versions a slow watcher would see
one by one; the controllers modelled here act on the latest state of each object they
read, so seeing an older intermediate version is the same as not having received the
later events yet, which the model does include (the cache may lag arbitrarily).

A dropped watch (a fault, ``faults.py``) is one step: the watch breaks and the informer
lists every pod again. The outage between the two is not kept as a state of its own:
while it lasts the cache receives nothing, which is a lag that per-object delivery
already allows, and the break touches nothing but that flag, so it can always be moved
forward to just before the relist (it is a right mover, in Lipton's terms). An earlier
version kept the flag: the same reachable caches, and twice the states of the cluster.

Kubelets watch only the pods bound to their node (a field selector), so their caches are
separate, indexed by node, and show a pod bound elsewhere as absent.

A cache keeps only what its client reads (``cached_view``, which components narrow): the
scheduler does not tell a Running pod from a Pending one once it is bound, the
ReplicaSet and Deployment controllers never read a pod's node, and a kubelet reads only
whether a pod bound to it exists and whether it is being deleted (the Running or Failed
status it wrote itself reads as Pending). An event that changes nothing the client
reads would change only a copy nobody looks at, so leaving it out removes no behaviour
of any component; it removes states that differ only in such copies.

A model lists the clients that run an informer in ``watchers`` so that no other client's
cache adds states. ``PodInformer`` serves control-plane clients and ``KubeletInformer``
kubelets; ``Informer`` is both.
"""

from __future__ import annotations

from kubecheck import NONE, Array, Option, Set, Var, action, any_of, require, when

from .etcd import Etcd
from .objects import Client, ClusterObjects, PodPhase

__all__ = ["PodInformer", "KubeletInformer", "Informer", "HANDLER_STATE"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods


HANDLER_STATE = ("rsc_expect_add", "rsc_expect_del", "cache_pod_owner", "scheduler_assumed", "epc_queued")
"""What the event handlers that consumers register write (ReplicaSet expectations and owner references, the
scheduler's assumed pods, the endpoints queue). A handler runs in the delivery that calls it, so every action that
delivers pod events (a watch event, a relist) writes these too, in models that hold them."""


class PodInformer(Etcd):
    """Watch-fed caches of pods for the control-plane clients listed in ``watchers``."""

    component = "informer"
    owns = ("cache_pod_phase", "cache_pod_node") + HANDLER_STATE

    watchers: tuple[Client, ...] = ()      # the control-plane clients that run a pod informer in this model

    cache_pod_phase = Var(Array(Client, Array(Pods, PodPhase)), init=PodPhase.ABSENT)   # each client's view of pod phases
    cache_pod_node = Var(Array(Client, Array(Pods, Option(Nodes))), init=NONE)         # each client's view of bindings

    # ---- what a client's cache shows, for the components that read it ----

    def cached_phase(self, s, client, pod):
        return s.cache_pod_phase[client][pod]

    def cached_node(self, s, client, pod):
        return s.cache_pod_node[client][pod]

    def cached_view(self, client, phase, node):
        """What ``client``'s cache keeps of a pod with this stored ``phase`` and ``node``: all of it, unless a
        component narrows it to what it reads (override, and call ``super()``)."""
        return phase, node

    def stored_view(self, s, client, pod):
        """The cache's copy of ``pod`` once it is up to date."""
        return self.cached_view(client, s.etcd_pod_phase[pod], s.etcd_pod_node[pod])

    def cache_stale(self, s, client, pod):
        """``client``'s copy of ``pod`` differs from what an up-to-date copy would keep."""
        phase, node = self.stored_view(s, client, pod)
        return (s.cache_pod_phase[client][pod] != phase) | (s.cache_pod_node[client][pod] != node)

    # ---- actions ----

    @action(client=Client, pod=Pods)
    def informer_deliver_pod_event(self, s, client, pod):
        """A watch event brings one pod's cached copy up to date."""
        require(client.isin(*self.watchers))
        require(self.cache_stale(s, client, pod))
        self.refresh(s, client, pod)
        self.run_handlers(s, client, (pod,))

    def refresh(self, s, client, pod):
        """Bring ``client``'s copy of ``pod`` up to date (components that cache more fields extend it)."""
        phase, node = self.stored_view(s, client, pod)
        s.cache_pod_phase[client][pod] = phase
        s.cache_pod_node[client][pod] = node

    def relist(self, s, client):
        """The informer lists every pod again: each cached copy is brought up to date at once."""
        for pod in self.Pods:
            self.refresh(s, client, pod)
        self.run_handlers(s, client, tuple(self.Pods))

    def run_handlers(self, s, client, pods):
        """The event handlers that other components register on ``client``'s informer, run once for a delivery of
        ``pods`` (reads see the copies before it). None by default; a composition whose controllers share an
        informer overrides it. Per-pod bookkeeping belongs in ``refresh``; this is for writes that several pods'
        events share, such as a work queue."""

    def cache_is_fresh(self, s, client):
        """The client's cache equals the store, as far as it keeps it (used by convergence predicates)."""
        return ~any_of(self.Pods, lambda p: self.cache_stale(s, client, p))


class KubeletInformer(Etcd):
    """Each kubelet's watch-fed cache of the pods bound to its node."""

    component = "informer"
    owns = ("kubelet_cache_pod_phase", "kubelet_watching")

    kubelets_watch: bool = True            # models can turn kubelets' informers off

    kubelet_cache_pod_phase = Var(Array(Nodes, Array(Pods, PodPhase)), init=PodPhase.ABSENT)  # each kubelet's view of its pods
    kubelet_watching = Var(Set(Nodes), init=True)                                       # kubelets whose watch is open

    def kubelet_view(self, s, node, pod):
        """What the kubelet on ``node`` keeps of ``pod``: absent unless bound there, and Terminating or Pending (the
        Running or Failed status the kubelet wrote itself reads as Pending)."""
        phase = s.etcd_pod_phase[pod]
        kept = when(phase.isin(PodPhase.RUNNING, PodPhase.FAILED), PodPhase.PENDING, phase)
        return when(s.etcd_pod_node[pod] == node, kept, PodPhase.ABSENT)

    @action(node=Nodes, pod=Pods)
    def informer_deliver_kubelet_event(self, s, node, pod):
        """A watch event brings the kubelet's copy of one of its pods up to date."""
        require(self.kubelets_watch)
        require(s.kubelet_watching[node])
        require(s.kubelet_cache_pod_phase[node][pod] != self.kubelet_view(s, node, pod))
        s.kubelet_cache_pod_phase[node][pod] = self.kubelet_view(s, node, pod)

    @action(node=Nodes)
    def informer_relist_kubelet(self, s, node):
        """After a dropped watch, the kubelet's informer lists its pods again."""
        require(self.kubelets_watch)
        require(~s.kubelet_watching[node])
        s.kubelet_cache_pod_phase[node].set_all(lambda p: self.kubelet_view(s, node, p))
        s.kubelet_watching[node] = True


class Informer(PodInformer, KubeletInformer):
    """Both kinds of cache."""

    component = "informer"
