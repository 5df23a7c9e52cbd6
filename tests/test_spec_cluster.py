"""The cluster model: every component together, the default configuration and smaller ones pinned exactly.

The default configuration (a Deployment of 2 replicas, a node crash, a dropped watch) is
pinned with symmetry and liveness in a slow test, on both engines; the others pin one
replica in one pod slot, with and without the node crash, and show the properties the
composition adds failing when one guard is removed. ``cluster_converges`` holds for one
replica with a spare slot through a crash, and a ReplicaSet controller that counts
terminating pods never converges (its lasso pinned).
"""

from __future__ import annotations

import functools

import pytest

from kubecheck import action, always, count, require
from kubecheck.result import CheckResult
from kubecheck.spec.cluster import ClusterModel
from kubecheck.spec.controllers.node import NodeLeaseAge
from kubecheck.spec.controllers.replicaset import ACTIVE
from kubecheck.spec.objects import PodPhase
from liveness_checks import check as check_liveness
from test_examples import counts, run_both, shortest_counterexample, summary

Nodes = ClusterModel.Nodes

SMALL = {"replicas": 1, "pod_slots": 1, "node_crashes": 0, "watch_disconnects": 0}
CRASH = {"replicas": 1, "pod_slots": 1, "watch_disconnects": 0}

SAFETY = ("single_writer_etcd", "no_lost_update", "one_leader", "leader_holds_lease", "scheduler_respects_resources",
          "scheduler_respects_taints", "scheduler_respects_node_affinity", "scheduler_respects_anti_affinity",
          "pod_runs_on_one_node", "pods_run_where_bound", "failed_pods_never_run", "node_cpu_never_overcommitted",
          "no_pods_run_on_crashed_nodes", "marks_not_ready_only_on_stale_lease", "untaints_only_ready_nodes",
          "evicts_only_from_tainted_nodes", "controllers_act_only_under_a_leader", "running_pods_on_ready_nodes",
          "pods_within_surge")
ALL_HOLD = dict(dict.fromkeys(SAFETY + ("deployment_serves", "replacement_serves_after_a_crash"), "holds"),
                cluster_converges="not_checked", single_writer_etcd="proved")   # proved before exploring


def test_the_default_configuration_is_the_issue_s_cluster():
    model = ClusterModel()
    config = model.config
    assert (config["nodes"], config["replicas"], config["replicas_per_role"], config["node_crashes"],
            config["watch_disconnects"]) == (2, 2, 2, 1, 1)
    assert {p.name for p in model.ir.properties if p.kind in ("always", "step")} == set(SAFETY)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["vector", "explicit"])
def test_the_default_configuration_with_symmetry(engine):
    # What `kubecheck check --liveness` runs (on the vectorized engine, the default), one state per orbit; the
    # reference engine must find the same. With liveness: once faults stop, the cluster converges.
    checker = ClusterModel().checker().engine(engine).symmetry().liveness()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 2_582_005, 16_498_151, 70)
    assert s["verdicts"] == dict(ALL_HOLD, cluster_converges="holds")
    # Coverage: every action fired but the ones the configuration leaves dormant, and none of those.
    assert s["dormant"] == DEFAULT_DORMANT
    assert [name for name, fired, _ in s["coverage"] if fired == 0] == list(DEFAULT_DORMANT)
    assert s["woke"] == []


# What the default configuration gives no cause to fire, in action order, and the setting that would.
ROLLOUT = "user_scales = image_updates = 0"
COMEBACK = "kubelet_partitions = late_heartbeats = 0"
DEFAULT_DORMANT = {
    "elector_step_down": "lease_losses = 0",
    "apiserver_remove_pod": "user_scales = image_updates = kubelet_partitions = late_heartbeats = 0",
    "apiserver_delete_pod": ROLLOUT,
    "apiserver_delete_replicaset": "image_updates = 0",
    "apiserver_update_replicaset": ROLLOUT,
    "replicaset_controller_delete_pod": ROLLOUT,
    "deployment_controller_scale_new_replicaset": ROLLOUT,
    "deployment_controller_scale_down_old_replicaset": "image_updates = 0",
    "deployment_controller_delete_old_replicaset": "image_updates = 0",
    "apiserver_update_deployment": ROLLOUT,
    "user_scale_deployment": "user_scales = 0",
    "user_update_image": "image_updates = 0",
    "scheduler_forget_pod": ROLLOUT,
    "scheduler_mark_unschedulable": "the replicas fit on the nodes no crash takes",
    "apiserver_store_heartbeat": COMEBACK,
    "apiserver_untaint_node": COMEBACK,
    "informer_relist_kubelet": "kubelet_partitions = 0",
    "kubelet_reject_pod": "every pod passes the scheduler (pinned_pods = 0)",
    "kubelet_fail_image_pull": "image_pull_failures = 0",
    "kubelet_stop_pod": "user_scales = image_updates = kubelet_partitions = late_heartbeats = 0",
    "fault_partition_kubelet": "kubelet_partitions = 0",
    "network_heal_partition": "kubelet_partitions = 0",
    "kubelet_send_heartbeat": COMEBACK,
    "node_lifecycle_controller_untaint_node": COMEBACK,
    "fault_delay_heartbeat": "late_heartbeats = 0",
}


