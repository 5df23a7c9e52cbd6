"""The node lifecycle model: pinned figures, each guard shown to matter, and what Kubernetes does not promise.

The default configuration (2 nodes, one crash, one partition, 2 pod slots of which users
fill one) is checked exhaustively on the default engine, and two smaller ones on the
reference evaluator too, which must agree on everything. Each broken variant below is a
subclass that overrides one action to drop or weaken one guard, and the test pins the
shortest counterexample of the property that guard protects. The naive node-health
invariants at the end are not guarantees of Kubernetes; their counterexamples are the
findings. With liveness, both engines find that ``node_lifecycle_converges`` holds at the
default configuration; a controller that leaves the taint of a node Ready again keeps every
safety property and never converges, and that lasso is pinned.
"""

from __future__ import annotations

import pytest

from kubecheck import NONE, ConfigError, action, all_of, always, any_of, require, when
from kubecheck.spec.controllers.node import EVICTABLE, NodeLeaseAge, NodeVerb
from kubecheck.spec.node_model import NodeLifecycleModel
from kubecheck.spec.objects import PodPhase, Verb
from kubecheck.spec.scheduler import Unschedulable
from liveness_checks import check
from test_examples import counts, run_both, shortest_counterexample, summary
from test_spec_scheduler import bind_ignoring, never_fired

Nodes, Pods = NodeLifecycleModel.Nodes, NodeLifecycleModel.Pods

# The properties this slice adds or restates; the scheduling ones are broken in test_spec_scheduler.py.
NODE_SAFETY = ("single_writer_etcd", "pods_run_where_bound", "no_pods_run_on_crashed_nodes",
               "marks_not_ready_only_on_stale_lease", "untaints_only_ready_nodes", "evicts_only_from_tainted_nodes",
               "scheduler_binds_only_to_ready_nodes")
SCHEDULING_SAFETY = ("scheduler_respects_resources", "scheduler_respects_taints", "scheduler_respects_node_affinity",
                     "scheduler_respects_anti_affinity", "pod_runs_on_one_node", "failed_pods_never_run",
                     "node_cpu_never_overcommitted", "no_lost_update")
ALL_HOLD = dict(dict.fromkeys(SCHEDULING_SAFETY + NODE_SAFETY + ("node_recovers", "partitioned_node_runs_evicted_pod"),
                              "holds"), single_writer_etcd="proved")   # by the ownership check, before exploring
VERDICTS = dict(ALL_HOLD, node_lifecycle_converges="not_checked")
TEMPORAL = ("property `node_lifecycle_converges` (converges) is temporal; it is checked with --liveness, so it was "
            "not checked.")


# ---- the default configuration -----------------------------------------------------------------

def test_default_configuration():
    checker = NodeLifecycleModel().checker()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 189_349, 797_089, 34)
    assert s["verdicts"] == VERDICTS
    assert s["notes"] == {"single_writer_etcd": "proved for every state, before exploring: only apiserver actions write its 4 variables", 
                          "node_recovers": "witness: 9 steps", "partitioned_node_runs_evicted_pod": "witness: 12 steps",
                          "node_lifecycle_converges": "temporal: checked with --liveness"}
    assert s["warnings"] == [TEMPORAL]                # every action but the dormant one fires
    assert s["dormant"] == {"fault_delay_heartbeat": "late_heartbeats = 0"}
    assert [name for name, fired, _ in s["coverage"] if fired == 0] == ["fault_delay_heartbeat"]
    assert s["exit_code"] == 3                        # no violation; convergence is left to a liveness engine


def test_the_model_leaves_out_what_the_scheduling_model_checks():
    ir = NodeLifecycleModel().ir
    names = {a.name for a in ir.actions}
    assert not names & {"user_create_invalid_pod", "informer_relist", "fault_drop_watch"}
    assert "invalid_pods_are_never_stored" not in {p.name for p in ir.properties}


def test_default_engine_agrees_with_the_evaluator():
    # Without crashes, deletions and image pull failures (the evaluator takes about 3 s on this).
    _, s = run_both(NodeLifecycleModel(node_crashes=0, user_deletes=0, image_pull_failures=0).checker())
    assert counts(s) == ("complete", 4_272, 13_552, 24)
    assert s["verdicts"] == VERDICTS
    # No binding is refused: without deletions, a pod the scheduler may bind is still pending and unbound in the store.
    assert s["warnings"] == [TEMPORAL] + never_fired("scheduler_forget_pod", "apiserver_delete_pod")
    assert s["dormant"] == {"user_delete_pod": "user_deletes = 0", "kubelet_fail_image_pull": "image_pull_failures = 0",
                            "fault_crash_node": "node_crashes = 0", "fault_delay_heartbeat": "late_heartbeats = 0"}


