"""The node lifecycle controller, the kubelet's heartbeats, and the faults that stop them.

In Kubernetes, each kubelet proves that its node is alive in two ways. It renews the
node's Lease (``kube-node-lease/<node>``) about every 10 seconds, a quarter of the lease
duration, and it posts the node's status, with a Ready condition computed from its own
health (container runtime, network), when that status changes and at least every five
minutes. The node lifecycle controller (kube-controller-manager,
``pkg/controller/nodelifecycle``) records, per node, when it last *observed* a new Lease
renewTime or a new status heartbeat. Once ``node-monitor-grace-period`` (40 seconds by
default) has passed since then, it sets the node's Ready condition to Unknown through the
API server ("Kubelet stopped posting node status"). It never sets Ready back to True: the
kubelet does, with its next status update. A node whose Ready condition is not True gets
the controller's NoExecute taint (``node.kubernetes.io/unreachable`` for Unknown,
``not-ready`` for False, each with a NoSchedule twin); a node that is Ready again loses
it. Taint-based eviction then deletes every pod on a NoExecute-tainted node that does not
tolerate the taint, once its ``tolerationSeconds`` run out: the DefaultTolerationSeconds
admission plugin gives every pod 300 seconds for both taints. Deletion is graceful, so an
evicted pod stays Terminating until its kubelet stops it and confirms. A kubelet that
cannot reach the API server never confirms, and its containers keep running.

The model keeps, per node: ``node_lease_age`` (FRESH or STALE: the time since the node's
last stored heartbeat, on the abstract clock below), the stored Ready condition
(``etcd_node_ready``, declared in ``etcd.py``: True or not, since Unknown and False are
the same to every reader here), the controller's taints as one flag
(``etcd_node_tainted``), the kubelet's heartbeat in flight, whether the node has crashed
or its kubelet is partitioned, and the controller's one request in flight (mark NotReady,
taint, untaint, or delete a pod). Every stored variable is written by an API server
action.

**Heartbeats.** The Lease renewal and the status update are one request here
(``kubelet_send_heartbeat``), stored as a fresh lease and Ready True. The controller
counts either as a heartbeat, so they differ only in that a renewal alone leaves Ready as
it was. While Ready is not True nothing in the model reads the lease's age (the
controller marks only Ready nodes NotReady), so a renewal landing before its status
update is invisible, and the merged request loses no behaviour that any reader, or any
property, can tell apart. The kubelet sends a heartbeat only when it changes something,
when the store shows its node not Ready or its lease stale; under the timing assumption
below, one sent earlier lands on a Ready node with a fresh lease, and changes nothing.

**Time.** There is no clock value, renewal interval or grace period. A clock action,
``clock_expire_node_lease``, makes a FRESH lease STALE; STALE means "the
controller may by now believe that the grace period has passed since the last
heartbeat", and the controller may then mark the node NotReady, or wait. The controller
reads the stored age rather than a lease cache: it counts from when its informer *showed*
a heartbeat, no earlier than when the API server stored it, so a lagging cache only
delays its verdict, and the model may delay it as long as it likes. The lease of a
crashed or partitioned kubelet may go stale at any moment, and surely does: time passes,
so the clock's step is weakly fair. The lease of a running, connected kubelet goes stale
only as a fault, ``fault_delay_heartbeat``, within the budget ``late_heartbeats``
(default 0): the model assumes that a heartbeat reaches the API server, and the controller's lease
informer, before the lease it renews goes stale, which holds when delays and kubelet
pauses stay below the grace period minus the renewal interval (30 seconds by default).
The same budget lets a crash or partition leave a heartbeat in flight that lands after
the cut, late. With ``late_heartbeats=1``, a healthy node is marked NotReady and its
pods evicted, as happens in Kubernetes under an overloaded API server; the tests pin it.

**Faults.** A node crash (``node_crashes``) stops the node's containers and its kubelet
for good: it sends nothing, starts nothing, and never confirms a deletion. A machine
that reboots comes back with no containers, which the control plane cannot tell from a
new machine under the old name; reboots are left out. A kubelet partition
(``kubelet_partitions``) cuts the kubelet off from the API server: its heartbeats, status
updates and watch stop, its containers keep running, and it acts on what its cache
showed last. The partition heals later (``network_heal_partition``, weakly fair: once
faults stop, the network recovers) and the kubelet's informer lists its pods again.

Left out, and why that is sound:

- Zones and the eviction rate limiter (``--node-eviction-rate``, partial and full
  disruption). They only slow or stop tainting and eviction; the controller here may
  wait as long as it likes before each step.
- Conditions other than Ready (memory, disk, PID pressure), and the not-ready taint as
  distinct from unreachable: a kubelet here is either healthy or silent.
- Tolerations with their own ``tolerationSeconds``, and pods that tolerate the taints
  for ever (DaemonSet pods): every pod has the default toleration, whose expiry is one
  nondeterministic step, the controller's eviction, taken at any moment after the taint.
- Optimistic concurrency on the controller's node writes. The real controller writes the
  Ready condition and the taints with the resourceVersion it read, and retries on 409;
  the API server here applies them unconditionally, which admits more interleavings.

Caveats, behaviours the model does not have:

- The controller reads nodes and pods from the store, where the real one reads informer
  caches. With a lagging node cache it can remove the taint of a node whose stored Ready
  is Unknown again (it decides on the cached True, then patches the fresh node); with a
  lagging pod cache it can delete a pod that was deleted and created again under the same
  name elsewhere (it deletes by name). The step properties below speak of what the
  controller reads; no state property relies on those transients being absent.
- Registration: every node starts registered, Ready, untainted, with a fresh lease,
  because ``etcd_node_ready`` starts True (``etcd.py``).
"""

