"""The deployment model: pinned figures, the findings, and each guarantee shown able to fail."""

from __future__ import annotations

import pytest

from kubecheck import ConfigError, action, require, when
from kubecheck.explicit import explore
from kubecheck.spec.controllers.replicaset import ReplicaSets, RsClient, RsVerb
from kubecheck.spec.deployment_model import DeploymentModel
from liveness_checks import check

# Small configurations: no scale and no dropped watch. Every finding below still shows.
NO_SCALE = {"user_scales": 0, "watch_disconnects": 0}


def verdicts(result):
    return {n: p.verdict for n, p in result.properties.items()}


def labels(result, ir, prop):
    return result.properties[prop].counterexample.labels(ir)


# The first 10 steps of every stale-ReplicaSet-cache run: the image changes before the
# controller's cache shows the ReplicaSet it has just created, so it creates the second
# ReplicaSet with all the replicas, as if there were no first one.
STALE_RS_CACHE = [
    "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
    "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
    "user_update_image", "apiserver_update_deployment", "informer_deliver_deployment_event",
    "deployment_controller_create_replicaset(rs=rs2)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)"]

# The first ReplicaSet gets its two pods; pod1 starts after the cache has shown it pending.
FIRST_ROLLOUT = [
    "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
    "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
    "informer_deliver_replicaset_event(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
    "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
    "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod1)", "standin_pod_starts(pod=pod1)",
    "replicaset_controller_handle_response",
    "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
    "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod2)", "replicaset_controller_handle_response"]


def test_default_configuration():
    ir = DeploymentModel().ir
    r = explore(ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 636272, 3123858, 61)
    assert verdicts(r) == {
        "single_writer_etcd": "proved",
        "replicasets_within_surge": "violated",             # finding: the stale ReplicaSet cache
        "scale_ups_within_surge_as_seen": "holds",
        "pods_within_surge": "holds",                       # 3 pod slots = replicas + max_surge: see below
        "availability_kept": "violated",                    # finding: the stale pod cache
        "scale_downs_keep_availability_as_seen": "holds",
        "rollout_completes": "holds",
        "deployment_converges": "not_checked"}
    assert [c.name for c in r.coverage if c.fired == 0] == []
    assert labels(r, ir, "replicasets_within_surge") == STALE_RS_CACHE
    # A scale to 1 while the cache still shows the running pod1 pending: the ReplicaSet
    # controller deletes pending pods first, as its cache shows them, and deletes pod1. The
    # shortest run lets a dropped watch's relist bring both pods into the cache in one step,
    # before pod1 starts (FIRST_ROLLOUT, with no fault, is one step longer).
    assert labels(r, ir, "availability_kept") == FIRST_ROLLOUT[:9] + [
        "replicaset_controller_handle_response", "replicaset_controller_create_pod(pod=pod2)",
        "apiserver_create_pod(client=REPLICASET_CONTROLLER)", "replicaset_controller_handle_response",
        "user_scale_deployment", "apiserver_update_deployment", "informer_deliver_deployment_event",
        "deployment_controller_scale_new_replicaset(rs=rs1)",
        "apiserver_update_replicaset(client=DEPLOYMENT_CONTROLLER)", "informer_deliver_replicaset_event(rs=rs1)",
        "fault_drop_watch(client=REPLICASET_CONTROLLER)", "standin_pod_starts(pod=pod1)",
        "replicaset_controller_sync(rs=rs1)", "replicaset_controller_delete_pod(pod=pod1)",
        "apiserver_delete_pod(client=REPLICASET_CONTROLLER)"]


def test_the_small_configuration():
    # The reference evaluator agrees on it: tests/test_engines.py cross-checks this configuration.
    fast = explore(DeploymentModel(**NO_SCALE).ir)
    assert (fast.stopped_by, fast.distinct_states, fast.total_states, fast.depth) == ("complete", 21827, 79589, 44)


def test_availability_is_lost_in_a_plain_rollout():
    # No scale, no fault. The cache shows pod1 pending after it has started, so the
    # controller counts the old ReplicaSet's two pods as unavailable and removes one of
    # them as unhealthy (cleanupUnhealthyReplicas); the ReplicaSet controller deletes pod1,
    # which runs. 2 running pods (pod1, pod3) become 1, below replicas - max_unavailable.
    ir = DeploymentModel(**NO_SCALE).ir
    r = explore(ir)
    assert verdicts(r)["availability_kept"] == "violated"
    assert verdicts(r)["scale_downs_keep_availability_as_seen"] == "holds"
    assert labels(r, ir, "availability_kept") == FIRST_ROLLOUT + [
        "user_update_image", "apiserver_update_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs2)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs2)", "replicaset_controller_sync(rs=rs2)",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod3)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod3)",
        "replicaset_controller_handle_response",
        "deployment_controller_scale_down_old_replicaset(rs=rs1)",
        "apiserver_update_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_delete_pod(pod=pod1)", "apiserver_delete_pod(client=REPLICASET_CONTROLLER)"]


