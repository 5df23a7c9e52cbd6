"""The ReplicaSet benchmark model that TLC, SPIN and a plain-Python BFS were measured on.

A ReplicaSet controller keeps ``replicas`` pods alive. It reads pod status through an
informer cache that can lag behind the store; a scheduler binds pending pods to nodes
that are up; a kubelet starts the pods bound to its node; nodes fail (a bounded number
of times) and come back empty; terminating pods are garbage-collected.

This is ``../shared/anchors/models/ReplicaSet.tla`` action for action, with the same
semantics, so the state counts agree with TLC's, SPIN's and the plain-Python BFS's
exactly (27,153 distinct states for C1 = (N=3, K=2, F=1, R=2)). It keeps one ReplicaSet,
pod status and binding, a single controller cache, node up/down. It leaves out the API
server, resourceVersions, expectations and the rest of the control plane: the full model
lives in the other files of ``spec/``.

``no_over_provision`` fails: the stale cache lets the controller create a third pod
before the informer syncs, the real bug that Kubernetes fixed with "expectations". Nor
does it converge (``replicaset_converges``, checked with ``--liveness``; the measure of
liveness checking at scale in docs/performance.md): with no fault at all, a fair run
creates three pods, sees them all, deletes all three before its cache shows the first
deletion, and starts again, for ever (a 16-step lasso). Expectations stop both.
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, Constant, Domain, Int, Model, Option, Set, Var, action, all_of, always,
                       converges, count, require, sometimes, when)

__all__ = ["Phase", "ReplicaSetAnchor"]


class Phase(IntEnum):
    """A pod's status in the store (and in the controller's cache)."""

    ABSENT = 0
    PENDING = 1
    RUNNING = 2
    TERMINATING = 3


class ReplicaSetAnchor(Model):
    """ReplicaSet reconciliation against a stale informer cache (the benchmark model)."""

    name = "replicaset-anchor"

    pods = Constant(3, "pod slots (N)", min=1)
    nodes = Constant(2, "nodes (K)", min=1)
    max_failures = Constant(1, "node-failure budget (F)", min=0)
    replicas = Constant(2, "desired replicas (R)", min=0)

    Pods = Domain("pod", size=pods)
    Nodes = Domain("node", size=nodes)
    symmetric = (Pods, Nodes)   # pod slots and nodes are interchangeable (--symmetry)
    # Every system action is weakly fair: a controller, scheduler, kubelet or informer step that stays possible is
    # taken. The TLA+ anchor states no fairness; fairness matters only to liveness, so the counts are TLC's.
    fairness = "weak"

    status = Var(Array(Pods, Phase), init=Phase.ABSENT)     # actual status of each pod slot, in the store
    node = Var(Array(Pods, Option(Nodes)), init=NONE)       # the node each pod is bound to; NONE while unbound
    cache = Var(Array(Pods, Phase), init=Phase.ABSENT)      # the controller's informer copy of status
    up = Var(Set(Nodes), init=True)                         # the nodes that are up
    failures = Var(Int(0, max_failures), init=0)            # node failures so far

    def cached_active(self, s):
        """Replicas the controller believes exist: cached Pending or Running pods."""
        return count(self.Pods, lambda p: s.cache[p].isin(Phase.PENDING, Phase.RUNNING))

    @action(pod=Pods)
    def controller_create_pod(self, s, pod):
        """The controller creates a pod in a free slot when its cache shows too few."""
        require(self.cached_active(s) < self.replicas)
        require(s.status[pod] == Phase.ABSENT)
        s.status[pod] = Phase.PENDING

    @action(pod=Pods)
    def controller_delete_pod(self, s, pod):
        """The controller deletes a running pod when its cache shows too many."""
        require(self.cached_active(s) > self.replicas)
        require(s.cache[pod] == Phase.RUNNING)
        require(s.status[pod] == Phase.RUNNING)
        s.status[pod] = Phase.TERMINATING

    @action(pod=Pods)
    def gc_remove_pod(self, s, pod):
        """Garbage collection removes a terminating pod."""
        require(s.status[pod] == Phase.TERMINATING)
        s.status[pod] = Phase.ABSENT
        s.node[pod] = NONE

    @action
    def informer_sync(self, s):
        """The informer brings the controller's cache up to date with the store."""
        s.cache = s.status

    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        """The scheduler binds an unbound pending pod to a node that is up."""
        require(s.status[pod] == Phase.PENDING)
        require(s.node[pod] == NONE)
        require(s.up[node])
        s.node[pod] = node

    @action(node=Nodes, pod=Pods)
    def kubelet_start_pod(self, s, node, pod):
        """The kubelet on a node that is up starts a pending pod bound to it."""
        require(s.up[node])
        require(s.status[pod] == Phase.PENDING)
        require(s.node[pod] == node)
        s.status[pod] = Phase.RUNNING

    @action(node=Nodes, kind="fault")
    def node_fail(self, s, node):
        """A node fails (at most max_failures times in all) and every pod bound to it is lost."""
        require(s.up[node])
        require(s.failures < self.max_failures)
        s.up[node] = False
        s.failures = s.failures + 1
        s.status.set_all(lambda p: when(s.node[p] == node, Phase.ABSENT, s.status[p]))
        s.node.set_all(lambda p: when(s.node[p] == node, NONE, s.node[p]))

    @action(node=Nodes, kind="environment")
    def node_recover(self, s, node):
        """A failed node comes back, empty."""
        require(~s.up[node])
        s.up[node] = True

    @always
    def node_consistency(self, s):
        """Absent pods are unbound; running and terminating pods are bound; bound pods are on up nodes."""
        return all_of(self.Pods, lambda p:
                      ((s.status[p] == Phase.ABSENT).implies(s.node[p] == NONE))
                      & (s.status[p].isin(Phase.RUNNING, Phase.TERMINATING).implies(s.node[p] != NONE))
                      & ((s.node[p] != NONE).implies(s.up[s.node[p]])))

    @always
    def no_over_provision(self, s):
        """Never more running pods than desired replicas (fails: the cache is stale)."""
        return count(self.Pods, lambda p: s.status[p] == Phase.RUNNING) <= self.replicas

    @converges
    def replicaset_converges(self, s):
        """Once nodes stop failing (a failed node may stay down: recovery is the environment's), exactly
        ``replicas`` pods run, none is pending or terminating, and the cache shows them, wherever a node is up
        (fails: the stale cache makes the controller thrash)."""
        settled = all_of(self.Pods, lambda p: s.status[p].isin(Phase.ABSENT, Phase.RUNNING) & (s.cache[p] == s.status[p]))
        return s.up.any(), settled & (count(self.Pods, lambda p: s.status[p] == Phase.RUNNING) == self.replicas)

    @sometimes
    def replicas_running(self, s):
        """Some state has the desired number of pods running (so the model is not vacuous)."""
        return count(self.Pods, lambda p: s.status[p] == Phase.RUNNING) == self.replicas