def test_default_engine_agrees_with_the_evaluator_on_late_heartbeats():
    # Node health alone (no pods), both faults, and one late heartbeat: a healthy kubelet's lease
    # goes stale, or a crash or partition leaves a heartbeat in flight (the evaluator takes about 2 s).
    _, s = run_both(NodeLifecycleModel(late_heartbeats=1, user_creates=0).checker())
    assert counts(s) == ("complete", 5_001, 18_955, 21)
    assert s["verdicts"] == dict(VERDICTS, partitioned_node_runs_evicted_pod="violated")   # no pod, no witness
    assert s["warnings"] == [TEMPORAL] + never_fired(
        "apiserver_bind_pod", "informer_deliver_pod_event", "scheduler_bind_pod", "scheduler_forget_pod",
        "scheduler_mark_unschedulable", "apiserver_update_pod_status", "apiserver_remove_pod",
        "apiserver_delete_pod", "apiserver_create_pod", "user_delete_pod", "apiserver_evict_pod",
        "informer_deliver_kubelet_event", "kubelet_start_pod", "kubelet_reject_pod", "kubelet_fail_image_pull",
        "kubelet_stop_pod", "node_lifecycle_controller_evict_pod")
    # The model declares only what a budget of 0 pays for: the steps downstream of pods are still flagged.
    assert s["dormant"] == {"user_create_pod": "user_creates = 0", "user_create_pod_on_node": "user_creates = 0"}


# ---- broken variants: one guard removed, one property fails -----------------------------------------

class ControllerMarksFreshNodes(NodeLifecycleModel):
    """Marks a Ready node NotReady without waiting for its lease to go stale."""

    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_mark_not_ready(self, s, node):
        require(s.etcd_node_ready[node])
        self.send_node_request(s, NodeVerb.MARK_NOT_READY, node=node)


class ControllerUntaintsNotReadyNodes(NodeLifecycleModel):
    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_untaint_node(self, s, node):
        require(s.etcd_node_tainted[node])
        self.send_node_request(s, NodeVerb.UNTAINT, node=node)


class ControllerEvictsFromUntaintedNodes(NodeLifecycleModel):
    @action(pod=Pods, fairness="weak")
    def node_lifecycle_controller_evict_pod(self, s, pod):
        require(s.etcd_pod_node[pod] != NONE)
        require(s.etcd_pod_phase[pod].isin(*EVICTABLE))
        self.send_node_request(s, NodeVerb.EVICT, pod=pod)


class ControllerWritesTheStore(NodeLifecycleModel):
    """Also writes Ready=Unknown into etcd itself, besides asking the API server."""

    @action(node=Nodes, fairness="weak")
    def node_lifecycle_controller_mark_not_ready(self, s, node):
        require(s.node_lease_age[node] == NodeLeaseAge.STALE)
        require(s.etcd_node_ready[node])
        self.send_node_request(s, NodeVerb.MARK_NOT_READY, node=node)
        s.etcd_node_ready[node] = False


class KubeletRunsOnCrashedNodes(NodeLifecycleModel):
    """A kubelet that does not check that its node runs: what the stored Ready guard of kubelet.py stood in for."""

    @action(node=Nodes, pod=Pods)
    def kubelet_start_pod(self, s, node, pod):
        require(s.kubelet_requests[node].verb == Verb.NONE)
        require(self.new_pod(s, node, pod))
        require(self.admits(s, node))
        self.start_containers(s, node, pod)
        self.report(s, node, pod, PodPhase.RUNNING)


class SchedulerBindsToNotReadyNodes(NodeLifecycleModel):
    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node, Unschedulable.NO_READY_NODE)


class ApiServerForceDeletesEvictedPods(NodeLifecycleModel):
    """Deletes an evicted pod at once, bound or not (``--force --grace-period=0``), without its kubelet's word."""

    @action(fairness="weak")
    def apiserver_evict_pod(self, s):
        req = self._serve_nlc(s, NodeVerb.EVICT)
        ok = s.etcd_pod_phase[req.pod].isin(*EVICTABLE)
        s.etcd_pod_phase[req.pod] = when(ok, PodPhase.ABSENT, s.etcd_pod_phase[req.pod])
        s.etcd_pod_node[req.pod] = when(ok, NONE, s.etcd_pod_node[req.pod])


def crash(node):
    return f"fault_crash_node(node={node}, heartbeat_in_flight=false)"


def partition(node):
    return f"fault_partition_kubelet(node={node}, heartbeat_in_flight=false)"