from __future__ import annotations

from enum import IntEnum

from kubecheck import (NONE, Array, Constant, Int, Option, Record, Set, Var, action, all_of, always, require,
                       step_invariant, when)

from ..apiserver import ApiServerCore, PodDeleteApi, PodStatusApi
from ..etcd import Etcd
from ..informer import KubeletInformer
from ..kubelet import Kubelet
from ..objects import ClusterObjects, PodPhase, Verb
from ..runtime import ContainerRuntime

__all__ = ["NodeLeaseAge", "NodeVerb", "NodeStore", "NodeApi", "NodeLeaseClock", "NodeFaults", "KubeletHeartbeat",
           "NodeLifecycleController", "NODE_ETCD_VARIABLES", "NO_NODE_REQUEST"]

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods
EVICTABLE = (PodPhase.PENDING, PodPhase.RUNNING, PodPhase.FAILED)   # the phases a DELETE accepts (not yet deleted)


class NodeLeaseAge(IntEnum):
    """How long ago a node's last heartbeat was stored, on the abstract clock."""

    FRESH = 0   # within the node-monitor grace period
    STALE = 1   # the grace period may have passed: the controller may mark the node NotReady


class NodeVerb(IntEnum):
    """What the node lifecycle controller asks the API server to do (``NONE``: nothing in flight)."""

    NONE = 0
    MARK_NOT_READY = 1   # set the node's Ready condition to Unknown
    TAINT = 2            # add the unreachable NoExecute (and NoSchedule) taint
    UNTAINT = 3          # remove it
    EVICT = 4            # delete a pod on a tainted node (taint-based eviction)


NO_NODE_REQUEST = {"verb": NodeVerb.NONE, "node": NONE, "pod": NONE}
"""The controller's empty request slot."""

NODE_ETCD_VARIABLES = ("etcd_node_tainted",)
"""The stored variables of this file (``etcd_node_ready`` is ``etcd.py``'s)."""


class NodeStore(Etcd):
    """The node taints in etcd, and the age of each node's last heartbeat."""

    component = "etcd"
    owns = ()

    etcd_node_tainted = Var(Set(Nodes), init=False)                            # nodes with the unreachable taints
    node_lease_age = Var(Array(Nodes, NodeLeaseAge), init=NodeLeaseAge.FRESH)  # time since each node's last heartbeat


