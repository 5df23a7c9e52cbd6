"""The endpoints model: pinned figures, the lag shown, and each guard of the endpoints controller shown to matter.

With liveness, both engines find that ``endpoints_converges`` holds at the default
configuration; a kube-proxy that never removes a rule, and an endpoints controller whose
Service event queues nothing, each keep it from converging, with the lassos pinned.
"""

from __future__ import annotations

import pytest

from kubecheck import ConfigError, action, always, any_of, require
from kubecheck.explicit import EvaluatorSuccessors, explore
from kubecheck.spec.endpoints_model import EndpointsModel
from kubecheck.spec.objects import ClusterObjects, Response
from liveness_checks import check

Nodes, Pods = ClusterObjects.Nodes, ClusterObjects.Pods

CAUGHT_UP = "endpoints_list_only_ready_pods_once_caught_up"

EXPECTED = {"single_writer_etcd": "proved", CAUGHT_UP: "holds", "traffic_reaches_only_ready_pods": "violated",
            "traffic_reaches_a_ready_pod": "holds", "endpoints_converges": "not_checked"}

# The Service exists and the controller knows it: the start of every counterexample below.
SERVICE = ["user_create_service", "apiserver_create_service", "endpoints_informer_deliver_service_event"]

# pod1 runs on node1, and the controller lists it.
POD1_LISTED = SERVICE + ["pod_becomes_ready(pod=pod1, node=node1)", "endpoints_informer_deliver_pod_event(pod=pod1)",
                         "endpoints_controller_sync", "apiserver_update_endpoints"]


def verdicts(result):
    return {n: p.verdict for n, p in result.properties.items()}


# A broken variant violates the caught-up property too.
BROKEN = dict(EXPECTED, **{CAUGHT_UP: "violated"})


def shortest_counterexample(model, prop, expected):
    """The labels of the shortest run of ``model`` that violates ``prop``, once every verdict is as expected."""
    ir = model.ir
    r = explore(ir)
    assert verdicts(r) == expected
    return r.properties[prop].counterexample.labels(ir)


def test_default_configuration():
    ir = EndpointsModel().ir
    r = explore(ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 11151, 41101, 25)
    assert verdicts(r) == EXPECTED
    slow = explore(ir, successors=EvaluatorSuccessors(ir))
    assert (slow.distinct_states, slow.total_states, slow.depth, verdicts(slow)) == (
        r.distinct_states, r.total_states, r.depth, verdicts(r))


class SyncsFromAnOutdatedCopy(EndpointsModel):
    """Without the staleness check on sends: a sync may send while the controller's copy of the Endpoints predates its
    own last update. What it saw is then no longer stored, so the API server refuses it (409), which requeues the key."""

    name = "endpoints-syncs-from-an-outdated-copy"

    @action(fairness="weak")
    def endpoints_controller_sync(self, s):
        require(self.can_sync_service(s))
        require(~self.cached_endpoints_current(s))
        self.send_update(s)

    @always
    def no_update_is_refused(self, s):
        return s.epc_response != Response.CONFLICT


def test_every_action_fires():
    r = explore(EndpointsModel().ir)
    assert [c.name for c in r.coverage if c.fired == 0] == []
    assert r.warnings == [
        "property `endpoints_converges` (converges) is temporal; it is checked with --liveness, so it "
        "was not checked."]


def test_a_409_requeues_the_key_and_the_next_sync_takes_it():
    # The default model never answers 409 (test_the_staleness_check_leaves_the_precondition_nothing_to_refuse).
    # A sync that does not wait for the newer copy sends what it saw in an outdated copy and gets one; the
    # next sync takes the requeued key, and every verdict stays.
    refused = explore(SyncsFromAnOutdatedCopy().ir)
    assert (refused.stopped_by, refused.distinct_states, refused.total_states, refused.depth) == (
        "complete", 20595, 79647, 25)
    assert verdicts(refused) == dict(EXPECTED, no_update_is_refused="violated")
    assert [c.name for c in refused.coverage if c.fired == 0] == []