def test_the_default_configuration_declares_what_it_leaves_dormant():
    model = ClusterModel()
    assert model.ir.dormant == DEFAULT_DORMANT
    assert len(model.ir.actions) - len(DEFAULT_DORMANT) == 39


# Each budget or setting, raised from the small configuration, wakes the actions it pays for: the counts, the
# actions still unfired (live, but not reached at this size), and the violations (a partitioned or late kubelet
# runs its pods on a NotReady node; one replica in one slot has no room to be replaced).
WAKES = [
    ({}, (1_322, 3_979, 29), [], ["replacement_serves_after_a_crash"]),
    ({"lease_losses": 1}, (12_696, 52_457, 34), [], ["replacement_serves_after_a_crash"]),
    ({"watch_disconnects": 1}, (2_246, 7_633, 29), [], ["replacement_serves_after_a_crash"]),
    ({"user_scales": 1}, (20_352, 82_447, 47), ["replicaset_controller_end_burst", "scheduler_mark_unschedulable"],
     ["replacement_serves_after_a_crash"]),
    ({"image_updates": 1, "pod_slots": 2, "replicaset_slots": 2}, (1_143_600, 5_863_545, 67),
     ["replicaset_controller_end_burst", "deployment_controller_scale_new_replicaset", "scheduler_mark_unschedulable"],
     ["replacement_serves_after_a_crash"]),
    ({"image_pull_failures": 1}, (1_902, 5_823, 29), [], ["replacement_serves_after_a_crash"]),
    ({"kubelet_partitions": 1}, (264_032, 1_291_117, 69), ["scheduler_mark_unschedulable"],
     ["running_pods_on_ready_nodes", "replacement_serves_after_a_crash"]),
    ({"late_heartbeats": 1}, (174_324, 827_001, 67), ["scheduler_mark_unschedulable"],
     ["running_pods_on_ready_nodes", "replacement_serves_after_a_crash"]),
    ({"node_crashes": 1}, (18_382, 67_583, 42), [], []),
    ({"replicas": 2, "pod_slots": 3, "node_cpu": 1, "node_crashes": 1}, (3_063_614, 15_823_443, 61),
     ["replicaset_controller_end_burst"], ["replacement_serves_after_a_crash"]),
]


@functools.cache
def wake(index: int) -> CheckResult:
    """The run of the WAKES configuration at ``index`` (each runs once, whichever test asks first)."""
    return ClusterModel(**dict(SMALL, **WAKES[index][0])).checker().run()


@pytest.mark.parametrize("index", range(len(WAKES)), ids=[str(w[0]) for w in WAKES])
def test_a_budget_wakes_the_actions_it_pays_for(index):
    _, sizes, unfired, violated = WAKES[index]
    result = wake(index)
    assert (result.stopped_by, result.distinct_states, result.total_states, result.depth) == ("complete",) + sizes
    assert [c.name for c in result.coverage if not c.dormant and c.fired == 0] == unfired
    assert [c.name for c in result.coverage if c.woke] == []
    assert result.violated() == violated


def test_every_action_dormant_by_default_fires_in_some_configuration():
    fired = {c.name for index in range(len(WAKES)) for c in wake(index).coverage if c.fired}
    # Kubelet admission has nothing to refuse in the cluster: its pods all pass the scheduler.
    assert set(DEFAULT_DORMANT) - fired == {"kubelet_reject_pod"}