class NodeApi(NodeStore, PodDeleteApi):
    """The API server's handling of heartbeats and of the node lifecycle controller's requests.

    The age of a Lease is not stored (its renewTime is), so only the API server's storing
    of a heartbeat and the clock change it; it has no ``etcd_`` prefix for that reason.
    """

    component = "apiserver"
    owns = ApiServerCore.owns + NODE_ETCD_VARIABLES + ("node_lease_age", "heartbeats", "nlc_request")

    heartbeats = Var(Set(Nodes), init=False)         # kubelets whose heartbeat (Lease renewal and status) is in flight
    nlc_request = Var(Record(verb=NodeVerb, node=Option(Nodes), pod=Option(Pods)),
                      init=NO_NODE_REQUEST)          # the node lifecycle controller's request in flight

    def _serve_nlc(self, s, verb):
        """Take the controller's request if it is ``verb``; it blocks on the call, so the slot frees."""
        req = s.nlc_request
        require(req.verb == verb)
        s.nlc_request = NO_NODE_REQUEST
        return req

    @action(node=Nodes, fairness="weak")
    def apiserver_store_heartbeat(self, s, node):
        """The API server stores a kubelet's heartbeat: a new Lease renewTime, and the node status with Ready True."""
        require(s.heartbeats[node])
        s.heartbeats[node] = False
        s.etcd_node_ready[node] = True
        s.node_lease_age[node] = NodeLeaseAge.FRESH

    @action(fairness="weak")
    def apiserver_mark_node_not_ready(self, s):
        """The API server stores the controller's Ready=Unknown for a node."""
        req = self._serve_nlc(s, NodeVerb.MARK_NOT_READY)
        s.etcd_node_ready[req.node] = False

    @action(fairness="weak")
    def apiserver_taint_node(self, s):
        """The API server adds the controller's unreachable taints to a node."""
        req = self._serve_nlc(s, NodeVerb.TAINT)
        s.etcd_node_tainted[req.node] = True

    @action(fairness="weak")
    def apiserver_untaint_node(self, s):
        """The API server removes the controller's unreachable taints from a node."""
        req = self._serve_nlc(s, NodeVerb.UNTAINT)
        s.etcd_node_tainted[req.node] = False

    @action(fairness="weak")
    def apiserver_evict_pod(self, s):
        """The API server handles the controller's pod deletion like any other (graceful for bound pods)."""
        self._delete_pod(s, self._serve_nlc(s, NodeVerb.EVICT))


class NodeFaults(KubeletInformer, NodeApi, ContainerRuntime):
    """Node crashes and kubelet partitions, each with a budget, the healing of a partition, and late heartbeats."""

    component = "faults"
    owns = ("node_down", "node_partitioned", "node_crashes_so_far", "partitions_so_far", "late_heartbeats_so_far",
            "heartbeats", "runtime_running", "kubelet_watching")

    node_crashes = Constant(1, "budget of node crashes (the machine stops for good)", min=0)
    kubelet_partitions = Constant(1, "budget of kubelet partitions (cut off from the API server, heals later)", min=0)
    late_heartbeats = Constant(0, "budget of late heartbeats (a connected kubelet's lease goes stale, or a heartbeat "
                                  "lands after its kubelet was cut off)", min=0)

    node_down = Var(Set(Nodes), init=False)                              # crashed nodes: no kubelet, no containers
    node_partitioned = Var(Set(Nodes), init=False)                       # kubelets that cannot reach the API server
    node_crashes_so_far = Var(Int(0, node_crashes), init=0)              # node crashes so far
    partitions_so_far = Var(Int(0, kubelet_partitions), init=0)          # kubelet partitions so far
    late_heartbeats_so_far = Var(Int(0, late_heartbeats), init=0)        # late heartbeats so far

    actions_paid_by = {"node_crashes": ("fault_crash_node",),
                       "kubelet_partitions": ("fault_partition_kubelet", "network_heal_partition")}

    def kubelet_alive(self, s, node):
        """The node runs, and so does its kubelet."""
        return ~s.node_down[node]

    def kubelet_connected(self, s, node):
        """The kubelet runs and reaches the API server."""
        return ~s.node_down[node] & ~s.node_partitioned[node]

    def may_be_late(self, s, late):
        """The late-heartbeat budget allows ``late`` (a Bool: whether this step is one)."""
        return ~late | (s.late_heartbeats_so_far < self.late_heartbeats)

    def count_late(self, s, late):
        """Count the step against the late-heartbeat budget if it is a late one."""
        s.late_heartbeats_so_far = when(late, s.late_heartbeats_so_far + 1, s.late_heartbeats_so_far)

    def cut_off(self, s, node, heartbeat_in_flight):
        """The kubelet's watch breaks; a heartbeat it sent just before (none is in flight yet) may still land, late."""
        require(~heartbeat_in_flight | ~s.heartbeats[node])
        require(self.may_be_late(s, heartbeat_in_flight))
        s.kubelet_watching[node] = False
        s.heartbeats[node] = s.heartbeats[node] | heartbeat_in_flight
        self.count_late(s, heartbeat_in_flight)

    @action(node=Nodes, heartbeat_in_flight=bool, kind="fault")
    def fault_crash_node(self, s, node, heartbeat_in_flight):
        """A node stops: its containers die with it, and its kubelet sends and watches nothing from now on."""
        require(~s.node_down[node])
        require(s.node_crashes_so_far < self.node_crashes)
        self.cut_off(s, node, heartbeat_in_flight)
        s.node_down[node] = True
        s.runtime_running[node].set_all(False)
        s.node_crashes_so_far = s.node_crashes_so_far + 1

    @action(node=Nodes, heartbeat_in_flight=bool, kind="fault")
    def fault_partition_kubelet(self, s, node, heartbeat_in_flight):
        """A running node's kubelet loses the API server: its watch breaks, its containers keep running."""
        require(self.kubelet_connected(s, node))
        require(s.partitions_so_far < self.kubelet_partitions)
        self.cut_off(s, node, heartbeat_in_flight)
        s.node_partitioned[node] = True
        s.partitions_so_far = s.partitions_so_far + 1

    @action(node=Nodes, fairness="weak")
    def network_heal_partition(self, s, node):
        """The network between a kubelet and the API server recovers (faults stop, so a partition surely heals)."""
        require(s.node_partitioned[node])
        s.node_partitioned[node] = False

    @always
    def no_pods_run_on_crashed_nodes(self, s):
        """No containers run on a crashed node."""
        return all_of(self.Nodes, lambda n: s.node_down[n].implies(self.running_count(s, n) == 0))


