"""Canonical form (kubecheck.canonical): the defaults of absent objects, found by Houdini, hold in every reachable
state, and with them in the type invariant no counterexample to induction starts from a half-deleted object."""

from __future__ import annotations

from collections import deque

import pytest

from kubecheck.canonical import absent_defaults, candidates
from kubecheck.evaluate import Evaluator
from kubecheck.explicit import default_successors
from kubecheck.registry import build_model
from kubecheck.symbolic import action_proofs, k_induction


def reachable(ir):
    """Every reachable state, breadth-first (states outside the constraints are reached but not expanded)."""
    ev = Evaluator(ir)
    succ = default_successors(ir)
    seen = set(ev.initial_states())
    todo = deque(seen)
    while todo:
        st = todo.popleft()
        if not all(ev.satisfies(c, st) for c in ir.constraints):
            continue
        for _, t in succ.generate(st):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


# (model, candidates, facts kept, states): the facts are checked on every reachable state.
FOUND = [("replicaset-anchor", 6, 1, 27153), ("two-phase-commit", 6, 3, 288), ("scheduler", 156, 45, 40968),
         ("leader-election", 100, 72, 6928), ("namespace", 106, 75, 14924)]


@pytest.mark.parametrize("model, n_candidates, n_facts, n_states", FOUND, ids=[f[0] for f in FOUND])
def test_every_fact_holds_in_every_reachable_state(model, n_candidates, n_facts, n_states):
    ir = build_model(model, []).ir
    facts = absent_defaults(ir)
    assert (len(candidates(ir)), len(facts)) == (n_candidates, n_facts)
    states = reachable(ir)
    assert len(states) == n_states
    for fact in facts:
        assert all(fact.holds_at(st) for st in states), fact
    # Houdini keeps no fewer than the facts that hold: each candidate it dropped is false in some reachable state
    # or not inductive; on the anchor, every dropped one is false in a reachable state.
    if model == "replicaset-anchor":
        dropped = [c for c in candidates(ir) if c not in facts]
        assert all(any(not c.holds_at(st) for st in states) for c in dropped)


def test_the_facts_read_like_the_spec():
    assert [str(f) for f in absent_defaults(build_model("replicaset-anchor", []).ir)] == [
        "status[pod] == ABSENT => node[pod] == none"]
    assert [str(f) for f in absent_defaults(build_model("two-phase-commit", []).ir)] == [
        "rm_state[rm] == WORKING => tm_prepared[rm] == false",
        "rm_state[rm] == WORKING => prepared_sent[rm] == false",
        "prepared_sent[rm] == false => tm_prepared[rm] == false"]
    scheduler = [str(f) for f in absent_defaults(build_model("scheduler", []).ir)]
    assert scheduler[0] == "etcd_pod_phase[pod] == ABSENT => etcd_pod_node[pod] == none"
    assert "cache_pod_phase[Client][pod] == ABSENT => cache_pod_node[Client][pod] == none" in scheduler


def test_facts_are_found_once_per_model_and_deterministically():
    ir = build_model("scheduler", []).ir
    assert absent_defaults(ir) is absent_defaults(ir)
    again = build_model("scheduler", []).ir
    assert [str(f) for f in absent_defaults(again)] == [str(f) for f in absent_defaults(ir)]


def _broken_facts(ir, state):
    return [str(f) for f in absent_defaults(ir) if not f.holds_at(state)]


def test_no_counterexample_to_induction_starts_from_a_half_deleted_object():
    # `pods_run_where_bound` of the scheduler model is true but not 1-inductive. Without canonical form, its CTI
    # starts from a state where absent pods keep nodes, cached phases and requests; with it, the CTI is a real
    # gap in the invariant: the runtime still runs a pod the API server is about to remove (a lemma about
    # termination closes it), and its first state breaks no fact.
    ir = build_model("scheduler", []).ir
    prop = "pods_run_where_bound"
    raw = k_induction(ir, 1, prop, canonical=False).extra["cti"][prop][0]
    assert [st.action for st in raw.steps] == [None, "kubelet_start_pod"]
    assert len(_broken_facts(ir, raw.steps[0].state)) == 28
    r = k_induction(ir, 1, prop)
    assert len(r.extra["canonical"]) == 45
    (cti,) = r.extra["cti"][prop]
    assert [(st.action, st.params) for st in cti.steps] == [(None, ()), ("apiserver_remove_pod", (("node", 1),))]
    assert _broken_facts(ir, cti.steps[0].state) == []
    # The per-action proof's CTIs too, for every action that breaks it.
    per_action = action_proofs(ir, prop)
    ctis = per_action.extra["cti"][prop]
    assert ctis and all(_broken_facts(ir, c.steps[0].state) == [] for c in ctis)


def test_ctrl_c_while_the_facts_are_proved_stops_the_proof_honestly(monkeypatch):
    import kubecheck.symbolic as symbolic

    def interrupted(ir):
        raise KeyboardInterrupt

    monkeypatch.setattr(symbolic, "absent_defaults", interrupted)
    ir = build_model("replicaset-anchor", []).ir
    for r in (k_induction(ir, 2, "node_consistency"), action_proofs(ir, "node_consistency")):
        assert (r.stopped_by, r.properties["node_consistency"].verdict) == ("interrupted", "unknown")