def test_one_replica_without_faults_on_both_engines():
    _, s = run_both(ClusterModel(**SMALL).checker())
    assert counts(s) == ("complete", 1_322, 3_979, 29)
    assert s["verdicts"] == dict(ALL_HOLD, replacement_serves_after_a_crash="violated")


def test_one_replica_through_a_node_crash():
    checker = ClusterModel(**CRASH).checker()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 18_382, 67_583, 42)
    assert s["verdicts"] == ALL_HOLD
    assert s["notes"]["deployment_serves"] == "witness: 25 steps"
    assert s["notes"]["replacement_serves_after_a_crash"] == "witness: 26 steps"


LEADER = ["elector_request_lease(role=CONTROLLER_MANAGER, replica=replica1)",
          "apiserver_update_lease(role=CONTROLLER_MANAGER, replica=replica1)",
          "elector_take_lease(role=CONTROLLER_MANAGER, replica=replica1)"]
# The Deployment is posted, stored, and picked up by the Deployment and ReplicaSet controllers; its pod is
# created, scheduled to node1, and started by node1's kubelet.
POD_STARTS = LEADER + [
    "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
    "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
    "informer_deliver_replicaset_event(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
    "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
    "informer_deliver_pod_event(client=SCHEDULER, pod=pod1)", "scheduler_bind_pod(pod=pod1, node=node1)",
    "apiserver_bind_pod(client=SCHEDULER)", "informer_deliver_kubelet_event(node=node1, pod=pod1)",
    "kubelet_start_pod(node=node1, pod=pod1)"]


# ---- the seed's process flow, step by step -----------------------------------------------------

class SeedFlowProbe(ClusterModel):
    """Asks for the shortest run in which the Deployment's pod runs, is listed and routed."""

    @always
    def seed_flow_never_completes(self, s):
        return ~self.replicas_serve(s)


def test_the_seed_flow_is_one_pinned_trace():
    model = SeedFlowProbe(**SMALL)
    result = model.checker().properties("seed_flow_never_completes").first().run()
    # The leader is elected and the Service posted first (the Service then waits for pods);
    # the pod's Running status is stored, the endpoints list it, and node1's kube-proxy routes to it.
    trace = result.properties["seed_flow_never_completes"].counterexample.labels(model.ir)
    assert trace == LEADER + ["user_create_service", "apiserver_create_service",
                              "endpoints_informer_deliver_service_event"] + POD_STARTS[len(LEADER):] + [
        "apiserver_update_pod_status(node=node1)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod1)",
        "endpoints_controller_sync", "apiserver_update_endpoints", "kube_proxy_sync_rules(node=node1)"]


# ---- the composition's own properties, each broken in one named way -------------------------------

class ControllersWithoutLeaderElection(ClusterModel):
    """The controllers act whether or not a replica leads (the gate on leadership is gone)."""

    def gate(self, s, component):
        return None


class HealthyLeaseExpires(ClusterModel):
    """The clock lets a healthy, connected kubelet's lease go stale (the late-heartbeat budget is not checked)."""

    @action(node=Nodes, kind="environment")
    def clock_expire_node_lease(self, s, node):
        require(s.node_lease_age[node] == NodeLeaseAge.FRESH)
        s.node_lease_age[node] = NodeLeaseAge.STALE


class ReplicaSetSyncIgnoresExpectations(ClusterModel):
    """The ReplicaSet controller syncs before its cache shows the pods it created (its expectations are ignored)."""

    @action(rs=ClusterModel.ReplicaSets, fairness="weak")
    def replicaset_controller_sync(self, s, rs):
        self.plan_burst(s, rs)


ELECTED = ["elector_request_lease(role=CONTROLLER_MANAGER, replica=replica1)",
           "apiserver_update_lease(role=CONTROLLER_MANAGER, replica=replica1)",
           "elector_take_lease(role=CONTROLLER_MANAGER, replica=replica1)"]
RS_CREATED = ["user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
              "deployment_controller_create_replicaset(rs=rs1)",
              "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)", "informer_deliver_replicaset_event(rs=rs1)"]


def _creates(pod):
    return ["replicaset_controller_sync(rs=rs1)", f"replicaset_controller_create_pod(pod={pod})",
            "apiserver_create_pod(client=REPLICASET_CONTROLLER)"]


