"""The symbolic engine (kubecheck.symbolic, kubecheck.z3encode): BMC agrees with BFS on the shortest
counterexample, k-induction and per-action proofs prove what they should, and their counterexamples to
induction are exact.

The slow cases (marked ``slow``; CI runs them) record what they took on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import z3

from kubecheck import (ConfigError, Int, Model, ModelRuntimeError, Queue, Var, action, always, require,
                       sum_of)
from kubecheck.cli import main
from kubecheck.explicit import Options, explore
from kubecheck.canonical import absent_defaults
from kubecheck.replay import replay
from kubecheck.spec.controllers.replicaset import ReplicaSetModel
from kubecheck.spec.deployment_model import DeploymentModel
from kubecheck.spec.endpoints_model import EndpointsModel
from kubecheck.spec.examples.two_phase import TwoPhaseCommit
from kubecheck.spec.scheduling_model import SchedulingModel
from kubecheck.spec.examples.water_jugs import WaterJugs
from kubecheck.spec.replicaset_anchor import ReplicaSetAnchor
from kubecheck.evaluate import Evaluator
from kubecheck.symbolic import _commuting_actions, _Path, action_proofs, bmc, k_induction
from kubecheck.z3encode import Encoder, decode_state, fresh_state, seeded_context, seeded_solver

sys.path.insert(0, str(Path(__file__).parent))
import test_spec_cluster as cluster  # noqa: E402
import test_spec_deployment as deployment  # noqa: E402
import test_spec_endpoints as endpoints  # noqa: E402
import test_spec_leader as leader  # noqa: E402
import test_spec_namespace as namespace  # noqa: E402
import test_spec_node as node  # noqa: E402
import test_spec_replicaset as replicaset  # noqa: E402
import test_spec_scheduler as scheduler  # noqa: E402
from test_spec_errors import UnguardedRead  # noqa: E402

HERE = Path(__file__).resolve()


# ---- BMC finds exactly the shortest counterexample BFS finds ---------------------------------

LONG = pytest.mark.skipif(not os.environ.get("KUBECHECK_LONG"),
                          reason="longer than CI's budget, or not measured yet: set KUBECHECK_LONG=1 to run it")


def _case(variant, config, prop, length, seconds=None):
    """One broken model: BMC to the BFS length must find a counterexample of that length. ``seconds``: what it
    took when measured (a case slower than 15 s is marked slow; one slower than 60 s, or not measured, runs only
    with KUBECHECK_LONG=1, so that CI keeps to its budget; bench/bmc_runs.py records them all in
    docs/performance.md)."""
    marks = [] if seconds is not None and seconds <= 15 else [pytest.mark.slow]
    if seconds is None or seconds > 60:
        marks.append(LONG)
    config_id = "".join(f"-{k}={v}" for k, v in config.items())
    return pytest.param(variant, config, prop, length, marks=marks, id=f"{variant.__name__}-{prop}{config_id}")


# Measured BMC seconds (2 cores; bench/bmc_runs.py, which records them in docs/performance.md), by
# (variant, property), or by variant where it breaks one property here.
SECONDS = {
    "SchedulerIgnoresTaints": 0.5, "SchedulerIgnoresNodeAffinity": 0.5, "SchedulerIgnoresResources": 2.2,
    "SchedulerWithoutAssumeCache": 2.1, "SchedulerIgnoresAntiAffinity": 2.3, "KubeletWithoutAdmission": 5.4,
    "KubeletForgetsRefusals": 0.7, "KubeletRemovesWithoutStopping-pods_run_where_bound": 4.4,
    "KubeletRemovesWithoutStopping-pod_runs_on_one_node": 34.3, "ApiServerIgnoresResourceVersion": 0.9,
    "SchedulerWritesTheStore": 0.4, "ApiServerSkipsValidation": 0.2, "ControllerMarksFreshNodes": 0.2,
    "ControllerUntaintsNotReadyNodes": 1.4, "ControllerEvictsFromUntaintedNodes": 0.4,
    "ControllerWritesTheStore": 0.4, "KubeletRunsOnCrashedNodes": 0.9, "SchedulerBindsToNotReadyNodes": 2.1,
    "ApiServerForceDeletesEvictedPods": 19.0, "ControllersWithoutLeaderElection": 1.6,
    "HealthyLeaseExpires": 86.4, "ReplicaSetSyncIgnoresExpectations": 172.4,
    "LeaseExpiresUnderItsLeader": 0.4, "NoResourceVersionCheck": 0.2, "LateAnswerKept": 0.4,
    "ImpatientCandidate": 0.2, "WithoutExpectations": 1.5, "ReplicaSetModel": 2.7, "IgnoresMaxSurge": 7.4,
    "IgnoresMaxUnavailable": 37.1, "RemovesWithFinalizer-finalized_namespace_is_empty": 3.4,
    "RemovesWithFinalizer-namespace_not_gone_while_contents_remain": 0.4,
    "RemovesWithFinalizer-active_namespace_keeps_finalizer": 0.8,
    "AdmitsIntoTerminating-finalized_namespace_is_empty": 0.7,
    "AdmitsIntoTerminating-namespace_not_gone_while_contents_remain": 0.8,
    "FinalizesOnCache-finalized_namespace_is_empty": 0.7,
    "FinalizesOnCache-namespace_not_gone_while_contents_remain": 0.9, "TokenOnlyWithAccount": 13.6,
    "QueuesOnlyNewlyReadyPods": 0.3, "WithoutStalenessCheck": 0.4, "EndpointsModel": 0.4,
    "ReplicaSetAnchor": 0.8, "WaterJugs": 0.1, "DeploymentModel": 2990.8,
}


def _seconds(variant, prop):
    return SECONDS.get(f"{variant.__name__}-{prop}", SECONDS.get(variant.__name__))


# (model class, configuration, property, BFS's shortest length) beyond the spec tests' pinned traces.
MEASURED = [
    (replicaset.WithoutExpectations, {}, "replicas_within_bounds", 13),
    (ReplicaSetModel, {"expectation_timeouts": 1}, "replicas_within_bounds", 14),
    (deployment.IgnoresMaxSurge, deployment.NO_SCALE, "scale_ups_within_surge_as_seen", 13),
    (deployment.IgnoresMaxUnavailable, deployment.NO_SCALE, "scale_downs_keep_availability_as_seen", 18),
    (DeploymentModel, {}, "availability_kept", 24),
    (namespace.RemovesWithFinalizer, {}, "finalized_namespace_is_empty", 14),
    (namespace.RemovesWithFinalizer, {}, namespace.NOT_GONE, 7),
    (namespace.RemovesWithFinalizer, {}, "active_namespace_keeps_finalizer", 10),
    (namespace.AdmitsIntoTerminating, {}, "finalized_namespace_is_empty", 9),
    (namespace.AdmitsIntoTerminating, {}, namespace.NOT_GONE, 10),
    (namespace.FinalizesOnCache, {}, "finalized_namespace_is_empty", 9),
    (namespace.FinalizesOnCache, {}, namespace.NOT_GONE, 10),
    (namespace.TokenOnlyWithAccount, {}, "active_token_only_with_account", 18),
    (endpoints.QueuesOnlyNewlyReadyPods, {}, endpoints.CAUGHT_UP, 9),
    (endpoints.WithoutStalenessCheck, {}, endpoints.CAUGHT_UP, 10),
    (EndpointsModel, {}, "traffic_reaches_only_ready_pods", 10),
]

BROKEN = (
    [_case(v, c, p, len(t), _seconds(v, p)) for v, c, p, t in scheduler.VARIANTS]
    + [_case(v, c, p, len(t), _seconds(v, p)) for v, c, p, t in node.VARIANTS]
    + [_case(v, c, p, len(t), _seconds(v, p)) for v, c, p, t in cluster.VARIANTS]
    + [_case(v, {}, "one_leader", len(t), _seconds(v, "one_leader")) for v, t in leader.BROKEN.items()]
    + [_case(v, c, p, n, _seconds(v, p)) for v, c, p, n in MEASURED]
    + [_case(ReplicaSetAnchor, {}, "no_over_provision", 9, _seconds(ReplicaSetAnchor, "no_over_provision")),
       _case(WaterJugs, {}, "big_jug_never_4", 6, _seconds(WaterJugs, "big_jug_never_4"))]
)


@pytest.mark.parametrize("variant, config, prop, length", BROKEN)
def test_bmc_finds_a_counterexample_as_short_as_bfs(variant, config, prop, length):
    ir = variant(**config).ir
    if any(c is variant and p == prop for c, _, p, _ in MEASURED):    # not pinned by a spec test: BFS here
        assert explore(ir, Options(properties=(prop,), first=True)).properties[prop].counterexample.length == length
    one_short = bmc(ir, length - 1, [prop], spec_errors=False) if 1 < length <= 6 else None
    if one_short is not None:     # nothing shorter (checked where it is cheap)
        assert (one_short.properties[prop].counterexample, one_short.stopped_by, one_short.extra["bound"]) == \
            (None, "max_depth", length - 1)
    r = bmc(ir, length, [prop], spec_errors=False)
    found = r.properties[prop]
    assert (found.verdict, found.counterexample.length, r.stopped_by, r.extra["bound"]) == \
        ("violated", length, "complete", length)
    confirmed = replay(ir, found.counterexample)
    assert confirmed.ok and confirmed.violations[prop] == length


def test_bmc_decides_every_kind_it_can_on_the_anchor():
    ir = ReplicaSetAnchor().ir
    r = bmc(ir, 9, ["node_consistency", "no_over_provision", "replicaset_converges", "replicas_running"])
    assert {n: (p.verdict, p.note) for n, p in r.properties.items()} == {
        "node_consistency": ("unknown", "unknown up to depth 9"),
        "no_over_provision": ("violated", ""),
        "replicaset_converges": ("not_checked",
                                 "temporal: the symbolic engine does not check it; use kubecheck check --liveness"),
        "replicas_running": ("holds", "witness: 6 steps"),
    }
    assert (r.engine, r.stopped_by, r.extra["bound"], r.to_json()["bound"]) == ("symbolic", "max_depth", 9, 9)


def test_commuting_actions_are_those_that_touch_nothing_of_each_other():
    # Per pair of actions (the later one first), how many pairs of positions must differ for two of their
    # instances to commute: 0, always; 1, a resource manager's slot (the same rm: they conflict). Missing: never.
    ir = TwoPhaseCommit().ir
    names = [a.name for a in ir.actions]
    assert {names[k]: {names[b]: len(o) for b, o in row.items()} for k, row in enumerate(_commuting_actions(ir))} == {
        "tm_receive_prepared": {"tm_receive_prepared": 1},
        "tm_commit": {"tm_commit": 1},
        "tm_abort": {"tm_receive_prepared": 1, "tm_commit": 1, "tm_abort": 1},
        "rm_prepare": {"tm_receive_prepared": 1, "tm_commit": 0, "tm_abort": 0, "rm_prepare": 1},
        "rm_choose_to_abort": {"tm_receive_prepared": 0, "tm_commit": 0, "tm_abort": 0, "rm_prepare": 1,
                               "rm_choose_to_abort": 1},
        "rm_receive_commit": {"tm_receive_prepared": 0, "tm_commit": 1, "tm_abort": 0, "rm_prepare": 1,
                              "rm_choose_to_abort": 1, "rm_receive_commit": 1},
        "rm_receive_abort": {"tm_receive_prepared": 0, "tm_commit": 0, "tm_abort": 1, "rm_prepare": 1,
                             "rm_choose_to_abort": 1, "rm_receive_commit": 1, "rm_receive_abort": 1},
    }


@pytest.mark.parametrize("model", [TwoPhaseCommit, ReplicaSetAnchor, SchedulingModel], ids=lambda m: m.__name__)
def test_the_partial_order_reduction_keeps_every_state_at_every_depth(model):
    # The states at the end of BMC's reduced paths of d steps are exactly the states d steps reach (every path
    # of d steps, stuttering ones included), for every d up to 5: nothing is lost, and nothing is made up.
    ir = model().ir
    ev = Evaluator(ir)
    layer = set(ev.initial_states())
    enc = Encoder(ir, seeded_context())
    path = _Path(ir, enc, seeded_solver(enc.ctx), "s", commuting=_commuting_actions(ir))
    path.new_state()
    path.solver.add(enc.initial(path.states[0]))
    for depth in range(6):
        if depth:
            nxt = set()
            for st in layer:
                if all(ev.satisfies(c, st) for c in ir.constraints):
                    nxt |= {ev.apply(a, st, vals) for _, a, vals in ev.instances() if ev.enabled(a, st, vals)}
            layer = nxt
            path.solver.add(enc.constraints(path.states[-1]))
            path.step()
        last = path.states[-1]
        found = set()
        path.solver.push()
        while path.solver.check() == z3.sat:
            st = decode_state(path.solver.model(), last)
            found.add(st)
            path.solver.add(z3.Or(*[x != (bool(v) if z3.is_bool(x) else v) for x, v in zip(last, st)]))
        path.solver.pop()
        assert found == layer, depth


def test_bmc_is_deterministic():
    ir = WaterJugs().ir
    a, b = (bmc(ir, 6, ["big_jug_never_4"]).properties["big_jug_never_4"].counterexample for _ in range(2))
    assert a == b


def test_a_used_out_of_domain_read_is_a_spec_error_with_its_trace():
    ir = UnguardedRead().ir
    with pytest.raises(ModelRuntimeError) as e:
        bmc(ir, 2)
    assert "reads `up[node]` with node = none, outside the domain of `up` (node1..node2)" in str(e.value)
    assert [s.state for s in e.value.trace.steps] == [(-1, 1, 1, 0)]


# ---- k-induction ----------------------------------------------------------------------------------

def test_node_consistency_of_the_anchor_is_proved():
    ir = ReplicaSetAnchor().ir
    r = k_induction(ir, 4, "node_consistency")
    p = r.properties["node_consistency"]
    assert (p.verdict, p.note, r.stopped_by, r.extra["bound"]) == ("proved", "1-inductive", "complete", 1)
    # Not true by construction: a type-correct state violates it.
    enc = Encoder(ir, facts=absent_defaults(ir))     # the type invariant the proofs assume
    st = fresh_state(ir, "s")
    x = enc.holds(ir.property("node_consistency"), st)
    solver = z3.Solver()
    solver.add(enc.type_invariant(st), z3.Not(x.value))
    assert solver.check() == z3.sat


def test_k_induction_finds_a_violation_in_its_base_case():
    r = k_induction(WaterJugs().ir, 8, "big_jug_never_4")
    p = r.properties["big_jug_never_4"]
    assert (p.verdict, p.counterexample.length) == ("violated", 6)


class Twins(Model):
    """Two counters that always move together; ``y <= 1`` holds, but only because ``x`` stops at 1."""

    x = Var(Int(0, 3), init=0)
    y = Var(Int(0, 3), init=0)

    @action
    def step(self, s):
        require(s.x < 1)
        s.x = s.x + 1
        s.y = s.y + 1

    @always
    def y_at_most_1(self, s):
        return s.y <= 1


def test_a_true_invariant_that_is_not_inductive_has_a_counterexample_to_induction():
    ir = Twins().ir
    one = k_induction(ir, 1, "y_at_most_1")
    assert (one.properties["y_at_most_1"].verdict, one.stopped_by) == ("unknown", "max_depth")
    (cti,) = one.extra["cti"]["y_at_most_1"]
    pre, post = cti.steps
    assert post.action == "step"
    # The only way to break it in one step: y = 1 with x = 0, which no reachable state has. (x, y):
    assert [pre.state, post.state] == [(0, 1), (1, 2)]
    # Two states are enough: no state leads to (0, 1), since x never decreases.
    two = k_induction(ir, 3, "y_at_most_1")
    assert (two.properties["y_at_most_1"].verdict, two.properties["y_at_most_1"].note, two.extra["bound"]) \
        == ("proved", "2-inductive (k-induction, k = 2)", 2)


class TwinsWithLemmas(Twins):
    """Twins with a lemma that makes ``y_at_most_1`` 1-inductive (``y`` follows ``x``), and one that is false."""

    @always
    def y_follows_x(self, s):
        return s.y == s.x

    @always
    def x_stays_0(self, s):
        return s.x == 0


def test_a_lemma_makes_an_invariant_1_inductive_and_is_proved_with_it():
    ir = TwinsWithLemmas().ir
    r = k_induction(ir, 1, "y_at_most_1", lemmas=["y_follows_x"])
    assert {n: (p.verdict, p.note) for n, p in r.properties.items()} == {
        "y_at_most_1": ("proved", "proved by 1-induction with lemma y_follows_x"),
        "y_follows_x": ("proved", "proved by 1-induction as a lemma of y_at_most_1"),
    }
    assert (r.stopped_by, r.extra["lemmas"]) == ("complete", {"y_at_most_1": ["y_follows_x"]})
    # A false lemma is found violated by the base case and proves nothing.
    bad = k_induction(ir, 3, "y_at_most_1", lemmas=["y_follows_x", "x_stays_0"])
    assert {n: p.verdict for n, p in bad.properties.items()} == {
        "y_at_most_1": "unknown", "y_follows_x": "unknown", "x_stays_0": "violated"}
    assert bad.properties["x_stays_0"].counterexample.length == 1
    assert bad.properties["y_at_most_1"].note == ("unknown; lemma x_stays_0 is violated at depth 1, so it cannot "
                                                  "strengthen the proof")
    per_action = action_proofs(ir, "y_at_most_1", ["y_follows_x"])
    assert (per_action.properties["y_at_most_1"].verdict, per_action.properties["y_follows_x"].verdict) == \
        ("proved", "proved")
    with pytest.raises(ConfigError, match="has no property `nope`"):
        k_induction(ir, 1, "y_at_most_1", lemmas=["nope"])


def test_per_action_proof_shows_the_counterexample_to_induction():
    ir = Twins().ir
    r = action_proofs(ir, "y_at_most_1")
    p = r.properties["y_at_most_1"]
    assert (p.verdict, r.extra["actions"]) == ("unknown", {"y_at_most_1": {"step": "cti"}})
    assert p.note == "not inductive: a counterexample to induction for 1 of 1 actions (step)"
    (cti,) = r.extra["cti"]["y_at_most_1"]
    assert [(st.action, st.state) for st in cti.steps] == [(None, (0, 1)), ("step", (1, 2))]
    assert not replay(ir, cti).ok        # its pre state is not reachable (not even initial)


def test_per_action_proof_of_an_inductive_invariant():
    r = action_proofs(ReplicaSetAnchor().ir, "node_consistency")
    assert r.properties["node_consistency"].verdict == "proved"
    assert set(r.extra["actions"]["node_consistency"].values()) == {"preserves"}


class QueueSum(Model):
    """A queue of numbers and a running total of what it holds: the total is the sum over every slot, which
    holds only because the slots past the queue's length are zero (canonical form)."""

    q = Var(Queue(Int(0, 3), 2))
    total = Var(Int(0, 6), init=0)

    @action(v=Int(1, 3))
    def push(self, s, v):
        require(~s.q.is_full)
        s.q.push(v)
        s.total = s.total + v

    @action
    def pop(self, s):
        require(~s.q.is_empty)
        s.total = s.total - s.q.pop()

    @always
    def total_is_the_sum_of_the_slots(self, s):
        return s.total == sum_of(Int(0, 1), lambda k: s.q[k])


