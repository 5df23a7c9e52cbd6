"""The ReplicaSet benchmark model: the counts TLC, SPIN and a plain-Python BFS agree on.

C1 is the default configuration (N=3 pods, K=2 nodes, F=1 failure, R=2 replicas); C2
has 4 pod slots. Every run is checked on the default engine and on the reference
evaluator, which must agree (see ``run_both`` in ``test_examples.py``).
"""

from __future__ import annotations

import pytest

from kubecheck.explicit import EvaluatorSuccessors, explore
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor
from liveness_checks import check
from test_examples import counts, run_both, summary

# The stale cache lets the controller create a third pod before the informer syncs; the
# scheduler and the kubelet then bind and start all three.
OVER_PROVISION = [
    "controller_create_pod(pod=pod1)",
    "controller_create_pod(pod=pod2)",
    "controller_create_pod(pod=pod3)",
    "scheduler_bind_pod(pod=pod1, node=node1)",
    "scheduler_bind_pod(pod=pod2, node=node1)",
    "scheduler_bind_pod(pod=pod3, node=node1)",
    "kubelet_start_pod(node=node1, pod=pod1)",
    "kubelet_start_pod(node=node1, pod=pod2)",
    "kubelet_start_pod(node=node1, pod=pod3)",
]

C1_VERDICTS = {
    "node_consistency": "holds",
    "no_over_provision": "violated",
    "replicaset_converges": "not_checked",
    "replicas_running": "holds",
    "deadlock_free": "holds",
}
UNDECIDED = dict(dict.fromkeys(C1_VERDICTS, "unknown"), replicaset_converges="not_checked")
TEMPORAL = ("property `replicaset_converges` (converges) is temporal; it is checked with --liveness, so it was not "
            "checked.")
NOT_CHECKED = {"replicaset_converges": "temporal: checked with --liveness"}

# Without expectations the controller thrashes, with no fault at all: it creates three pods, its cache shows all
# three, it deletes all three before the cache shows the first deletion, and garbage collection removes them; the
# cache then shows none, which is where the run started.
THRASH = OVER_PROVISION + ["informer_sync"] + [f"controller_delete_pod(pod=pod{i})" for i in (1, 2, 3)] + [
    f"gc_remove_pod(pod=pod{i})" for i in (1, 2, 3)]


def test_c1_counts_verdicts_and_counterexample():
    result, s = run_both(ReplicaSetAnchor().checker())
    assert counts(s) == ("complete", 27_153, 113_868, 27)
    assert s["verdicts"] == C1_VERDICTS
    assert s["counterexamples"] == {"no_over_provision": OVER_PROVISION}
    assert s["notes"] == {"replicas_running": "witness: 6 steps", **NOT_CHECKED}
    assert s["warnings"] == [TEMPORAL]
    assert s["exit_code"] == 1
    trace = result.properties["no_over_provision"].counterexample
    assert (trace.violation, trace.length) == ("no_over_provision", 9)


def test_c1_does_not_converge():
    # Both engines, the lasso replayed (tests/liveness_checks.py); the informer's sync closes the cycle.
    _, s = check(ReplicaSetAnchor())
    assert s["counts"] == ("complete", 27_153, 113_868, 27)
    assert s["verdicts"] == dict(C1_VERDICTS, replicaset_converges="violated")
    assert s["lassos"] == {"replicaset_converges": (THRASH, 0, "informer_sync")}
    assert s["warnings"] == []


def test_c2_counts():
    # The default engine only; the evaluator's run of C2 is the slow test below.
    checker = ReplicaSetAnchor(pods=4).checker()
    s = summary(checker.run(), checker)
    assert counts(s) == ("complete", 432_389, 2_162_258, 35)
    assert s["verdicts"] == C1_VERDICTS
    # The fourth pod slot is never needed: the shortest over-provisioning is the same.
    assert s["counterexamples"] == {"no_over_provision": OVER_PROVISION}


@pytest.mark.slow
def test_c2_default_engine_agrees_with_the_evaluator():
    # About 90 s: the reference evaluator walks every expression tree of 432,389 states.
    checker = ReplicaSetAnchor(pods=4).checker()
    ir = checker.model.ir
    ref = explore(ir, successors=EvaluatorSuccessors(ir))
    assert summary(ref, checker) == summary(checker.run(), checker)


def test_first_stops_at_the_violation_with_the_same_trace():
    _, s = run_both(ReplicaSetAnchor().checker().first())
    assert counts(s) == ("first_violation", 2_974, 9_561, 10)
    assert s["verdicts"] == {**UNDECIDED, "no_over_provision": "violated", "replicas_running": "holds"}
    assert s["counterexamples"] == {"no_over_provision": OVER_PROVISION}
    assert s["exit_code"] == 1


def test_max_states_stops_before_the_violation_is_reached():
    # The violation lies 9 steps deep (level 10); the first 1,000 states reach level 7 only,
    # so nothing is violated yet and the exit code says "unknown", not "violated".
    _, s = run_both(ReplicaSetAnchor().checker().max_states(1000))
    assert counts(s) == ("max_states", 1_000, 2_684, 7)
    assert s["verdicts"] == {**UNDECIDED, "replicas_running": "holds"}
    assert s["counterexamples"] == {}
    assert s["exit_code"] == 3


def test_max_depth_bounds_the_levels_stored():
    # Builder.max_depth: "Explore at most n BFS levels (the initial states are the first level)".
    # Levels 1 to 5 hold 224 states; the fifth is still expanded (1,309 transitions in all)
    # to tell a truncated search from a complete one, and nothing past it is stored.
    _, s = run_both(ReplicaSetAnchor().checker().max_depth(5))
    assert counts(s) == ("max_depth", 224, 1_309, 5)
    assert s["verdicts"] == UNDECIDED
    assert s["exit_code"] == 3


def test_max_depth_at_the_diameter():
    # The state graph has 27 levels: a bound of 27 cuts nothing off, a bound of 26 cuts off
    # 56 states, after the violation (level 10) has been found.
    _, s = run_both(ReplicaSetAnchor().checker().max_depth(27))
    assert counts(s) == ("complete", 27_153, 113_868, 27)
    assert s["verdicts"] == C1_VERDICTS
    _, s = run_both(ReplicaSetAnchor().checker().max_depth(26))
    assert counts(s) == ("max_depth", 27_097, 113_700, 26)
    assert s["verdicts"] == {**UNDECIDED, "no_over_provision": "violated", "replicas_running": "holds"}
    assert s["counterexamples"] == {"no_over_provision": OVER_PROVISION}
    assert s["exit_code"] == 1


@pytest.mark.parametrize("limit, reason", [
    ({"max_memory": 1}, "max_memory"),        # any process is over 1 MiB at the first check
    ({"time_limit": 1e-9}, "time_limit"),     # and past a nanosecond
])
def test_memory_and_time_limits_stop_with_a_partial_report(limit, reason):
    # Limits are checked every 1024 expanded states, so where a run stops is deterministic.
    from kubecheck.explicit import Options, explore
    r = explore(ReplicaSetAnchor(pods=4).ir, Options(**limit))
    assert (r.stopped_by, r.distinct_states, r.total_states, r.depth, r.extra["processed"]) == (
        reason, 2409, 6797, 7, 1024)
    assert {n: p.verdict for n, p in r.properties.items()} == {**UNDECIDED, "replicas_running": "holds"}
    assert r.exit_code() == 3