# node1's lease goes stale, and the controller marks it NotReady, then taints it.
MARKED = ["clock_expire_node_lease(node=node1)", "node_lifecycle_controller_mark_not_ready(node=node1)",
          "apiserver_mark_node_not_ready"]
TAINTED = MARKED + ["node_lifecycle_controller_taint_node(node=node1)", "apiserver_taint_node"]
# A pod that names node1 is created and started there.
RUNS_ON_NODE1 = ["user_create_pod_on_node(pod=pod2, node=node1)", "apiserver_create_pod(client=USER)",
                 "informer_deliver_kubelet_event(node=node1, pod=pod2)", "kubelet_start_pod(node=node1, pod=pod2)"]
EVICTED_WHILE_PARTITIONED = RUNS_ON_NODE1 + [partition("node1")] + TAINTED + [
    "node_lifecycle_controller_evict_pod(pod=pod2)", "apiserver_evict_pod"]


VARIANTS = [
    (ControllerMarksFreshNodes, {}, "marks_not_ready_only_on_stale_lease",
     ["node_lifecycle_controller_mark_not_ready(node=node1)"]),
    # The crashed node is marked and tainted; nothing has made it Ready again.
    (ControllerUntaintsNotReadyNodes, {}, "untaints_only_ready_nodes",
     [crash("node1")] + TAINTED + ["node_lifecycle_controller_untaint_node(node=node1)"]),
    (ControllerEvictsFromUntaintedNodes, {}, "evicts_only_from_tainted_nodes", [
        "user_create_pod_on_node(pod=pod2, node=node1)", "apiserver_create_pod(client=USER)",
        "node_lifecycle_controller_evict_pod(pod=pod2)"]),
    (ControllerWritesTheStore, {}, "single_writer_etcd", [crash("node1")] + MARKED[:2]),
    # The kubelet learnt of the pod before its node crashed.
    (KubeletRunsOnCrashedNodes, {}, "no_pods_run_on_crashed_nodes", RUNS_ON_NODE1[:3] + [
        crash("node1"), "kubelet_start_pod(node=node1, pod=pod2)"]),
    # Node affinity allows node1 only, and node1 has crashed and been marked NotReady.
    (SchedulerBindsToNotReadyNodes, {}, "scheduler_binds_only_to_ready_nodes", [
        "user_create_pod(pod=pod1)", "apiserver_create_pod(client=USER)",
        "informer_deliver_pod_event(client=SCHEDULER, pod=pod1)", crash("node1")] + MARKED + [
        "scheduler_bind_pod(pod=pod1, node=node1)"]),
    # The pod's object is gone while its containers run on the partitioned node.
    (ApiServerForceDeletesEvictedPods, {}, "pods_run_where_bound", EVICTED_WHILE_PARTITIONED),
]


@pytest.mark.parametrize("variant, config, prop, trace", VARIANTS)
def test_a_broken_guard_is_caught_by_the_shortest_counterexample(variant, config, prop, trace):
    assert shortest_counterexample(variant(**config), prop) == trace


def test_every_safety_property_of_this_slice_has_a_broken_variant():
    assert {prop for _, _, prop, _ in VARIANTS} == set(NODE_SAFETY)
    kinds = {p.name: p.kind for p in NodeLifecycleModel().ir.properties}
    assert {n for n, k in kinds.items() if k in ("always", "step")} == set(NODE_SAFETY + SCHEDULING_SAFETY)


# ---- what Kubernetes does not promise ---------------------------------------------------------------

class NaiveNodeHealth(NodeLifecycleModel):
    """Invariants one might expect of node health, which the real system does not have."""

    @always
    def running_pods_are_on_ready_nodes(self, s):
        """Issue 4's first wording: a pod runs only on a node whose Ready condition is True."""
        return all_of(self.Nodes, lambda n: all_of(self.Pods, lambda p: self.runs(s, n, p).implies(
            s.etcd_node_ready[n])))

    @always
    def evicted_pods_do_not_run(self, s):
        """A pod whose deletion the store records runs on no tainted node."""
        return all_of(self.Nodes, lambda n: s.etcd_node_tainted[n].implies(~any_of(self.Pods, lambda p: self.runs(
            s, n, p) & (s.etcd_pod_phase[p] == PodPhase.TERMINATING))))

    @always
    def ready_nodes_have_fresh_leases(self, s):
        """A node the store shows Ready has a fresh lease."""
        return all_of(self.Nodes, lambda n: s.etcd_node_ready[n].implies(s.node_lease_age[n] == NodeLeaseAge.FRESH))