VARIANTS = [
    # No replica leads, and the endpoints controller syncs the new Service anyway.
    (ControllersWithoutLeaderElection, SMALL, "controllers_act_only_under_a_leader", [
        "user_create_service", "apiserver_create_service", "endpoints_informer_deliver_service_event",
        "endpoints_controller_skip_sync"]),
    # node1's lease goes stale although its kubelet is healthy, and the controller marks it NotReady under its pod.
    (HealthyLeaseExpires, SMALL, "running_pods_on_ready_nodes", POD_STARTS + [
        "clock_expire_node_lease(node=node1)", "node_lifecycle_controller_mark_not_ready(node=node1)",
        "apiserver_mark_node_not_ready"]),
    # One replica in three slots: each sync runs before the cache shows the pod the last one created.
    (ReplicaSetSyncIgnoresExpectations, dict(SMALL, pod_slots=3), "pods_within_surge", ELECTED + RS_CREATED
     + _creates("pod1") + ["replicaset_controller_handle_response"] + _creates("pod2")
     + ["replicaset_controller_handle_response"] + _creates("pod3")),
]


@pytest.mark.parametrize("variant, config, prop, trace", VARIANTS)
def test_a_broken_guard_is_caught_by_the_shortest_counterexample(variant, config, prop, trace):
    assert shortest_counterexample(variant(**config), prop) == trace


# ---- convergence: checked with liveness on both engines -------------------------------------------

CONVERGES = dict(SMALL, pod_slots=2, node_crashes=1)   # one replica, a spare slot for its replacement, one crash
SMALL_NEVER_FIRED = ["action `replicaset_controller_end_burst` never fired: its guard is false in every reachable "
                     "state (usually a spec bug)."]   # one replica: no burst of creates ever has a second one to end


def test_one_replica_converges_through_a_node_crash():
    _, s = check_liveness(ClusterModel(**CONVERGES))
    assert s["counts"] == ("complete", 65_604, 251_695, 55)
    assert s["verdicts"] == dict(ALL_HOLD, cluster_converges="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == SMALL_NEVER_FIRED


class CountsTerminatingPodsAsActive(ClusterModel):
    """The ReplicaSet controller counts its terminating pods as active (Kubernetes' FilterActivePods leaves out
    pods with a deletionTimestamp), so a pod evicted from a crashed node, which terminates for ever, is never
    replaced."""

    def cached_active(self, s, rs):
        return count(self.Pods, lambda p: self.cached_pod_phase(s, p).isin(*ACTIVE, PodPhase.TERMINATING)
                     & (self.cached_owner(s, p) == rs))


def test_a_controller_that_counts_terminating_pods_never_replaces_an_evicted_one():
    _, s = check_liveness(CountsTerminatingPodsAsActive(**CONVERGES))
    assert s["counts"] == ("complete", 33_684, 123_927, 41)
    assert s["verdicts"] == dict(ALL_HOLD, cluster_converges="violated")   # the safety properties miss it
    # pod1 is bound to node1, which crashes; its lease goes stale, the node lifecycle controller marks it
    # NotReady, taints it and evicts pod1, which stays Terminating on a machine that never comes back. The
    # ReplicaSet controller still counts it, creates nothing, and the cluster stays one replica short.
    assert s["lassos"] == {"cluster_converges": (ELECTED + RS_CREATED + _creates("pod1") + [
        "informer_deliver_pod_event(client=SCHEDULER, pod=pod1)", "replicaset_controller_handle_response",
        "scheduler_bind_pod(pod=pod1, node=node1)", "apiserver_bind_pod(client=SCHEDULER)",
        "fault_crash_node(node=node1, heartbeat_in_flight=false)", "clock_expire_node_lease(node=node1)",
        "node_lifecycle_controller_mark_not_ready(node=node1)", "apiserver_mark_node_not_ready",
        "node_lifecycle_controller_taint_node(node=node1)", "apiserver_taint_node",
        "node_lifecycle_controller_evict_pod(pod=pod1)", "apiserver_evict_pod",
        "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod1)",
        "informer_deliver_pod_event(client=SCHEDULER, pod=pod1)"], 26, None)}   # it stutters: nothing fair is enabled
    assert s["warnings"] == SMALL_NEVER_FIRED
