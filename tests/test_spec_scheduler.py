"""The scheduling model: pinned figures, and each safety property shown able to fail.

The default configuration (2 nodes, the first tainted; 2 pod slots, the second naming its
node) is checked exhaustively on the default engine; a smaller one is checked on the
reference evaluator too, which must agree on everything. Each broken variant below is a
subclass that overrides one action to drop or weaken one guard, and the test pins the
shortest counterexample of the property that guard protects.
"""

from __future__ import annotations

import pytest

from kubecheck import ConfigError, action, count, require, sometimes, when
from kubecheck.spec.objects import NO_REQUEST, Client, PodPhase, Response, Verb
from kubecheck.spec.scheduler import OCCUPYING, SCHEDULER, Unschedulable
from kubecheck.spec.scheduling_model import SchedulingModel
from test_examples import counts, run_both, shortest_counterexample, summary

Nodes, Pods = SchedulingModel.Nodes, SchedulingModel.Pods

SAFETY = ("single_writer_etcd", "pod_runs_on_one_node", "pods_run_where_bound", "failed_pods_never_run",
          "node_cpu_never_overcommitted", "scheduler_respects_resources", "scheduler_respects_taints",
          "scheduler_respects_node_affinity", "scheduler_respects_anti_affinity", "invalid_pods_are_never_stored",
          "no_lost_update")
ALL_HOLD = dict(dict.fromkeys(SAFETY + ("a_pod_runs", "a_pod_fits_nowhere"), "holds"),
                single_writer_etcd="proved")   # by the ownership check, before exploring


def never_fired(*actions):
    return [f"action `{a}` never fired: its guard is false in every reachable state (usually a spec bug)."
            for a in actions]


# ---- the default configuration -----------------------------------------------------------------

def test_default_configuration():
    checker = SchedulingModel().checker()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 40_968, 171_587, 24)
    assert s["verdicts"] == ALL_HOLD
    assert s["notes"] == {"single_writer_etcd": "proved for every state, before exploring: only apiserver actions write its 3 variables", 
                          "a_pod_runs": "witness: 5 steps", "a_pod_fits_nowhere": "witness: 6 steps"}
    assert s["warnings"] == []                        # every action fires
    assert all(fired > 0 for _, fired, _ in s["coverage"])
    assert s["exit_code"] == 0


def test_default_engine_agrees_with_the_evaluator():
    # Without dropped watches and malformed posts (the evaluator takes about 4 s on this).
    _, s = run_both(SchedulingModel(watch_disconnects=0, user_invalid_posts=0).checker())
    assert counts(s) == ("complete", 4_273, 13_063, 21)
    assert s["verdicts"] == ALL_HOLD
    assert s["warnings"] == []
    assert s["dormant"] == {"informer_relist_kubelet": "watch_disconnects = 0",
                            "user_create_invalid_pod": "user_invalid_posts = 0",
                            "fault_drop_watch": "watch_disconnects = 0",
                            "fault_drop_kubelet_watch": "watch_disconnects = 0"}


def test_without_pinned_pods_kubelet_admission_never_refuses():
    # Every pod goes through the scheduler, which keeps each node within its CPU: the kubelet
    # never has to refuse one, which is why the default configuration has a pod naming its node.
    checker = SchedulingModel(pinned_pods=0).checker()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 15_576, 59_507, 28)
    assert s["verdicts"] == ALL_HOLD
    assert s["warnings"] == never_fired("kubelet_reject_pod", "user_create_pod_on_node")


# ---- the reason a pod is left pending ------------------------------------------------------------

class ReasonProbe(SchedulingModel):
    """Asks which reasons the scheduler records, one goal per reason."""

    def recorded(self, s, reason):
        return count(self.Pods, lambda p: s.scheduler_unschedulable[p] == reason) > 0

    @sometimes
    def no_ready_node(self, s):
        return self.recorded(s, Unschedulable.NO_READY_NODE)

    @sometimes
    def taint(self, s):
        return self.recorded(s, Unschedulable.TAINT)

    @sometimes
    def affinity(self, s):
        return self.recorded(s, Unschedulable.AFFINITY)

    @sometimes
    def insufficient_cpu(self, s):
        return self.recorded(s, Unschedulable.INSUFFICIENT_CPU)

    @sometimes
    def anti_affinity_rule(self, s):
        return self.recorded(s, Unschedulable.ANTI_AFFINITY)


