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

from kubecheck import NONE, Model, any_of, converges, sometimes

from .leader import LeaderElection

__all__ = ["LeaderElectionModel"]


class LeaderElectionModel(LeaderElection, Model):
    """HA masters: lease-based leader election among the replicas of each role."""

    name = "leader-election"
    symmetric = ("replica",)    # the replicas of a role are interchangeable (--symmetry)

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
