"""The leader-election model: HA controller managers and schedulers compete for their Leases.

This model checks ``leader.py`` on its own. Two replicas of kube-controller-manager and
two of kube-scheduler each elect a leader through the API server. Each Lease ages on the
abstract clock, and at most one renewal is lost (``lease_losses=1``).

Model ``leader-election``, checked exhaustively: 6,928 distinct states, 34,049
generated, depth 22. ``one_leader`` holds: at no time do two replicas of a role believe
they lead. Nor does a replica ever act without holding its role's Lease, unexpired. Each
of these rests on a single guard, and ``tests/test_spec_leader.py`` shows them failing,
with exact counterexamples, when:

- the Lease may expire while its leader still leads: a leader that does not step down
  in time, a long pause, or a renew deadline not shorter than the lease duration;
- the API server ignores the resourceVersion precondition;
- a client keeps an OK that arrives after its renew deadline;
- a candidate takes a Lease that has not expired.

Convergence (every role ends up with a leader once faults and the clock stop) holds
(``--liveness``); a leader that steps down while its Lease is still fresh breaks it
(tests/test_spec_leader.py pins the lasso).
"""

from __future__ import annotations

from kubecheck import NONE, Model, all_of, always, any_of, converges, sometimes

from .leader import LeaderElection, LeaseAge, LeaseUpdate, Role
from .objects import Response

__all__ = ["LeaderElectionModel"]


class LeaderElectionModel(LeaderElection, Model):
    """HA masters: lease-based leader election among the replicas of each role."""

    name = "leader-election"
    symmetric = ("replica",)    # the replicas of a role are interchangeable (--symmetry)

    @always
    def lease_handshake_consistent(self, s):
        """The handshake agrees with the stored Lease. A replica whose update was answered OK (and that has not yet
        read the OK) is the holder of a FRESH Lease, and no update is in flight: the write refused every other
        one, and nobody else may send while the Lease is FRESH. While a replica leads, its Lease has not expired,
        and no other replica's update is in flight.

        This is the lemma that makes ``one_leader`` provable by induction: ``one_leader`` alone is not
        inductive (a state where a replica leads while another one holds an OK for the same Lease is
        type-correct but unreachable), and it is 1-inductive jointly with ``leader_holds_lease`` and this
        property (``kubecheck prove leader-election --property one_leader --lemma leader_holds_lease
        --lemma lease_handshake_consistent --induction 1``)."""
        return all_of(Role, lambda r: all_of(self.Replicas, lambda i: (
            (s.lease_responses[r][i] == Response.OK).implies(
                (s.etcd_lease_holder[r] == i) & (s.lease_age[r] == LeaseAge.FRESH)
                & all_of(self.Replicas, lambda j: s.lease_updates[r][j] == LeaseUpdate.NONE))
            & s.leading[r][i].implies(
                (s.lease_age[r] != LeaseAge.EXPIRED)
                & all_of(self.Replicas, lambda j: (j == i) | (s.lease_updates[r][j] == LeaseUpdate.NONE))))))

    @sometimes
    def leader_elected(self, s):
        """Every role has a leader (so the model is not vacuous)."""
        return self.every_role_led(s)

    @sometimes
    def leadership_changed_hands(self, s):
        """A replica leads after another one acted: leadership has passed from one replica to another."""
        acted = s.last_act.replica
        return (acted != NONE) & any_of(self.Replicas, lambda i: (i != acted) & s.leading[s.last_act.role][i])

    @converges
    def leader_converges(self, s):
        """Once faults and the clock stop, every role ends up with a leader for good."""
        return True, self.every_role_led(s)
