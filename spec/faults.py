"""Faults: the failures a control plane must survive, each with a budget.

Kubernetes components are built to tolerate crashes, partitions and lost watches: a
controller that restarts or relists must converge to the same place. The model injects
faults as actions of kind ``fault``, each bounded by a budget in the configuration, so
that a check covers every interleaving of at most that many faults; liveness checks
(convergence) consider runs in which faults eventually stop.

This file holds the faults that need no component of their own. A dropped watch stops
an informer's deliveries until it relists (``informer.py``).
"""

from __future__ import annotations

from kubecheck import Constant, Int, Var, action, require

from .informer import KubeletInformer, PodInformer
from .objects import Client, ClusterObjects

__all__ = ["Faults", "KubeletWatchFaults"]


class Faults(PodInformer):
    """Watch disconnects (node crashes, partitions and lease loss live with their components)."""

    component = "faults"
    owns = ("watching", "watch_drops")

    watch_disconnects = Constant(1, "budget of dropped watches (informers must relist)", min=0)

    watch_drops = Var(Int(0, watch_disconnects), init=0)    # watches dropped so far

    @action(client=Client, kind="fault")
    def fault_drop_watch(self, s, client):
        """A client's watch connection breaks (a network error, or 410 Gone): its cache stops updating."""
        require(client.isin(*self.watchers))
        require(s.watching[client])
        require(s.watch_drops < self.watch_disconnects)
        s.watching[client] = False
        s.watch_drops = s.watch_drops + 1


class KubeletWatchFaults(Faults, KubeletInformer):
    """Dropped watches of kubelets too, from the same budget."""

    component = "faults"
    owns = ("watching", "kubelet_watching", "watch_drops")

    @action(node=ClusterObjects.Nodes, kind="fault")
    def fault_drop_kubelet_watch(self, s, node):
        """A kubelet's watch connection breaks: its cache stops updating until it relists."""
        require(self.kubelets_watch)
        require(s.kubelet_watching[node])
        require(s.watch_drops < self.watch_disconnects)
        s.kubelet_watching[node] = False
        s.watch_drops = s.watch_drops + 1