def test_pods_outnumber_the_surge_while_old_pods_wait_to_be_deleted():
    # With max_surge 0 the bound (2) is below the 3 pod slots. The old ReplicaSet is
    # scaled to 0, so the ReplicaSets ask for 2 pods, but its two pods are not deleted
    # yet while the new one's pod runs: 3 active pods.
    ir = DeploymentModel(max_surge=0, max_unavailable=1, **NO_SCALE).ir
    r = explore(ir)
    assert (r.distinct_states, r.total_states, r.depth) == (61715, 254347, 51)
    assert verdicts(r) == {
        "single_writer_etcd": "proved", "replicasets_within_surge": "violated",
        "scale_ups_within_surge_as_seen": "holds", "pods_within_surge": "violated", "availability_kept": "violated",
        "scale_downs_keep_availability_as_seen": "holds", "rollout_completes": "holds",
        "deployment_converges": "not_checked"}
    assert labels(r, ir, "pods_within_surge") == STALE_RS_CACHE + [
        "informer_deliver_replicaset_event(rs=rs1)", "informer_deliver_replicaset_event(rs=rs2)",
        "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_sync(rs=rs2)",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod3)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod3)",
        "deployment_controller_scale_down_old_replicaset(rs=rs1)",
        "apiserver_update_replicaset(client=DEPLOYMENT_CONTROLLER)"]


# ---- broken variants: one action each, and the guarantee that catches it ----

class IgnoresMaxSurge(DeploymentModel):
    """Broken in one named way: the new ReplicaSet is scaled straight to replicas, whatever the surge."""

    name = "deployment-ignores-max-surge"

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_scale_new_replicaset(self, s, rs):
        require(self.can_sync_deployment(s))
        require(self.is_new(s, rs))
        require(s.cache_rs_replicas[rs] != s.cache_deploy_replicas)
        self.send_scale(s, rs, s.cache_deploy_replicas)


def test_a_controller_that_ignores_max_surge_is_caught():
    ir = IgnoresMaxSurge(**NO_SCALE).ir
    r = explore(ir)
    assert (r.distinct_states, r.total_states, r.depth) == (41425, 175583, 44)
    assert verdicts(r)["scale_ups_within_surge_as_seen"] == "violated"
    # It sees the old ReplicaSet's 2 replicas and the new one's 1, and asks for 2 more.
    assert labels(r, ir, "scale_ups_within_surge_as_seen") == [
        "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs1)",
        "user_update_image", "apiserver_update_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs2)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs2)", "deployment_controller_scale_new_replicaset(rs=rs2)"]


class IgnoresMaxUnavailable(DeploymentModel):
    """Broken in one named way: an old ReplicaSet is scaled straight to 0 once the new one is settled."""

    name = "deployment-ignores-max-unavailable"

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_scale_down_old_replicaset(self, s, rs):
        require(self.can_sync_deployment(s))
        require(self.new_settled(s))
        require(self.is_active_old(s, rs))
        self.send_scale(s, rs, 0)


def test_a_controller_that_ignores_max_unavailable_is_caught():
    ir = IgnoresMaxUnavailable(**NO_SCALE).ir
    r = explore(ir)
    assert (r.distinct_states, r.total_states, r.depth) == (70201, 319877, 49)
    assert verdicts(r)["scale_downs_keep_availability_as_seen"] == "violated"
    # It sees pod1 running and the new ReplicaSet's pod not even created, and scales the
    # old ReplicaSet to 0.
    assert labels(r, ir, "scale_downs_keep_availability_as_seen") == [
        "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod1)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod1)",
        "user_update_image", "apiserver_update_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs2)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs2)", "deployment_controller_scale_down_old_replicaset(rs=rs1)"]


class WithoutOptimisticConcurrency(DeploymentModel):
    """Broken in one named way: the API server applies a ReplicaSet update whatever the client saw."""

    name = "deployment-without-optimistic-concurrency"

    @action(client=RsClient)
    def apiserver_update_replicaset(self, s, client):
        req = self._take_rs(s, client, RsVerb.UPDATE)
        ok = self._names(s, req)
        s.etcd_rs_replicas[req.rs] = when(ok, req.replicas, s.etcd_rs_replicas[req.rs])


