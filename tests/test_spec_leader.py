"""The leader-election model: pinned figures, and each guard of ``one_leader`` shown to matter.

The default configuration (two roles, two replicas each, one lost renewal) is checked on
the default engine and on the reference evaluator, which must agree on all of it. Each
broken variant below is the model with one action (or, for the resourceVersion check, the
write's refusal of the other updates) overridden, one guard removed or one update
dropped. Each is pinned with the exact shortest counterexample to ``one_leader``.

With liveness, both engines find that ``leader_converges`` holds at the default
configuration; a leader that steps down while its Lease is fresh keeps every safety
property and makes leadership flap for ever, and that lasso is pinned.
"""

from __future__ import annotations

import pytest

from kubecheck import ConfigError, action, require
from kubecheck.spec.leader import LeaseAge, LeaseStore, LeaseUpdate, Role
from kubecheck.spec.leader_model import LeaderElectionModel
from kubecheck.spec.objects import Response
from liveness_checks import check
from test_examples import counts, run_both

Replicas = LeaseStore.Replicas

DEFAULT_VERDICTS = {
    "single_writer_etcd": "proved",
    "one_leader": "holds",
    "leader_holds_lease": "holds",
    "acts_only_while_holding_lease": "holds",
    "leader_elected": "holds",
    "leadership_changed_hands": "holds",
    "leader_converges": "not_checked",
    "lease_handshake_consistent": "holds",     # the lemma that makes one_leader inductive (tests/test_symbolic.py)
}


def cm(action_name: str, replica: int | None = None) -> str:
    """The label of a controller-manager step, as ``trace.labels(ir)`` writes it."""
    if replica is None:
        return f"{action_name}(role=CONTROLLER_MANAGER)"
    return f"{action_name}(role=CONTROLLER_MANAGER, replica=replica{replica})"


def test_default_configuration():
    _, s = run_both(LeaderElectionModel().checker())
    assert counts(s) == ("complete", 6_928, 34_049, 22)
    assert s["verdicts"] == DEFAULT_VERDICTS
    assert s["counterexamples"] == {}
    assert s["notes"] == {"single_writer_etcd": "proved for every state, before exploring: only apiserver actions write its 4 variables", 
                          "leader_elected": "witness: 6 steps", "leadership_changed_hands": "witness: 10 steps",
                          "leader_converges": "temporal: checked with --liveness"}
    # Every action fires. A 409 has no step of its own: a write refuses every other update in flight.
    assert s["coverage"] == [
        ("apiserver_update_lease", 8_576, 770),
        ("elector_request_lease", 8_576, 2_333),
        ("elector_take_lease", 2_112, 236),
        ("elector_step_down", 2_112, 408),
        ("leader_act", 5_280, 144),
        ("clock_pass_renew_deadline", 4_224, 1_052),
        ("clock_expire_lease", 2_112, 1_320),
        ("fault_lose_renewal", 1_056, 664),
    ]
    assert s["warnings"] == ["property `leader_converges` (converges) is temporal; it is checked with --liveness, so it "
        "was not checked."]
    assert s["exit_code"] == 3   # a property left unchecked is not a pass


class ControllerManagerOnly(LeaderElectionModel):
    """One role: only kube-controller-manager elects a leader."""

    name = "leader-election-controller-manager"
    roles = (Role.CONTROLLER_MANAGER,)


def test_one_role_and_more_replicas():
    r = ControllerManagerOnly().checker().run()
    assert (r.distinct_states, r.total_states, r.depth) == (148, 369, 16)
    assert {n: p.verdict for n, p in r.properties.items()} == DEFAULT_VERDICTS
    r = ControllerManagerOnly(replicas_per_role=3, lease_losses=2).checker().run()
    assert (r.distinct_states, r.total_states, r.depth) == (584, 1_693, 19)
    assert {n: p.verdict for n, p in r.properties.items()} == DEFAULT_VERDICTS


# ---- broken variants: each removes one thing that one_leader rests on ----

class LeaseExpiresUnderItsLeader(LeaderElectionModel):
    """The Lease may expire while its leader still leads.

    The leader does not step down in time. Its process is paused past LeaseDuration −
    RenewDeadline, or its renew deadline is not shorter than the lease duration, a
    configuration that NewLeaderElector refuses.
    """

    name = "leader-election-no-timely-step-down"

    @action(role=Role, kind="environment")
    def clock_expire_lease(self, s, role):
        require(s.lease_age[role] == LeaseAge.PAST_RENEW_DEADLINE)
        s.lease_age[role] = LeaseAge.EXPIRED


class NoResourceVersionCheck(LeaderElectionModel):
    """The API server stores a Lease update even when the Lease changed after the client read it."""

    name = "leader-election-no-optimistic-concurrency"

    def settle_other_updates(self, s, role, replica):
        """Only the written update leaves the flight; every other one stays, to be stored over this write later."""
        s.lease_updates[role][replica] = LeaseUpdate.NONE


class LateAnswerKept(LeaderElectionModel):
    """The client has no timeout: an OK that arrives after the renew deadline still counts (#44887)."""

    name = "leader-election-late-answer"

    @action(role=Role, kind="environment")
    def clock_pass_renew_deadline(self, s, role):
        require(s.lease_age[role] == LeaseAge.FRESH)
        s.lease_age[role] = LeaseAge.PAST_RENEW_DEADLINE