def test_canonical_form_removes_the_spurious_counterexample_to_induction():
    ir = QueueSum().ir
    assert k_induction(ir, 1, "total_is_the_sum_of_the_slots").properties[
        "total_is_the_sum_of_the_slots"].verdict == "proved"
    garbage = k_induction(ir, 1, "total_is_the_sum_of_the_slots", canonical=False)
    assert garbage.properties["total_is_the_sum_of_the_slots"].verdict == "unknown"
    (cti,) = garbage.extra["cti"]["total_is_the_sum_of_the_slots"]
    # (length, slot0, slot1, total): slot 1, past the length, holds a leftover 1 that the sum counts; the push
    # overwrites it with 2 and adds 2 to the total, so the sum (2) falls behind the total (3). Exact: each run has
    # its own Z3 context, so the CTI does not depend on what ran before it in the process.
    assert [(st.action, st.params, st.state) for st in cti.steps] == [
        (None, (), (1, 0, 1, 1)), ("push", (("v", 2),), (2, 0, 2, 3))]


def test_a_run_does_not_depend_on_earlier_runs_in_the_process():
    def cti():
        r = k_induction(QueueSum().ir, 1, "total_is_the_sum_of_the_slots", canonical=False)
        return r.extra["cti"]["total_is_the_sum_of_the_slots"]

    first = cti()
    bmc(WaterJugs().ir, 6)                                  # fills Z3's main context, were it shared
    k_induction(ReplicaSetAnchor().ir, 2, "node_consistency")
    assert cti() == first


