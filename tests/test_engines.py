"""Every fast engine agrees with the reference evaluator, on every model.

The compiled Python successor function (kubecheck.pycompile) must produce exactly the
reference evaluator's successors, in the same order, in every reachable state, and the
explicit checker must give identical results with either.
"""

from __future__ import annotations

import pytest

from kubecheck.evaluate import Evaluator
from kubecheck.explicit import EvaluatorSuccessors, explore
from kubecheck.pycompile import compile_successors
from kubecheck.registry import MODELS, load_model

from language_models import LANGUAGE_MODELS

# (model class or shipped name, config) pairs small enough for the slow evaluator.
CASES = [(cls, {}) for cls in LANGUAGE_MODELS] + [
    ("replicaset-anchor", {}),
    ("replicaset-anchor", {"pods": 2, "nodes": 3, "max_failures": 2, "replicas": 1}),
    ("mutex", {}),
    ("two-phase-commit", {"resource_managers": 3}),
    ("water-jugs", {}),
    ("replicaset", {}),
    ("replicaset", {"expectation_timeouts": 1, "watch_disconnects": 2}),
    ("leader-election", {"replicas_per_role": 1}),
    ("namespace", {}),
    ("namespace", {"namespaces": 2, "namespace_creations": 1, "namespace_deletions": 1}),
    ("scheduler", {"watch_disconnects": 0, "user_invalid_posts": 0, "image_pull_failures": 0, "user_deletes": 0}),
    ("scheduler", {"user_creates": 1, "user_invalid_posts": 0}),
    ("endpoints", {"kube_proxies": 0}),
    ("endpoints", {"pod_slots": 1}),
    ("deployment", {"user_scales": 0, "watch_disconnects": 0}),
    ("node-lifecycle", {"node_crashes": 0, "user_deletes": 0, "image_pull_failures": 0}),
    ("cluster", {"replicas": 1, "pod_slots": 1, "node_crashes": 0, "watch_disconnects": 0}),
]


def _model(spec, config):
    cls = load_model(spec) if isinstance(spec, str) else spec
    return cls(**config)


def _id(case):
    spec, config = case
    name = spec if isinstance(spec, str) else spec.model_name()
    return name + "".join(f"-{k}={v}" for k, v in config.items())


def test_every_shipped_model_is_cross_checked():
    names = {spec for spec, _ in CASES if isinstance(spec, str)}
    assert names == set(MODELS)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_compiled_successors_match_the_evaluator_in_every_state(case):
    ir = _model(*case).ir
    fast = compile_successors(ir)
    slow = EvaluatorSuccessors(ir)
    ev = Evaluator(ir)
    seen = set(ev.initial_states())
    frontier = list(seen)
    while frontier:
        nxt = []
        for st in frontier:
            a = fast.generate(st)
            assert a == slow.generate(st), st
            for p in ir.properties:
                if p.kind in ("always", "sometimes"):
                    assert fast.holds(p, st) == ev.holds(p, st), (p.name, st)
            assert set(fast.failing_invariants(st)) == {
                j for j, p in enumerate(ir.properties) if p.kind == "always" and not ev.holds(p, st)}, st
            assert set(fast.reached_goals(st)) == {
                j for j, p in enumerate(ir.properties) if p.kind == "sometimes" and ev.holds(p, st)}, st
            for k, t in a:
                acting = ir.actions[fast.instances[k][0]].component
                for p in ir.properties:
                    if p.kind == "step":
                        assert fast.holds(p, st, t, acting=acting) == ev.holds(p, st, t, acting=acting), (p.name, st, t)
                # The step properties specialised to this instance (absent where they fold to True).
                check = fast.step_checks[k]
                assert set(check(st, t) if check else ()) == {
                    j for j, p in enumerate(ir.properties)
                    if p.kind == "step" and not ev.holds(p, st, t, acting=acting)}, (k, st, t)
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_explicit_results_match_with_either_successor_function(case):
    ir = _model(*case).ir
    a = explore(ir)
    b = explore(ir, successors=EvaluatorSuccessors(ir))
    ja, jb = a.to_json(), b.to_json()
    ja.pop("seconds"), jb.pop("seconds")
    assert ja == jb
    for name, pa in a.properties.items():
        pb = b.properties[name]
        if pa.counterexample is not None:
            assert pa.counterexample == pb.counterexample