class NodeLeaseClock(NodeFaults):
    """Time passing: a silent kubelet's heartbeat surely grows old; a healthy one's only as a fault, within its budget."""

    component = "clock"
    owns = ("node_lease_age", "late_heartbeats_so_far")

    actions_paid_by = {"late_heartbeats": ("fault_delay_heartbeat",)}

    @action(node=Nodes, fairness="weak")
    def clock_expire_node_lease(self, s, node):
        """The grace period passes since the last heartbeat of a node whose kubelet is down or cut off."""
        require(~self.kubelet_connected(s, node))
        require(s.node_lease_age[node] == NodeLeaseAge.FRESH)
        s.node_lease_age[node] = NodeLeaseAge.STALE

    @action(node=Nodes, kind="fault")
    def fault_delay_heartbeat(self, s, node):
        """A connected kubelet's heartbeat is late (an overloaded API server, a paused kubelet): its lease goes
        stale."""
        require(self.kubelet_connected(s, node))
        require(s.node_lease_age[node] == NodeLeaseAge.FRESH)
        require(s.late_heartbeats_so_far < self.late_heartbeats)
        s.node_lease_age[node] = NodeLeaseAge.STALE
        s.late_heartbeats_so_far = s.late_heartbeats_so_far + 1


class KubeletHeartbeat(NodeFaults, Kubelet):
    """Each kubelet's heartbeats, and the kubelet acting only while its node runs and its network lets it.

    The kubelet judges its own readiness from its runtime, not from the Ready condition the
    control plane stores: a partitioned kubelet cannot read that condition, and keeps
    running its pods and starting the ones its cache shows. So ``ready_to_sync`` asks
    whether the node runs, where ``kubelet.py`` asks the store.
    """

    component = "kubelet"
    owns = Kubelet.owns + ("heartbeats",)

    def ready_to_sync(self, s, node):
        """The node runs (its kubelet and runtime are up) and the kubelet has no update in flight."""
        return self.kubelet_alive(s, node) & (s.kubelet_requests[node].verb == Verb.NONE)

    @action(node=Nodes, fairness="weak")
    def kubelet_send_heartbeat(self, s, node):
        """The kubelet renews its node's Lease and posts its status, Ready True, when that changes the store."""
        require(self.kubelet_connected(s, node))
        require(~s.heartbeats[node])
        require(~s.etcd_node_ready[node] | (s.node_lease_age[node] == NodeLeaseAge.STALE))
        s.heartbeats[node] = True

    @action(node=Nodes, pod=Pods)
    def kubelet_stop_pod(self, s, node, pod):
        """The kubelet of a running node stops a terminating pod's containers and asks for its removal."""
        require(self.kubelet_alive(s, node))
        Kubelet.kubelet_stop_pod.fn(self, s, node, pod)

    # ---- the network: a partitioned kubelet's calls and watch do not reach the API server ----

    @action(node=Nodes, component="apiserver")
    def apiserver_update_pod_status(self, s, node):
        """The API server handles a pod status update from a kubelet it can reach."""
        require(~s.node_partitioned[node])
        PodStatusApi.apiserver_update_pod_status.fn(self, s, node)

    @action(node=Nodes, component="apiserver")
    def apiserver_remove_pod(self, s, node):
        """The API server handles a removal confirmed by a kubelet it can reach."""
        require(~s.node_partitioned[node])
        PodStatusApi.apiserver_remove_pod.fn(self, s, node)

    @action(node=Nodes, component="informer")
    def informer_relist_kubelet(self, s, node):
        """A running, connected kubelet's informer lists its pods again after its watch broke."""
        require(self.kubelet_connected(s, node))
        KubeletInformer.informer_relist_kubelet.fn(self, s, node)

    @always
    def pods_run_where_bound(self, s):
        """A pod runs only on the node the store binds it to (Ready or not: see ``node_model.py``)."""
        return all_of(self.Nodes, lambda n: all_of(self.Pods, lambda p: self.runs(s, n, p).implies(
            s.etcd_pod_node[p] == n)))