def test_without_optimistic_concurrency_only_the_timing_changes():
    # A finding, not a catch: the Deployment controller is the only writer of ReplicaSet
    # specs here, and a write from a stale copy repeats what a fresh copy would write, so
    # the 409 check removes states (writes landing early) but no verdict and no
    # counterexample changes. It protects against writers this model leaves out.
    config = dict(NO_SCALE, max_unavailable=1)
    ir, broken_ir = DeploymentModel(**config).ir, WithoutOptimisticConcurrency(**config).ir
    r, broken = explore(ir), explore(broken_ir)
    assert (r.distinct_states, broken.distinct_states) == (95949, 101898)
    assert verdicts(broken) == verdicts(r)
    for name, p in r.properties.items():
        if p.counterexample is not None:
            assert broken.properties[name].counterexample.labels(broken_ir) == p.counterexample.labels(ir)


# ---- convergence: checked with liveness on both engines ---------------------------------------------

# The verdicts of explore() above, with the convergence property checked.
VERDICTS = {
    "single_writer_etcd": "proved", "replicasets_within_surge": "violated", "scale_ups_within_surge_as_seen": "holds",
    "pods_within_surge": "holds", "availability_kept": "violated", "scale_downs_keep_availability_as_seen": "holds",
    "rollout_completes": "holds"}


@pytest.mark.slow
def test_default_configuration_converges():
    _, s = check(DeploymentModel())
    assert s["counts"] == ("complete", 636272, 3123858, 61)
    assert s["verdicts"] == dict(VERDICTS, deployment_converges="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == []


def test_the_small_configuration_converges():
    _, s = check(DeploymentModel(**NO_SCALE))
    assert s["counts"] == ("complete", 21827, 79589, 44)
    assert s["verdicts"] == dict(VERDICTS, deployment_converges="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == []


class StopsOnceTheNewIsAvailable(DeploymentModel):
    """Broken in one named way: old ReplicaSets are scaled down only while the new one has unavailable replicas."""

    name = "deployment-stops-once-the-new-is-available"

    @action(rs=ReplicaSets, fairness="weak")
    def deployment_controller_scale_down_old_replicaset(self, s, rs):
        require(self.can_sync_deployment(s))
        require(self.old_rs_scales(s, rs))
        require(self.new_available(s) < self.new_replicas(s))
        self.send_scale(s, rs, self.old_rs_target(s, rs))


def test_a_controller_that_stops_once_the_new_replicaset_is_available_never_converges():
    _, s = check(StopsOnceTheNewIsAvailable(**NO_SCALE))
    assert s["counts"] == ("complete", 13484, 49142, 44)
    assert s["verdicts"] == dict(VERDICTS, deployment_converges="violated")   # the safety properties miss it
    # rs1 runs its two pods; the image changes and rs2 is created with the one replica the surge allows.
    # Its pod runs, and from then on the old ReplicaSet is never scaled down: 3 pods, 2 of them old, for ever.
    assert s["lassos"] == {"deployment_converges": ([
        "user_create_deployment", "apiserver_create_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod1)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod1)",
        "replicaset_controller_handle_response",
        "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod2)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod2)",
        "replicaset_controller_handle_response",
        "user_update_image", "apiserver_update_deployment", "informer_deliver_deployment_event",
        "deployment_controller_create_replicaset(rs=rs2)", "apiserver_create_replicaset(client=DEPLOYMENT_CONTROLLER)",
        "informer_deliver_replicaset_event(rs=rs2)", "replicaset_controller_sync(rs=rs2)",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "standin_pod_starts(pod=pod3)", "informer_deliver_pod_event(client=REPLICASET_CONTROLLER, pod=pod3)",
        "replicaset_controller_handle_response"], 29, None)}
    assert s["warnings"] == [
        f"action `{a}` never fired: its guard is false in every reachable state (usually a spec bug)."
        for a in ("standin_collect_orphan", "apiserver_delete_replicaset", "deployment_controller_scale_new_replicaset",
                  "deployment_controller_delete_old_replicaset")]


@pytest.mark.parametrize("config, message", [
    ({"replicas": 4}, "replicas (4) cannot exceed pod_slots (3): the ReplicaSet could never reach its desired count; "
                      "raise pod_slots."),
    ({"max_surge": 0, "max_unavailable": 0}, "max_surge and max_unavailable cannot both be 0 (the API server refuses "
                                             "such a Deployment: the rollout could never move); raise one of them."),
    ({"replicaset_slots": 1}, "replicaset_slots (1) must be at least 2 when image_updates is above 0: the new "
                              "ReplicaSet needs a slot while the old one drains."),
    ({"surge": 1}, "model `deployment` has no config key `surge`; its keys are: nodes, pod_slots, replicaset_slots, "
                   "replicas, image_updates, max_surge, max_unavailable, user_scales, watch_disconnects."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        DeploymentModel(**config)
    assert str(e.value) == message