@pytest.mark.parametrize("config, prop, trace", [
    # A partitioned kubelet keeps its pod running after the control plane has marked its node NotReady.
    ({}, "running_pods_are_on_ready_nodes", RUNS_ON_NODE1 + [partition("node1")] + MARKED),
    # The same with no fault at all: one heartbeat of a healthy kubelet comes too late.
    ({"late_heartbeats": 1, "node_crashes": 0, "kubelet_partitions": 0}, "running_pods_are_on_ready_nodes",
     RUNS_ON_NODE1 + ["fault_delay_heartbeat(node=node1)"] + MARKED[1:]),
    # Taint-based eviction cannot stop the containers of a kubelet it cannot reach. (Without users' deletions,
    # so that the deletion is the controller's.)
    ({"user_deletes": 0}, "evicted_pods_do_not_run", EVICTED_WHILE_PARTITIONED),
    # Ready stays True until the controller's next pass: only the kubelet sets it, and only the controller clears it.
    ({}, "ready_nodes_have_fresh_leases", [crash("node1"), "clock_expire_node_lease(node=node1)"]),
])
def test_naive_node_health_invariants_fail(config, prop, trace):
    assert shortest_counterexample(NaiveNodeHealth(**config), prop) == trace


# ---- a pod name used again ----------------------------------------------------------------------

def test_a_pod_name_used_again_is_never_taken_for_the_old_pod():
    # With two creations a pod name is used again after an eviction. Were the kubelet's cache to show
    # the first pod Terminating after its removal, the kubelet would confirm the removal twice, and the
    # second confirmation would remove the new pod, which it would then start: a real confirmation
    # carries the pod's UID and is refused. The removal reaches the kubelet's cache in the same step
    # (Kubelet._remove_pod), so that never happens.
    model = NodeLifecycleModel(user_creates=2, late_heartbeats=1, node_crashes=0, kubelet_partitions=0,
                               user_deletes=0, image_pull_failures=0)
    result = model.checker().properties("pods_run_where_bound", "pod_runs_on_one_node").run()
    assert (result.stopped_by, result.distinct_states, result.total_states, result.depth) == (
        "complete", 32_832, 131_406, 35)
    assert {n: p.verdict for n, p in result.properties.items()} == {
        "pods_run_where_bound": "holds", "pod_runs_on_one_node": "holds"}


# ---- convergence: checked with liveness on both engines ---------------------------------------------

def test_default_configuration_converges():
    _, s = check(NodeLifecycleModel())
    assert s["counts"] == ("complete", 189_349, 797_089, 34)
    assert s["verdicts"] == dict(ALL_HOLD, node_lifecycle_converges="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == []


class ControllerLeavesTheUnreachableTaint(NodeLifecycleModel):
    """The controller's untaint removes the not-ready taint only: a node Ready again keeps its unreachable taint."""

    @action(fairness="weak")
    def apiserver_untaint_node(self, s):
        self._serve_nlc(s, NodeVerb.UNTAINT)    # the patch names a taint the node does not carry: nothing changes


def test_a_controller_that_leaves_the_taint_of_a_ready_node_never_converges():
    # One node, no crash: the partition alone does it. The pod names node1, so the kubelet refuses nothing.
    _, s = check(ControllerLeavesTheUnreachableTaint(nodes=1, node_crashes=0))
    assert s["counts"] == ("complete", 12_050, 44_674, 27)
    assert s["verdicts"] == dict(ALL_HOLD, node_lifecycle_converges="violated")   # the safety properties miss it
    # The partition heals while the lease is stale; the kubelet's heartbeat is in flight when the controller
    # marks the node NotReady and decides to taint it, and it lands first, so the taint lands on a Ready node.
    # From there the controller asks to untaint it for ever, and each patch leaves the taint in place.
    assert s["lassos"] == {"node_lifecycle_converges": ([
        partition("node1"), "clock_expire_node_lease(node=node1)", "network_heal_partition(node=node1)",
        "informer_relist_kubelet(node=node1)", "kubelet_send_heartbeat(node=node1)"] + MARKED[1:] + [
        "node_lifecycle_controller_taint_node(node=node1)", "apiserver_store_heartbeat(node=node1)",
        "apiserver_taint_node", "node_lifecycle_controller_untaint_node(node=node1)"], 10, "apiserver_untaint_node")}
    assert s["warnings"] == never_fired("kubelet_reject_pod")


# ---- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"node_crashes": -1}, "config key `node_crashes` of model `node-lifecycle` must be at least 0 (budget of node "
                           "crashes (the machine stops for good)); got -1."),
    ({"affinity_nodes": 3}, "affinity_nodes (3) cannot exceed nodes (2); lower it or raise nodes."),
])
def test_impossible_configurations_are_refused(config, message):
    with pytest.raises(ConfigError) as err:
        NodeLifecycleModel(**config)
    assert str(err.value) == message