def test_bad_requests_are_config_errors():
    ir = ReplicaSetAnchor().ir
    with pytest.raises(ConfigError, match="has no property `nope`"):
        bmc(ir, 3, ["nope"])
    with pytest.raises(ConfigError, match="the BMC depth must be a positive number of steps; got 0"):
        bmc(ir, 0)
    with pytest.raises(ConfigError, match="`sometimes` property, and k-induction proves invariants"):
        k_induction(ir, 2, "replicas_running")


# ---- strengthening: one_leader of the leader election, proved with lemmas ---------------------------

LEMMAS = ["leader_holds_lease", "lease_handshake_consistent"]


def _type_correct_violation(ir, prop):
    enc = Encoder(ir, facts=absent_defaults(ir))     # the type invariant the proofs assume
    st = fresh_state(ir, "s")
    solver = z3.Solver()
    solver.add(enc.type_invariant(st), z3.Not(enc.holds(ir.property(prop), st).value))
    return solver.check()


def test_one_leader_is_not_inductive_alone_and_is_proved_with_lemmas():
    # A real Kubernetes property (spec/leader.py, model leader-election): at most one replica of each role leads.
    from kubecheck.spec.leader_model import LeaderElectionModel
    ir = LeaderElectionModel().ir
    # (a) Not true by construction: a type-correct state has two leaders.
    assert _type_correct_violation(ir, "one_leader") == z3.sat
    # (b) Not 1-inductive alone: a state where one replica leads while another holds an OK for the same Lease
    # (type-correct, unreachable) reaches two leaders when the other reads its OK.
    alone = k_induction(ir, 1, "one_leader")
    assert (alone.properties["one_leader"].verdict, alone.properties["one_leader"].note) == \
        ("unknown", "unknown: not 1-inductive; no violation up to depth 0")
    (cti,) = alone.extra["cti"]["one_leader"]
    assert ([st.action for st in cti.steps], cti.violation) == ([None, "elector_take_lease"], "one_leader")
    assert not replay(ir, cti).ok
    per_action = action_proofs(ir, "one_leader")
    assert {a for a, v in per_action.extra["actions"]["one_leader"].items() if v == "cti"} == {"elector_take_lease"}
    # Neither lemma is inductive alone either.
    for lemma, action_ in (("leader_holds_lease", "apiserver_update_lease"),
                           ("lease_handshake_consistent", "elector_request_lease")):
        r = k_induction(ir, 1, lemma)
        assert r.properties[lemma].verdict == "unknown"
        assert [st.action for st in r.extra["cti"][lemma][0].steps] == [None, action_]
    # (c) 1-inductive jointly with the two lemmas: all three are proved, for every depth.
    r = k_induction(ir, 1, "one_leader", lemmas=LEMMAS)
    assert {n: (p.verdict, p.note) for n, p in r.properties.items()} == {
        "one_leader": ("proved", "proved by 1-induction with lemmas leader_holds_lease, lease_handshake_consistent"),
        "leader_holds_lease": ("proved", "proved by 1-induction as a lemma of one_leader "
                                         "(jointly with lease_handshake_consistent)"),
        "lease_handshake_consistent": ("proved", "proved by 1-induction as a lemma of one_leader "
                                                 "(jointly with leader_holds_lease)"),
    }
    assert (r.stopped_by, r.extra["bound"]) == ("complete", 1)
    # One lemma is not enough: the CTI then breaks the other one.
    weak = k_induction(ir, 1, "one_leader", lemmas=["leader_holds_lease"])
    assert weak.properties["one_leader"].verdict == "unknown"
    assert k_induction(ir, 1, "one_leader", lemmas="all").properties["one_leader"].verdict == "proved"
    assert action_proofs(ir, "one_leader", LEMMAS).properties["one_leader"].verdict == "proved"