def test_traffic_reaches_a_stopped_pod_before_the_rules_catch_up():
    # The guarantee is eventual: pod1 is listed and routed to, then stops, and a connection
    # still reaches it, because neither the endpoints nor node1's rules have caught up yet.
    assert shortest_counterexample(EndpointsModel(), "traffic_reaches_only_ready_pods", EXPECTED) == POD1_LISTED + [
        "kube_proxy_sync_rules(node=node1)", "pod_stops(pod=pod1)", "client_sends_request(node=node1, pod=pod1)"]


@pytest.mark.slow
def test_every_kube_proxy():
    r = explore(EndpointsModel(kube_proxies=2).ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 33119, 168351, 26)
    assert verdicts(r) == EXPECTED


class NeverConflicts(EndpointsModel):
    """The default model, with one more invariant: the API server never answers the controller 409."""

    name = "endpoints-never-conflicts"

    @always
    def never_conflicts(self, s):
        return s.epc_response != Response.CONFLICT


def test_the_staleness_check_leaves_the_precondition_nothing_to_refuse():
    # A sync sends only once the controller's copy shows its own last write, and it is the
    # only writer, so what it saw is always what is stored.
    r = explore(NeverConflicts().ir)
    assert verdicts(r) == dict(EXPECTED, never_conflicts="holds")


class WithoutOptimisticConcurrency(EndpointsModel):
    """Broken in one named way: the API server stores the controller's update without comparing what it saw."""

    name = "endpoints-without-optimistic-concurrency"

    @action(fairness="weak")
    def apiserver_update_endpoints(self, s):
        require(s.epc_request.pending)
        self.store_endpoints(s, True)


def test_without_optimistic_concurrency_nothing_changes():
    # So the check is not what keeps the endpoints right in this model: it would matter with
    # a second writer (another controller-manager during a leader handover).
    r = explore(WithoutOptimisticConcurrency().ir)
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth) == ("complete", 11151, 41101, 25)
    assert verdicts(r) == EXPECTED


class QueuesOnlyNewlyReadyPods(EndpointsModel):
    """Broken in one named way: the pod event handler queues the Service only when a pod becomes ready."""

    name = "endpoints-queues-only-newly-ready-pods"

    @action(pod=Pods, fairness="weak")
    def endpoints_informer_deliver_pod_event(self, s, pod):
        require(s.epc_cache_pod_ready[pod] != self.pod_ready(s, pod))
        s.epc_cache_pod_ready[pod] = self.pod_ready(s, pod)
        s.epc_queued = s.epc_queued | (s.epc_cache_service & self.pod_ready(s, pod))


def test_a_handler_that_ignores_pods_going_unready_leaves_them_listed():
    # pod1 is listed, then stops; the controller learns it but does not sync again: it has
    # caught up with every pod, and the stopped pod1 stays listed.
    assert shortest_counterexample(QueuesOnlyNewlyReadyPods(), CAUGHT_UP, BROKEN) == POD1_LISTED + [
        "pod_stops(pod=pod1)", "endpoints_informer_deliver_pod_event(pod=pod1)"]


class WithoutStalenessCheck(EndpointsModel):
    """Broken in one named way: a sync trusts the controller's copy of the Endpoints before its own write is in it."""

    name = "endpoints-without-staleness-check"

    @action(fairness="weak")
    def endpoints_controller_skip_sync(self, s):
        require(self.can_sync_service(s))
        require(self.cached_endpoints_current(s))
        s.epc_queued = False


def test_without_the_staleness_check_a_stopped_pod_stays_listed():
    # The controller's copy does not show its write of pod1 yet; pod1 stops, the copy
    # agrees with "no ready pods", and the controller goes idle with pod1 still listed.
    assert shortest_counterexample(WithoutStalenessCheck(), CAUGHT_UP, BROKEN) == POD1_LISTED + [
        "pod_stops(pod=pod1)", "endpoints_informer_deliver_pod_event(pod=pod1)", "endpoints_controller_skip_sync"]


