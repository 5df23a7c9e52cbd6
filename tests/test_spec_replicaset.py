"""The ReplicaSet controller model: pinned figures, and each property shown able to fail."""

from __future__ import annotations

from kubecheck.explicit import EvaluatorSuccessors, explore
from kubecheck.spec.controllers.replicaset import ReplicaSetModel
import pytest

from kubecheck import ConfigError, action, maximum, require


def verdicts(result):
    return {n: p.verdict for n, p in result.properties.items()}


def test_default_configuration():
    ir = ReplicaSetModel().ir
    r = explore(ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 195, 410, 11)
    assert verdicts(r) == {"single_writer_etcd": "holds", "replicas_within_bounds": "holds",
                           "replicas_reached": "holds", "replicaset_converges": "not_checked"}
    slow = explore(ir, successors=EvaluatorSuccessors(ir))
    assert (slow.distinct_states, slow.total_states, slow.depth, verdicts(slow)) == (
        r.distinct_states, r.total_states, r.depth, verdicts(r))


def test_expectations_that_expire_let_a_stale_cache_over_create():
    # The five-minute TTL: once the controller stops waiting for its creations to show,
    # a cache that still does not show them makes it create a third pod.
    ir = ReplicaSetModel(expectation_timeouts=1).ir
    r = explore(ir)
    assert verdicts(r)["replicas_within_bounds"] == "violated"
    assert r.properties["replicas_within_bounds"].counterexample.labels(ir) == [
        "replicaset_controller_sync",
        "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_expectations_expire", "replicaset_controller_sync",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)"]


class WithoutExpectations(ReplicaSetModel):
    """Broken in one named way: the sync no longer waits for its expectations."""

    name = "replicaset-without-expectations"

    @action(fairness="weak")
    def replicaset_controller_sync(self, s):
        require(self.idle(s))
        active = self.cached_active(s)
        require(active != self.replicas)
        s.rsc_to_create = maximum(self.replicas - active, 0)
        s.rsc_to_delete = maximum(active - self.replicas, 0)
        s.rsc_expect_add = False
        s.rsc_expect_del = False


def test_without_expectations_the_stale_cache_over_creates():
    ir = WithoutExpectations().ir
    r = explore(ir)
    assert verdicts(r)["replicas_within_bounds"] == "violated"
    assert r.properties["replicas_within_bounds"].counterexample.labels(ir) == [
        "replicaset_controller_sync",
        "replicaset_controller_create_pod(pod=pod1)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_create_pod(pod=pod2)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)",
        "replicaset_controller_handle_response",
        "replicaset_controller_sync",
        "replicaset_controller_create_pod(pod=pod3)", "apiserver_create_pod(client=REPLICASET_CONTROLLER)"]


@pytest.mark.parametrize("config, message", [
    ({"nodes": 0}, "config key `nodes` of model `replicaset` must be at least 1 (nodes); got 0."),
    ({"replicas": 4}, "replicas (4) cannot exceed pod_slots (3): the ReplicaSet could never reach its desired count; "
                      "raise pod_slots."),
    ({"watch_disconnects": -1}, "config key `watch_disconnects` of model `replicaset` must be at least 0 (budget of "
                                "dropped watches (informers must relist)); got -1."),
    ({"surge": 1}, "model `replicaset` has no config key `surge`; its keys are: nodes, pod_slots, replicas, "
                   "expectation_timeouts, watch_disconnects."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        ReplicaSetModel(**config)
    assert str(e.value) == message