def test_prove_with_lemmas_and_jointly(capsys):
    base = ["leader-election", "--property", "one_leader", "--induction", "1", "--depth", "1"]
    code, out, _ = _prove(capsys, *base, "--json")
    assert (code, json.loads(out)["properties"]["one_leader"]["verdict"]) == (3, "unknown")
    lemmas = [a for n in LEMMAS for a in ("--lemma", n)]
    code, out, _ = _prove(capsys, *base, *lemmas, "--json")
    doc = json.loads(out)
    assert (code, doc["stopped_by"]) == (0, "complete")
    assert {n: p["verdict"] for n, p in doc["properties"].items()} == dict.fromkeys(["one_leader"] + LEMMAS, "proved")
    code, out, _ = _prove(capsys, *base, *lemmas)
    assert code == 0 and "proved by 1-induction with lemmas leader_holds_lease, lease_handshake_consistent" in out
    code, out, _ = _prove(capsys, "leader-election", "--jointly", "--induction", "1", "--depth", "1", "--json")
    doc = json.loads(out)
    assert (code, {n: p["verdict"] for n, p in doc["properties"].items()}) == \
        (0, dict.fromkeys(["one_leader"] + LEMMAS, "proved"))
    code, out, _ = _prove(capsys, "leader-election", "--jointly", "--per-action", "--depth", "1", "--json")
    assert (code, {n: p["verdict"] for n, p in json.loads(out)["properties"].items()}) == \
        (0, dict.fromkeys(["one_leader"] + LEMMAS, "proved"))
    code, _, err = _prove(capsys, *base, "--lemma", "leader_elected")
    assert code == 2 and "`sometimes` property" in err


