"""The node lifecycle model: heartbeats, NotReady nodes, taints and evictions, under crashes and partitions.

This model composes what happens to pods when nodes fail. Users create pods
(``users.py``), the scheduler binds them to Ready nodes (``scheduler.py``), kubelets run
them (``kubelet.py``) and send heartbeats, and the node lifecycle controller marks a node
whose heartbeats stop NotReady, taints it and evicts its pods (``controllers/node.py``).
A node may crash, and a kubelet may lose the API server and find it again (faults with
budgets).

What Kubernetes guarantees, checked here:

- A crashed node runs nothing (``no_pods_run_on_crashed_nodes``), and a pod runs only on
  the node the store binds it to (``pods_run_where_bound``), NotReady or not.
- The scheduler binds pods only to nodes that are Ready when it decides
  (``scheduler_binds_only_to_ready_nodes``). The node may go NotReady before the binding
  lands, so "bound pods are on Ready nodes" is not claimed.
- The controller marks NotReady only nodes whose lease has gone stale, untaints only
  Ready nodes, and evicts only the pods of tainted nodes (three step properties).
- The scheduling model's properties (resources, taints, affinity, one node per pod,
  failed pods never run) still hold with nodes going NotReady.

What it does not guarantee: "running pods are on Ready nodes". NotReady means that the
control plane has not heard from a node, which says nothing about its containers. A
partitioned kubelet keeps running its pods after the control plane has marked its node
NotReady, tainted it and deleted the pods; ``partitioned_node_runs_evicted_pod`` reaches
that state, and ``tests/test_spec_node.py`` pins the counterexamples to the naive
invariants. This is why a StatefulSet pod on an unreachable node stays Terminating, and
why Kubernetes asks for fencing before anyone force-deletes it.

The default configuration has 2 nodes and 2 pod slots; node affinity allows node1 only,
and the second slot's pod names its node, so kubelet admission refuses it on node2. Users
create one pod and delete one; one node may crash, one kubelet be partitioned, and one
image pull fail; healthy kubelets' heartbeats are on time (``late_heartbeats=0``). It has
189,349 distinct states (797,089 generated, 34 levels, under a second on the default
engine). Every action fires, every safety property holds, and each fails, with a pinned
shortest counterexample, when one guard is removed. Users create one pod because pods
carry no UID: after an eviction a second creation may reuse the name, and a kubelet's
stale removal then lands on the new pod, a spurious counterexample the tests pin.
Malformed posts and the scheduler's dropped watch are left out: the scheduling model
checks them, and here they would multiply the states about fourfold and threefold.

Convergence (once faults stop, every node whose kubelet runs and reaches the API server
ends up Ready and untainted) holds (``--liveness``); a controller that leaves the taint of a
node that is Ready again breaks it (tests/test_spec_node.py pins the lasso). Deadlocks are
not checked: a settled cluster waits for change.
"""

from __future__ import annotations

from kubecheck import Constant, Model, all_of, any_of, converges, sometimes, step_invariant

from .controllers.node import KubeletHeartbeat, NodeLeaseClock, NodeLifecycleController
from .objects import Client, ClusterObjects, PodPhase, Verb
from .scheduler import Scheduler
from .users import Users

__all__ = ["NodeLifecycleModel"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods
SCHEDULER = Client.SCHEDULER


class NodeLifecycleModel(NodeLifecycleController, NodeLeaseClock, KubeletHeartbeat, Users, Scheduler, Model):
    """Users, the scheduler, kubelets with heartbeats, and the node lifecycle controller, under node faults."""

    name = "node-lifecycle"
    watchers = (SCHEDULER,)

    tainted_nodes = Constant(0, "nodes, the first ones, with a NoSchedule taint", min=0)
    affinity_nodes = Constant(1, "required node affinity: pods run only on the first N nodes (0: none)", min=0)
    user_creates = Constant(1, "budget of pods users create", min=0)

    # Left out of this model (inherited members set to None are not part of it):
    user_create_invalid_pod = None         # malformed posts: the API server's validation, not node health
    invalid_pods_are_never_stored = None   # ... and the property about them

    @step_invariant
    def scheduler_binds_only_to_ready_nodes(self, pre, post, step):
        """The scheduler sends a binding only to a node whose Ready condition is True when it decides."""
        sent = step.by("scheduler") & (pre.requests[SCHEDULER].verb == Verb.NONE) & (
            post.requests[SCHEDULER].verb == Verb.BIND_POD)
        return sent.implies(pre.etcd_node_ready[post.requests[SCHEDULER].node])

    @sometimes
    def node_recovers(self, s):
        """Some node was marked NotReady and tainted, and is Ready again (its taint not yet removed)."""
        return any_of(self.Nodes, lambda n: s.etcd_node_ready[n] & s.etcd_node_tainted[n])

    @sometimes
    def partitioned_node_runs_evicted_pod(self, s):
        """A pod runs on a partitioned node that the store shows NotReady and tainted, and the pod deleted."""
        return any_of(self.Nodes, lambda n: s.node_partitioned[n] & ~s.etcd_node_ready[n] & s.etcd_node_tainted[n]
                      & any_of(self.Pods, lambda p: self.runs(s, n, p)
                               & (s.etcd_pod_phase[p] == PodPhase.TERMINATING)))

    @converges
    def node_lifecycle_converges(self, s):
        """Once faults and the clock stop, every node whose kubelet runs and is connected is Ready and untainted."""
        return True, all_of(self.Nodes, lambda n: self.kubelet_connected(s, n).implies(
            s.etcd_node_ready[n] & ~s.etcd_node_tainted[n]))