class ImpatientCandidate(LeaderElectionModel):
    """A candidate takes the Lease without waiting for it to expire."""

    name = "leader-election-impatient-candidate"

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_request_lease(self, s, role, replica):
        require(s.lease_updates[role][replica] == LeaseUpdate.NONE)
        require(s.lease_responses[role][replica] == Response.NONE)
        s.lease_updates[role][replica] = LeaseUpdate.CURRENT


BROKEN = {
    # replica1 leads; its renew deadline and then its lease duration pass while it still
    # leads; replica2 takes the expired Lease.
    LeaseExpiresUnderItsLeader: [
        cm("elector_request_lease", 1), cm("apiserver_update_lease", 1), cm("elector_take_lease", 1),
        cm("clock_pass_renew_deadline"), cm("clock_expire_lease"),
        cm("elector_request_lease", 2), cm("apiserver_update_lease", 2), cm("elector_take_lease", 2),
    ],
    # Both replicas read the free Lease, and both updates are stored, the second over the first.
    NoResourceVersionCheck: [
        cm("elector_request_lease", 1), cm("elector_request_lease", 2),
        cm("apiserver_update_lease", 1), cm("apiserver_update_lease", 2),
        cm("elector_take_lease", 1), cm("elector_take_lease", 2),
    ],
    # replica1's update is stored, but its OK is still on the way when the Lease expires;
    # replica2 takes the expired Lease, and then replica1's late OK counts too.
    LateAnswerKept: [
        cm("elector_request_lease", 1), cm("apiserver_update_lease", 1),
        cm("clock_pass_renew_deadline"), cm("clock_expire_lease"),
        cm("elector_request_lease", 2), cm("apiserver_update_lease", 2),
        cm("elector_take_lease", 1), cm("elector_take_lease", 2),
    ],
    # replica2 sends its update while replica1's Lease is fresh, and it is stored.
    ImpatientCandidate: [
        cm("elector_request_lease", 1), cm("apiserver_update_lease", 1),
        cm("elector_request_lease", 2), cm("apiserver_update_lease", 2),
        cm("elector_take_lease", 1), cm("elector_take_lease", 2),
    ],
}


@pytest.mark.parametrize("variant", list(BROKEN), ids=lambda v: v.model_name())
def test_each_broken_variant_makes_two_leaders(variant):
    # BFS stops at the first level that violates one_leader, so the trace is a shortest one.
    model = variant()
    r = model.checker().properties("one_leader").first().run()
    assert r.properties["one_leader"].verdict == "violated"
    trace = r.properties["one_leader"].counterexample
    assert trace.length == len(BROKEN[variant])
    assert trace.labels(model.ir) == BROKEN[variant]


def test_a_leader_paused_past_its_lease_acts_on_an_expired_lease():
    # The first broken variant, seen through acting: replica1 acts after its Lease expired.
    model = LeaseExpiresUnderItsLeader()
    r = model.checker().properties("acts_only_while_holding_lease").first().run()
    assert r.properties["acts_only_while_holding_lease"].counterexample.labels(model.ir) == [
        cm("elector_request_lease", 1), cm("apiserver_update_lease", 1), cm("elector_take_lease", 1),
        cm("clock_pass_renew_deadline"), cm("clock_expire_lease"), cm("leader_act", 1),
    ]


# ---- convergence (liveness) ----

def test_default_configuration_converges():
    result, s = check(LeaderElectionModel())
    assert s["counts"] == ("complete", 6_928, 34_049, 22)
    assert s["verdicts"] == dict(DEFAULT_VERDICTS, leader_converges="holds")
    assert s["lassos"] == {}
    assert s["warnings"] == []
    assert result.exit_code() == 0   # every property decided, and none violated


class LeaderStepsDownWhileFresh(ControllerManagerOnly):
    """A leader steps down while its Lease is still fresh, before its renew deadline has passed."""

    name = "leader-election-steps-down-while-fresh"

    @action(role=Role, replica=Replicas, fairness="weak")
    def elector_step_down(self, s, role, replica):
        require(s.leading[role][replica])
        s.leading[role][replica] = False


def test_a_leader_that_steps_down_while_its_lease_is_fresh_never_settles():
    _, s = check(LeaderStepsDownWhileFresh())
    assert s["counts"] == ("complete", 172, 453, 16)
    # Stepping down early is safe, so only convergence notices.
    assert s["verdicts"] == dict(DEFAULT_VERDICTS, leader_converges="violated")
    # replica1 takes the Lease, then renews it; with the renewal's OK on its way it steps down although
    # the Lease is fresh, and the OK makes it leader again: leadership flaps for ever, with no fault and no tick.
    assert s["lassos"] == {"leader_converges": (
        [cm("elector_request_lease", 1), cm("apiserver_update_lease", 1), cm("elector_take_lease", 1),
         cm("elector_request_lease", 1), cm("apiserver_update_lease", 1)], 2, cm("elector_step_down", 1))}
    assert s["warnings"] == []


@pytest.mark.parametrize("config, message", [
    ({"replicas_per_role": 0}, "config key `replicas_per_role` of model `leader-election` must be at least 1 "
                               "(replicas of each component that elects a leader); got 0."),
    ({"lease_losses": -1}, "config key `lease_losses` of model `leader-election` must be at least 0 (budget of "
                           "lost lease renewals (fault: leader lease loss)); got -1."),
])
def test_bad_configurations_are_refused_before_exploring(config, message):
    with pytest.raises(ConfigError) as e:
        LeaderElectionModel(**config)
    assert str(e.value) == message