QUIET = {"watch_disconnects": 0, "user_invalid_posts": 0, "image_pull_failures": 0, "user_deletes": 0}
REASONS = ("no_ready_node", "taint", "affinity", "insufficient_cpu", "anti_affinity_rule")


@pytest.mark.parametrize("config, reached", [
    # The first pod may only use node2; the pinned pod fills it.
    ({}, {"insufficient_cpu"}),
    # Both nodes tainted: no node gets past TaintToleration.
    ({"tainted_nodes": 2}, {"taint"}),
    # node1 is tainted and node affinity allows only node1: node2 fails NodeAffinity, further on.
    ({"affinity_nodes": 1}, {"affinity"}),
    # node2 has CPU for two, but the pinned pod is there and anti-affinity forbids a second.
    ({"node_cpu": 2, "anti_affinity": True}, {"anti_affinity_rule"}),
])
def test_the_reason_is_the_filter_that_stopped_the_furthest_node(config, reached):
    # Nodes stay Ready in this model, so NO_READY_NODE is never the reason.
    result = ReasonProbe(**QUIET, **config).checker().properties(*REASONS).run()
    assert {n for n in REASONS if result.properties[n].verdict == "holds"} == reached


# ---- broken variants: one guard removed, one property fails -----------------------------------------

def bind_ignoring(self, s, pod, node, skipped=None):
    """scheduler_bind_pod's guards, with one filter left out (none by default), and then its binding."""
    require(self.can_bind(s))
    require(self.queued(s, pod))
    for reason, ok in self.filters(s, pod, node).items():
        if reason != skipped:
            require(ok)
    self.send_binding(s, pod, node)


class SchedulerIgnoresTaints(SchedulingModel):
    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node, Unschedulable.TAINT)


class SchedulerIgnoresNodeAffinity(SchedulingModel):
    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node, Unschedulable.AFFINITY)


class SchedulerIgnoresResources(SchedulingModel):
    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node, Unschedulable.INSUFFICIENT_CPU)


class SchedulerIgnoresAntiAffinity(SchedulingModel):
    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node, Unschedulable.ANTI_AFFINITY)


class SchedulerWithoutAssumeCache(SchedulingModel):
    """Counts only the pods its informer cache shows bound, not the ones it has just bound."""

    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        cached = count(self.Pods, lambda q: (s.cache_pod_node[SCHEDULER][q] == node)
                       & s.cache_pod_phase[SCHEDULER][q].isin(*OCCUPYING))
        require((cached + 1) * self.pod_cpu <= self.node_cpu)
        bind_ignoring(self, s, pod, node, Unschedulable.INSUFFICIENT_CPU)


class KubeletWithoutAdmission(SchedulingModel):
    @action(node=Nodes, pod=Pods)
    def kubelet_start_pod(self, s, node, pod):
        require(self.ready_to_sync(s, node))
        require(self.new_pod(s, node, pod))
        self.start_containers(s, node, pod)
        self.report(s, node, pod, PodPhase.RUNNING)


class KubeletForgetsRefusals(SchedulingModel):
    """Decides from its informer cache alone, without its status manager's memory."""

    @action(node=Nodes, pod=Pods)
    def kubelet_start_pod(self, s, node, pod):
        require(self.ready_to_sync(s, node))
        require((s.kubelet_cache_pod_phase[node][pod] == PodPhase.PENDING) & ~self.runs(s, node, pod))
        require(self.admits(s, node))
        self.start_containers(s, node, pod)
        self.report(s, node, pod, PodPhase.RUNNING)


class KubeletRemovesWithoutStopping(SchedulingModel):
    @action(node=Nodes, pod=Pods)
    def kubelet_stop_pod(self, s, node, pod):
        require(s.kubelet_requests[node].verb == Verb.NONE)
        require(s.kubelet_cache_pod_phase[node][pod] == PodPhase.TERMINATING)
        s.kubelet_refused[node][pod] = False
        s.kubelet_requests[node] = dict(NO_REQUEST, verb=Verb.REMOVE_POD, pod=pod)


