"""The ReplicaSet controller model: pinned figures, and each property shown able to fail."""

from __future__ import annotations

from kubecheck.explicit import explore
from kubecheck.spec.controllers.replicaset import ReplicaSetModel, ReplicaSets
import pytest

from kubecheck import ConfigError, action

# The ReplicaSet is now an object a user creates (and may scale once): every counterexample
# starts with its creation and the cached copy the controller syncs from.
CREATED = ["user_create_replicaset(rs=rs1)", "apiserver_create_replicaset(client=USER)",
           "informer_deliver_replicaset_event(rs=rs1)"]


def verdicts(result):
    return {n: p.verdict for n, p in result.properties.items()}


def test_default_configuration():
    ir = ReplicaSetModel().ir
    r = explore(ir)
    # Was (195, 410, 11) with one constant ReplicaSet; the stored ReplicaSet, its cached copy,
    # pod owners and a user's scale (to 0 or 1) make the space larger and the runs longer.
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 896, 2286, 24)
    assert verdicts(r) == {"single_writer_etcd": "holds", "replicas_within_bounds": "holds",
                           "replicas_reached": "holds", "replicaset_converges": "not_checked"}
    # The user's scale makes the controller delete as well as create.
    fired = {c.name for c in r.coverage if c.fired}
    assert {"replicaset_controller_create_pod", "replicaset_controller_delete_pod", "user_scale_replicaset"} <= fired
    # The reference evaluator agrees: tests/test_engines.py cross-checks this configuration.


def test_dormant_actions_are_the_ones_an_expectation_timeout_wakes():
    # Without expectation timeouts the controller never over-creates, so with a slot to spare a burst of
    # creations never runs out of slots; the default fires every other action.
    r = explore(ReplicaSetModel().ir)
    assert {c.name: c.dormant for c in r.coverage if c.dormant} == {
        "replicaset_controller_end_burst": "pod_slots > replicas, with expectation_timeouts = 0",
        "replicaset_controller_expectations_expire": "expectation_timeouts = 0"}
    assert [c.name for c in r.coverage if c.fired == 0] == ["replicaset_controller_end_burst",
                                                            "replicaset_controller_expectations_expire"]
    assert r.warnings == ["property `replicaset_converges` (converges) is temporal; it is checked with --liveness, so it "
        "was not checked."]
    # One timeout wakes both: the expired expectation lets the controller fill every slot.
    woken = explore(ReplicaSetModel(expectation_timeouts=1).ir)
    assert (woken.stopped_by, woken.distinct_states) == ("complete", 8_045)
    assert [c.name for c in woken.coverage if c.fired == 0 or c.dormant] == []


# A sync plans two creates, and both reach the store before the controller's cache shows them.
TWO_CREATED = [
    "replicaset_controller_sync(rs=rs1)",
    "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
    "replicaset_controller_handle_response",
    "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
    "replicaset_controller_handle_response"]


def test_expectations_that_expire_let_a_stale_cache_over_create():
    # The five-minute TTL: once the controller stops waiting for its creations to show,
    # a cache that still does not show them makes it create a third pod.
    ir = ReplicaSetModel(expectation_timeouts=1).ir
    r = explore(ir)
    assert verdicts(r)["replicas_within_bounds"] == "violated"
    assert r.properties["replicas_within_bounds"].counterexample.labels(ir) == CREATED + TWO_CREATED + [
        "replicaset_controller_expectations_expire(rs=rs1)", "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)"]


class WithoutExpectations(ReplicaSetModel):
    """Broken in one named way: the sync no longer waits for its expectations."""

    name = "replicaset-without-expectations"

    @action(rs=ReplicaSets, fairness="weak")
    def replicaset_controller_sync(self, s, rs):
        self.plan_burst(s, rs)    # without require(self.expectations_met(s, rs))


def test_without_expectations_the_stale_cache_over_creates():
    ir = WithoutExpectations().ir
    r = explore(ir)
    assert verdicts(r)["replicas_within_bounds"] == "violated"
    assert r.properties["replicas_within_bounds"].counterexample.labels(ir) == CREATED + TWO_CREATED + [
        "replicaset_controller_sync(rs=rs1)",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)"]


@pytest.mark.parametrize("config, message", [
    ({"nodes": 0}, "config key `nodes` of model `replicaset` must be at least 1 (nodes); got 0."),
    ({"replicas": 4}, "replicas (4) cannot exceed pod_slots (3): the ReplicaSet could never reach its desired count; "
                      "raise pod_slots."),
    ({"watch_disconnects": -1}, "config key `watch_disconnects` of model `replicaset` must be at least 0 (budget of "
                                "dropped watches (informers must relist)); got -1."),
    ({"surge": 1}, "model `replicaset` has no config key `surge`; its keys are: nodes, pod_slots, replicaset_slots, "
                   "replicas, expectation_timeouts, user_scales, watch_disconnects."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        ReplicaSetModel(**config)
    assert str(e.value) == message