# ---- kubecheck prove -----------------------------------------------------------------------------

def _prove(capsys, *argv):
    code = main(["prove", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prove_exit_codes_and_json(capsys):
    code, out, _ = _prove(capsys, "replicaset-anchor", "--property", "node_consistency", "--depth", "2", "--json")
    doc = json.loads(out)
    assert (code, doc["engine"], doc["bound"], doc["stopped_by"]) == (0, "symbolic", 2, "complete")
    assert doc["properties"]["node_consistency"] == {"verdict": "proved", "counterexample": None}
    assert doc["canonical"] == ["status[pod] == ABSENT => node[pod] == none"]
    code, out, _ = _prove(capsys, "water-jugs", "--property", "big_jug_never_4", "--depth", "6", "--json")
    doc = json.loads(out)
    assert doc["canonical"] is None     # BMC alone assumes nothing
    assert (code, doc["properties"]["big_jug_never_4"]["verdict"]) == (1, "violated")
    assert doc["properties"]["big_jug_never_4"]["counterexample"]["length"] == 6
    code, out, _ = _prove(capsys, "water-jugs", "--property", "big_jug_never_4", "--depth", "3", "--induction", "1",
                          "--json")
    doc = json.loads(out)
    assert (code, doc["properties"]["big_jug_never_4"]["verdict"], doc["bound"]) == (3, "unknown", 3)
    code, _, err = _prove(capsys, "water-jugs", "--property", "nope")
    assert code == 2 and "has no property `nope`" in err
    code, _, err = _prove(capsys, "water-jugs", "--depth", "0")
    assert code == 2 and "--depth: must be positive; got 0" in err


def test_prove_per_action_shows_the_counterexample_to_induction(capsys):
    code, out, _ = _prove(capsys, f"{HERE}:Twins", "--property", "y_at_most_1", "--per-action", "--depth", "3")
    assert code == 3
    assert "Counterexample to induction: y_at_most_1 (step breaks it)" in out
    assert "(any state where y_at_most_1 holds)" in out
    assert "y: 1 -> 2" in out
    assert "not inductive: a counterexample to induction for 1 of 1 actions (step)" in out


@pytest.mark.parametrize("prop", ["node_cpu_never_overcommitted"])
def test_scheduling_resource_invariants_are_proved(prop):
    # Real Kubernetes properties (spec/scheduling_model.py), 1-inductive, and not true by construction.
    ir = SchedulingModel().ir
    r = k_induction(ir, 2, prop)
    assert (r.properties[prop].verdict, r.properties[prop].note) == ("proved", "1-inductive")
    enc = Encoder(ir, facts=absent_defaults(ir))     # the type invariant the proofs assume
    st = fresh_state(ir, "s")
    solver = z3.Solver()
    solver.add(enc.type_invariant(st), z3.Not(enc.holds(ir.property(prop), st).value))
    assert solver.check() == z3.sat
