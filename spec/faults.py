"""Faults: the failures a control plane must survive, each with a budget.

Kubernetes components are built to tolerate crashes, partitions and lost watches: a
controller that restarts or relists must converge to the same place. The model injects
faults as actions of kind ``fault``, each bounded by a budget in the configuration, so
that a check covers every interleaving of at most that many faults; liveness checks
(convergence) consider runs in which faults eventually stop.

This file holds the faults that need no component of their own. A control-plane client's
dropped watch is the break and the relist in one step (``informer.py`` says why); a
kubelet's stops its deliveries until it relists.
"""

from __future__ import annotations

from kubecheck import Constant, Int, Var, action, any_of, require

from .informer import HANDLER_STATE, KubeletInformer, PodInformer
from .objects import Client, ClusterObjects

__all__ = ["Faults", "KubeletWatchFaults"]


class Faults(PodInformer):
    """Watch disconnects (node crashes, partitions and lease loss live with their components)."""

    component = "faults"
    owns = ("cache_pod_phase", "cache_pod_node", "watch_drops") + HANDLER_STATE   # a relist runs the handlers

    watch_disconnects = Constant(1, "budget of dropped watches (informers must relist)", min=0)

    watch_drops = Var(Int(0, watch_disconnects), init=0)    # watches dropped so far

    actions_paid_by = {"watch_disconnects": ("fault_drop_watch",)}

    @action(client=Client, kind="fault")
    def fault_drop_watch(self, s, client):
        """A client's watch connection breaks (a network error, or 410 Gone), and its informer lists every pod again and
        resumes watching."""
        require(client.isin(*self.watchers))
        require(s.watch_drops < self.watch_disconnects)
        require(any_of(self.Pods, lambda p: self.cache_stale(s, client, p)))   # else the relist changes nothing
        self.relist(s, client)
        s.watch_drops = s.watch_drops + 1


class KubeletWatchFaults(Faults, KubeletInformer):
    """Dropped watches of kubelets too, from the same budget."""

    component = "faults"
    owns = ("cache_pod_phase", "cache_pod_node", "kubelet_watching", "watch_drops") + HANDLER_STATE

    actions_paid_by = {"watch_disconnects": ("fault_drop_kubelet_watch",)}

    @action(node=ClusterObjects.Nodes, kind="fault")
    def fault_drop_kubelet_watch(self, s, node):
        """A kubelet's watch connection breaks: its cache stops updating until it relists."""
        require(self.kubelets_watch)
        require(s.kubelet_watching[node])
        require(s.watch_drops < self.watch_disconnects)
        s.kubelet_watching[node] = False
        s.watch_drops = s.watch_drops + 1