# ---- convergence (liveness) ----

def test_default_configuration_converges():
    result, s = check(EndpointsModel())
    assert s["counts"] == ("complete", 11151, 41101, 25)
    assert s["verdicts"] == dict(EXPECTED, endpoints_converges="holds")
    assert s["lassos"] == {}        # the one violation, of traffic_reaches_only_ready_pods, is not a lasso
    assert s["warnings"] == []
    assert result.exit_code() == 1


# One pod slot on one node: small, and every action still fires.
SMALL = {"pod_slots": 1, "nodes": 1}


class KubeProxyKeepsStaleRules(EndpointsModel):
    """Broken in one named way: kube-proxy adds the backends the Endpoints list but never removes one."""

    name = "endpoints-kube-proxy-keeps-stale-rules"

    @action(node=Nodes, fairness="weak")
    def kube_proxy_sync_rules(self, s, node):
        require(self.runs_kube_proxy(node))
        require(any_of(self.Pods, lambda p: s.etcd_endpoints[p] & ~s.proxy_routes[node][p]))
        s.proxy_routes[node].set_all(lambda p: s.proxy_routes[node][p] | s.etcd_endpoints[p])


def test_a_kube_proxy_that_never_removes_a_rule_never_converges():
    _, s = check(KubeProxyKeepsStaleRules(**SMALL))
    assert s["counts"] == ("complete", 140, 357, 17)
    assert s["verdicts"] == dict(EXPECTED, endpoints_converges="violated")
    # pod1 is listed and node1's rules send traffic to it; pod1 stops and the controller takes it out of
    # the Endpoints, but node1's kube-proxy has nothing to add, so the rule to pod1 stays for ever.
    assert s["lassos"] == {"endpoints_converges": (POD1_LISTED + [
        "kube_proxy_sync_rules(node=node1)", "endpoints_informer_deliver_endpoints_event", "pod_stops(pod=pod1)",
        "endpoints_informer_deliver_pod_event(pod=pod1)", "endpoints_controller_sync", "apiserver_update_endpoints",
        "endpoints_informer_deliver_endpoints_event"], 14, None)}
    assert s["warnings"] == []


class ServiceEventQueuesNothing(EndpointsModel):
    """Broken in one named way: the Service event handler fills the controller's cache but does not queue the key."""

    name = "endpoints-service-event-queues-nothing"

    @action(fairness="weak")
    def endpoints_informer_deliver_service_event(self, s):
        require(s.epc_cache_service != s.etcd_service_exists)
        s.epc_cache_service = s.etcd_service_exists


def test_an_endpoints_controller_that_drops_the_service_event_never_lists_a_pod():
    _, s = check(ServiceEventQueuesNothing(**SMALL))
    assert s["counts"] == ("complete", 153, 388, 18)
    assert s["verdicts"] == dict(EXPECTED, endpoints_converges="violated")
    # The controller sees pod1 ready before it sees the Service, so that pod event queues nothing (no
    # Service it knows selects pod1); the Service event queues nothing either, and pod1 is never listed.
    assert s["lassos"] == {"endpoints_converges": (
        ["user_create_service", "apiserver_create_service", "pod_becomes_ready(pod=pod1, node=node1)",
         "endpoints_informer_deliver_pod_event(pod=pod1)", "endpoints_informer_deliver_service_event"], 5, None)}
    assert s["warnings"] == []


@pytest.mark.parametrize("config, message", [
    ({"kube_proxies": 3}, "kube_proxies (3) cannot exceed nodes (2): kube-proxy runs once per node; raise nodes."),
    ({"node_failures": -1}, "config key `node_failures` of model `endpoints` must be at least 0 (budget of nodes "
                            "that go NotReady); got -1."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        EndpointsModel(**config)
    assert str(e.value) == message