class NodeLifecycleController(NodeApi):
    """Marks stale nodes NotReady, taints NotReady nodes, untaints Ready ones, and evicts the pods of tainted ones."""

    component = "node_lifecycle_controller"
    owns = ("nlc_request",)

    def send_node_request(self, s, verb, node=NONE, pod=NONE):
        """Send one request, when none is in flight."""
        require(s.nlc_request.verb == NodeVerb.NONE)
        s.nlc_request = {"verb": verb, "node": node, "pod": pod}

    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_mark_not_ready(self, s, node):
        """The controller sets Ready to Unknown on a Ready node whose lease has gone stale."""
        require(s.node_lease_age[node] == NodeLeaseAge.STALE)
        require(s.etcd_node_ready[node])
        self.send_node_request(s, NodeVerb.MARK_NOT_READY, node=node)

    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_taint_node(self, s, node):
        """The controller taints a node whose Ready condition is not True (NoExecute, unreachable)."""
        require(~s.etcd_node_ready[node])
        require(~s.etcd_node_tainted[node])
        self.send_node_request(s, NodeVerb.TAINT, node=node)

    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_untaint_node(self, s, node):
        """The controller removes its taints from a node that is Ready again."""
        require(s.etcd_node_ready[node])
        require(s.etcd_node_tainted[node])
        self.send_node_request(s, NodeVerb.UNTAINT, node=node)

    @action(pod=Pods, fairness="weak")
    def node_lifecycle_controller_evict_pod(self, s, pod):
        """Once its toleration runs out, the controller deletes a pod bound to a tainted node."""
        node = s.etcd_pod_node[pod]
        require((node != NONE) & s.etcd_node_tainted[node])
        require(s.etcd_pod_phase[pod].isin(*EVICTABLE))
        self.send_node_request(s, NodeVerb.EVICT, pod=pod)

    # ---- properties: what the controller decides on ----

    def sends(self, pre, post, step, verb):
        """The step is the controller sending ``verb``."""
        return (step.by("node_lifecycle_controller") & (pre.nlc_request.verb == NodeVerb.NONE)
                & (post.nlc_request.verb == verb))

    @step_invariant
    def marks_not_ready_only_on_stale_lease(self, pre, post, step):
        """The controller marks a node NotReady only when the node's lease has gone stale."""
        return self.sends(pre, post, step, NodeVerb.MARK_NOT_READY).implies(
            pre.node_lease_age[post.nlc_request.node] == NodeLeaseAge.STALE)

    @step_invariant
    def untaints_only_ready_nodes(self, pre, post, step):
        """The controller removes its taints only from a node whose Ready condition is True."""
        return self.sends(pre, post, step, NodeVerb.UNTAINT).implies(pre.etcd_node_ready[post.nlc_request.node])

    @step_invariant
    def evicts_only_from_tainted_nodes(self, pre, post, step):
        """The controller deletes only pods bound to a node it has tainted."""
        pod = post.nlc_request.pod
        node = pre.etcd_pod_node[pod]
        return self.sends(pre, post, step, NodeVerb.EVICT).implies((node != NONE) & pre.etcd_node_tainted[node])