class SchedulerWritesTheStore(SchedulingModel):
    """Also writes the binding into etcd itself, besides asking the API server."""

    @action(pod=Pods, node=Nodes)
    def scheduler_bind_pod(self, s, pod, node):
        bind_ignoring(self, s, pod, node)
        s.etcd_pod_node[pod] = node


class ApiServerSkipsValidation(SchedulingModel):
    @action(client=Client)
    def apiserver_create_pod(self, s, client):
        def create(s, req):
            ok = s.etcd_pod_phase[req.pod] == PodPhase.ABSENT
            s.etcd_pod_phase[req.pod] = when(ok, PodPhase.PENDING, s.etcd_pod_phase[req.pod])
            s.etcd_pod_node[req.pod] = when(ok, req.node, s.etcd_pod_node[req.pod])
            return when(ok, Response.OK, Response.CONFLICT)
        self._serve_client(s, client, Verb.CREATE_POD, create)


class ApiServerIgnoresResourceVersion(SchedulingModel):
    """Accepts a kubelet's status update whatever the pod's stored phase (a stale resourceVersion)."""

    @action(node=Nodes)
    def apiserver_update_pod_status(self, s, node):
        def update(s, node, req):
            s.etcd_pod_phase[req.pod] = req.phase
            return Response.OK
        self._serve_kubelet(s, node, Verb.SET_POD_PHASE, update)


CREATE_POD1 = ["user_create_pod(pod=pod1)", "apiserver_create_pod(client=USER)",
               "informer_deliver_pod_event(client=SCHEDULER, pod=pod1)"]
CREATE_POD2 = ["user_create_pod(pod=pod2)", "apiserver_create_pod(client=USER)",
               "informer_deliver_pod_event(client=SCHEDULER, pod=pod2)"]
# Two pods both placed on node2 before the scheduler's cache shows the first binding. Without dropped
# watches: a relist brings both pods into the cache in one step, which shortens the run by one step
# but hides that no fault is needed.
NO_PIN_NO_DROP = {"pinned_pods": 0, "watch_disconnects": 0}
TWO_ON_NODE2 = CREATE_POD1 + [
    "scheduler_bind_pod(pod=pod1, node=node2)", "apiserver_bind_pod(client=SCHEDULER)",
] + CREATE_POD2 + ["scheduler_bind_pod(pod=pod2, node=node2)", "apiserver_bind_pod(client=SCHEDULER)"]
RUN_POD2_ON_NODE1 = ["user_create_pod_on_node(pod=pod2, node=node1)", "apiserver_create_pod(client=USER)",
                     "informer_deliver_kubelet_event(node=node1, pod=pod2)"]
# The pod runs on node1, is deleted, and node1's kubelet confirms without stopping it.
REMOVED_WHILE_RUNNING = RUN_POD2_ON_NODE1 + [
    "kubelet_start_pod(node=node1, pod=pod2)", "apiserver_update_pod_status(node=node1)",
    "user_delete_pod(pod=pod2)", "apiserver_delete_pod(client=USER)",
    "informer_deliver_kubelet_event(node=node1, pod=pod2)", "kubelet_stop_pod(node=node1, pod=pod2)",
    "apiserver_remove_pod(node=node1)",
]


