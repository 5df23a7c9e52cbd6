"""Symmetry reduction (``--symmetry``): the same verdicts on one state per orbit, and a refusal where unsound.

The reduced counts are pinned: they are the numbers of reachable orbits, which every
engine that reduces by the same domains must reproduce.
"""

from __future__ import annotations

import json

import pytest

from kubecheck import Array, Constant, Domain, Int, Model, Var, action, all_of, always, require
from kubecheck.errors import SpecError
from kubecheck.explicit import Options, explore
from kubecheck.registry import load_model
from kubecheck.replay import replay
from kubecheck.symmetry import Symmetry
from kubecheck.cli import main

from test_engines import CASES, _id, _model

# (model, config) -> (distinct states without symmetry, with it)
REDUCED = {
    "replicaset-anchor": (27153, 2727),
    "replicaset-anchor-pods=2-nodes=3-max_failures=2-replicas=1": (4901, 673),
    "two-phase-commit-resource_managers=3": (288, 80),
    "replicaset": (896, 215),
    "replicaset-expectation_timeouts=1-watch_disconnects=2": (9237, 2103),
    "leader-election-replicas_per_role=1": (764, 764),
    "namespace": (14924, 14924),
    "namespace-namespaces=2-namespace_creations=1-namespace_deletions=1": (3972, 1989),
    "endpoints-kube_proxies=0": (2817, 1457),
    "endpoints-pod_slots=1": (415, 415),
    "deployment-user_scales=0-watch_disconnects=0": (21827, 4356),
    "cluster-replicas=1-pod_slots=1-node_crashes=0-watch_disconnects=0": (1322, 677),
}

SYMMETRIC_CASES = [c for c in CASES if isinstance(c[0], str) and load_model(c[0]).symmetric]


def test_every_model_that_declares_symmetry_is_pinned():
    assert sorted(_id(c) for c in SYMMETRIC_CASES) == sorted(REDUCED)


@pytest.mark.parametrize("case", SYMMETRIC_CASES, ids=_id)
def test_symmetry_keeps_every_verdict_and_counterexample_length(case):
    ir = _model(*case).ir
    full = explore(ir)
    reduced = explore(ir, Options(symmetry=True))
    assert (full.distinct_states, reduced.distinct_states) == REDUCED[_id(case)]
    assert reduced.depth == full.depth
    assert {n: r.verdict for n, r in reduced.properties.items()} == {n: r.verdict for n, r in full.properties.items()}
    for name, r in full.properties.items():
        if r.counterexample is not None:
            cex = reduced.properties[name].counterexample
            assert cex.length == r.counterexample.length
            # Found on representatives, the trace is turned back into a real execution.
            result = replay(ir, cex)
            assert result.ok and name in result.violations, result


def test_the_canonical_form_is_the_same_for_every_renaming():
    ir = load_model("replicaset-anchor")().ir
    sym = Symmetry(ir)
    assert sym.size == 12      # 3! pod renamings x 2! node renamings
    states = explore_states(ir, 2000)
    for st in states:
        c = sym.canonical(st)
        assert c <= st
        for g in sym.group:
            assert sym.canonical(g.apply(st)) == c


def explore_states(ir, n):
    from kubecheck.pycompile import compile_successors
    from kubecheck.evaluate import Evaluator
    fast = compile_successors(ir)
    seen = list(Evaluator(ir).initial_states())
    known = set(seen)
    i = 0
    while i < len(seen) and len(seen) < n:
        for _, t in fast.generate(seen[i]):
            if t not in known:
                known.add(t)
                seen.append(t)
        i += 1
    return seen


def _declare(spec, *domains):
    cls = load_model(spec)
    return type(cls.__name__, (cls,), {"symmetric": domains, "__module__": cls.__module__, "name": cls.model_name()})


def test_a_property_that_names_one_process_refuses_symmetry():
    with pytest.raises(SpecError) as err:
        explore(_declare("mutex", "process")().ir, Options(symmetry=True))
    assert str(err.value) == (
        "spec/examples/mutex.py:95: symmetry over `process` would be unsound: property `process1_enters` changes "
        "under renaming process1 to process2 and process2 to process1. Symmetry needs every process to be treated "
        "alike (compared only for equality, used as an index or a parameter, quantified over); name no process in "
        "particular, or remove `process` from the model's `symmetric` domains (or drop --symmetry).")


def test_a_kube_proxy_on_the_first_node_only_refuses_node_symmetry():
    with pytest.raises(SpecError) as err:
        Symmetry(_declare("endpoints", "node")(pod_slots=1).ir)
    assert str(err.value).startswith(
        "spec/kubeproxy.py:73: symmetry over `node` would be unsound: action `kube_proxy_sync_rules` "
        "requires (node == node1), which renaming node1 to node2 and node2 to node1 changes.")


class FirstSlotStartsFull(Model):
    """Slots, the first of which starts full: not symmetric, whatever the actions do."""

    name = "first-slot-starts-full"
    slots = Constant(2, "slots")
    Slots = Domain("slot", size=slots)
    symmetric = (Slots,)
    level = Var(Array(Slots, Int(0, 1)), init=lambda slot: 1 if slot == 0 else 0)   # each slot's fill level

    @action(slot=Slots)
    def drain(self, s, slot):
        require(s.level[slot] == 1)
        s.level[slot] = 0

    @always
    def levels_in_range(self, s):
        return all_of(self.Slots, lambda k: s.level[k] >= 0)


def test_asymmetric_initial_values_refuse_symmetry():
    with pytest.raises(SpecError) as err:
        Symmetry(FirstSlotStartsFull().ir)
    assert str(err.value).startswith(
        "tests/test_symmetry.py:121: symmetry over `slot` would be unsound: `level` starts differently for slot1 "
        "and slot2.")


def test_a_domain_the_model_does_not_have_is_refused_when_traced():
    with pytest.raises(SpecError) as err:
        _declare("replicaset-anchor", "container")().ir
    assert str(err.value).endswith("`symmetric` names 'container', which is not a domain of model "
                                   "`replicaset-anchor`; its domains are: pod, node.")


def test_symmetry_on_a_model_without_symmetric_domains_is_refused(capsys):
    assert main(["check", "mutex", "--symmetry"]) == 2
    err = capsys.readouterr().err
    assert "model `mutex` declares no symmetric domains, so there is nothing to reduce; declare them on the model " \
           "class (`symmetric = (Pods,)`), or drop --symmetry." in err


def test_the_report_names_the_domains_and_the_json_carries_them(capsys):
    assert main(["check", "replicaset-anchor", "--symmetry", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "symmetry  pod, node (12 renamings)" in out
    assert "states    2,727 distinct, 11,530 total, one per orbit" in out
    assert main(["check", "replicaset-anchor", "--symmetry", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["symmetry"] == {"domains": ["pod", "node"], "renamings": 12}


@pytest.mark.parametrize("spec", ["replicaset-anchor", "cluster"])
def test_the_batch_canonical_form_equals_the_one_state_form(spec):
    import numpy as np
    config = {} if spec == "replicaset-anchor" else {"replicas": 1, "pod_slots": 2, "node_crashes": 0,
                                                     "watch_disconnects": 0}
    ir = load_model(spec)(**config).ir
    sym = Symmetry(ir)
    states = explore_states(ir, 3000)
    rows = np.array(states, dtype=np.int16)
    assert [tuple(r) for r in sym.canonical_rows(rows).tolist()] == [sym.canonical(st) for st in states]
    # Not vacuous: some of these states are not their own representative.
    assert sum(sym.canonical(st) != st for st in states) > 100