VARIANTS = [
    # Only node1 is tainted and the pod tolerates nothing.
    (SchedulerIgnoresTaints, {}, "scheduler_respects_taints", CREATE_POD1 + [
        "scheduler_bind_pod(pod=pod1, node=node1)", "apiserver_bind_pod(client=SCHEDULER)"]),
    # No taint; node affinity allows node1 only.
    (SchedulerIgnoresNodeAffinity, {"tainted_nodes": 0, "affinity_nodes": 1}, "scheduler_respects_node_affinity",
     CREATE_POD1 + ["scheduler_bind_pod(pod=pod1, node=node2)", "apiserver_bind_pod(client=SCHEDULER)"]),
    # Both pods go through the scheduler, and node2 has CPU for one.
    (SchedulerIgnoresResources, NO_PIN_NO_DROP, "scheduler_respects_resources", TWO_ON_NODE2),
    # The same trace: what stops the second binding in the real model is the assumed pod1.
    (SchedulerWithoutAssumeCache, NO_PIN_NO_DROP, "scheduler_respects_resources", TWO_ON_NODE2),
    # node2 has CPU for two; anti-affinity allows one.
    (SchedulerIgnoresAntiAffinity, dict(NO_PIN_NO_DROP, node_cpu=2, anti_affinity=True),
     "scheduler_respects_anti_affinity", TWO_ON_NODE2),
    # The scheduler fills node2 with pod1; pod2 names node2 and starts there too.
    (KubeletWithoutAdmission, {}, "node_cpu_never_overcommitted", CREATE_POD1 + [
        "scheduler_bind_pod(pod=pod1, node=node2)", "apiserver_bind_pod(client=SCHEDULER)",
        "informer_deliver_kubelet_event(node=node2, pod=pod1)", "kubelet_start_pod(node=node2, pod=pod1)",
        "apiserver_update_pod_status(node=node2)", "user_create_pod_on_node(pod=pod2, node=node2)",
        "apiserver_create_pod(client=USER)", "informer_deliver_kubelet_event(node=node2, pod=pod2)",
        "kubelet_start_pod(node=node2, pod=pod2)"]),
    # The pull fails and the Failed status is stored, but the kubelet's cache still shows Pending.
    (KubeletForgetsRefusals, {}, "failed_pods_never_run", RUN_POD2_ON_NODE1 + [
        "kubelet_fail_image_pull(node=node1, pod=pod2)", "apiserver_update_pod_status(node=node1)",
        "kubelet_start_pod(node=node1, pod=pod2)"]),
    (KubeletRemovesWithoutStopping, {}, "pods_run_where_bound", REMOVED_WHILE_RUNNING),
    # ... and the name is used again, on node2: the same pod slot runs on two nodes.
    (KubeletRemovesWithoutStopping, {}, "pod_runs_on_one_node", REMOVED_WHILE_RUNNING + [
        "user_create_pod_on_node(pod=pod2, node=node2)", "apiserver_create_pod(client=USER)",
        "informer_deliver_kubelet_event(node=node2, pod=pod2)", "kubelet_start_pod(node=node2, pod=pod2)"]),
    # The kubelet reports pod2 Running; the user's deletion lands first, and the stale update then overwrites it.
    (ApiServerIgnoresResourceVersion, {}, "no_lost_update", RUN_POD2_ON_NODE1 + [
        "kubelet_start_pod(node=node1, pod=pod2)", "user_delete_pod(pod=pod2)", "apiserver_delete_pod(client=USER)",
        "apiserver_update_pod_status(node=node1)"]),
    (SchedulerWritesTheStore, {}, "single_writer_etcd", CREATE_POD1 + ["scheduler_bind_pod(pod=pod1, node=node2)"]),
    (ApiServerSkipsValidation, {}, "invalid_pods_are_never_stored", [
        "user_create_invalid_pod(pod=pod1)", "apiserver_create_pod(client=USER)"]),
]


@pytest.mark.parametrize("variant, config, prop, trace", VARIANTS)
def test_a_broken_guard_is_caught_by_the_shortest_counterexample(variant, config, prop, trace):
    assert shortest_counterexample(variant(**config), prop) == trace


def test_every_safety_property_has_a_broken_variant():
    assert {prop for _, _, prop, _ in VARIANTS} == set(SAFETY)
    kinds = {p.name: p.kind for p in SchedulingModel().ir.properties}
    assert {n for n, k in kinds.items() if k in ("always", "step")} == set(SAFETY)


# ---- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"tainted_nodes": 3}, "tainted_nodes (3) cannot exceed nodes (2); lower it or raise nodes."),
    ({"pinned_pods": 3}, "pinned_pods (3) cannot exceed pod_slots (2); lower it or raise pod_slots."),
])
def test_impossible_configurations_are_refused(config, message):
    with pytest.raises(ConfigError) as err:
        SchedulingModel(**config)
    assert str(err.value) == message
